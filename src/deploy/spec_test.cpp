#include "deploy/spec.hpp"

#include <gtest/gtest.h>

namespace deploy {
namespace {

TEST(spec, the_embedded_defaults_parse_to_the_defaults) {
  const auto r = parse_spec(default_spec_text());
  ASSERT_TRUE(r.spec) << (r.errors.empty() ? "" : r.errors[0].to_string());
  const stack_spec d;
  EXPECT_EQ(r.spec->signal.port, d.signal.port);
  EXPECT_EQ(r.spec->mas.port, d.mas.port);
  EXPECT_EQ(r.spec->renderer.kind, "reference");
  EXPECT_EQ(r.spec->webrtc.udp_min, 49152);
  EXPECT_EQ(r.spec->webrtc.udp_max, 49200);
  EXPECT_FALSE(r.spec->coturn.enabled);
  EXPECT_EQ(r.spec->hpc.time, "08:00:00");
}

TEST(spec, an_empty_file_is_the_defaults) {
  const auto r = parse_spec("");
  ASSERT_TRUE(r.spec);
  EXPECT_EQ(r.spec->name, "sparc");
  EXPECT_EQ(r.spec->renderer.instances, 1);
}

TEST(spec, values_are_read_with_their_positions) {
  const auto r = parse_spec("[stack]\nname = \"demo\"\n\n[signal]\nport = 9090\nmode = \"private\"\n"
                            "env = { A = \"1\" }\nsecrets = { turn = \"/run/t\" }\n");
  ASSERT_TRUE(r.spec);
  EXPECT_EQ(r.spec->name, "demo");
  EXPECT_EQ(r.spec->signal.port, 9090);
  EXPECT_EQ(r.spec->signal.mode, "private");
  EXPECT_EQ(r.spec->signal.env.at("A"), "1");
  EXPECT_EQ(r.spec->signal.secrets.at("turn"), "/run/t");
  EXPECT_EQ(r.spec->signal.where.at("port").line, 5);
}

TEST(spec, mistakes_are_errors_with_file_and_line_and_all_are_reported) {
  const auto r = parse_spec("[signal]\nprot = 8080\nport = 70000\nmode = \"shared\"\n[renderer]\ninstances = \"two\"\n"
                            "[typo]\nx = 1\n",
                            "s.toml");
  EXPECT_FALSE(r.spec);
  ASSERT_EQ(r.errors.size(), 5u);
  EXPECT_EQ(r.errors[0].to_string().substr(0, 9), "s.toml:2:");
  EXPECT_NE(r.errors[0].message.find("unknown key 'prot'"), std::string::npos);
  EXPECT_NE(r.errors[1].message.find("70000"), std::string::npos);
  EXPECT_NE(r.errors[2].message.find("'shared' is not one of"), std::string::npos);
  EXPECT_EQ(r.errors[3].at.line, 6);
  EXPECT_NE(r.errors[4].message.find("unknown table [typo]"), std::string::npos);
}

TEST(spec, toml_syntax_errors_carry_the_position) {
  const auto r = parse_spec("[stack]\nname = \"unterminated\n", "x.toml");
  ASSERT_FALSE(r.spec);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].at.line, 2);
}

TEST(spec, oversized_input_is_refused) {
  const auto r = parse_spec(std::string(std::size_t{2} << 20, '#'));
  EXPECT_FALSE(r.spec);
}

}  // namespace
}  // namespace deploy
