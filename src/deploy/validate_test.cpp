#include "deploy/validate.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace deploy {
namespace {

bool has(const std::vector<finding>& fs, std::string_view id, severity level = severity::error) {
  return std::any_of(fs.begin(), fs.end(), [&](const finding& f) { return f.id == id && f.level == level; });
}

stack_spec parsed(std::string_view text) {
  auto r = parse_spec(text, "t.toml");
  EXPECT_TRUE(r.spec) << (r.errors.empty() ? "" : r.errors[0].to_string());
  return r.spec.value_or(stack_spec{});
}

TEST(validate, the_defaults_are_clean) {
  const auto fs = validate(stack_spec{});
  EXPECT_TRUE(fs.empty()) << format_finding(stack_spec{}, fs.front());
}

TEST(validate, riva_triton_port_collides_with_the_backend) {
  // The seed ran Riva next to the backend on :8000; Riva's Triton server listens there too.
  const auto fs = validate(parsed("[riva]\nenabled = true\n"));
  EXPECT_TRUE(has(fs, "port-collision"));
}

TEST(validate, model_server_settings_are_checked) {
  EXPECT_TRUE(has(validate(parsed("[llm]\nenabled = true\nmodel = \"m\"\nadapters = { doctor = \"x\" }\n")),
                  "llm-adapter-agent"));
  EXPECT_TRUE(has(validate(parsed("[llm]\nenabled = true\nmodel = \"m\"\nadapters = { coach = \"a b\" }\n")),
                  "llm-adapter-name"));
  EXPECT_TRUE(has(validate(parsed("[llm]\nenabled = true\nmodel = \"m\"\nbase_url = \"https://x.example/v1\"\n")),
                  "llm-url"));
  EXPECT_TRUE(has(validate(parsed("[llm]\nenabled = true\nmodel = \"m\"\napi_key_file = \"k\"\n")),
                  "llm-api-key-unused", severity::warning));
  const auto good = validate(parsed("[llm]\nenabled = true\nmodel = \"m\"\nbase_url = \"http://gpu:8000/v1\"\n"
                                    "adapters = { caregiver = \"c-lora\", coach = \"k-lora\" }\n"));
  EXPECT_FALSE(has(good, "llm-url") || has(good, "llm-adapter-agent") || has(good, "llm-adapter-name"));
}

TEST(validate, an_explicit_port_clash_points_at_the_line) {
  const auto s = parsed("[signal]\nport = 8000\n");
  const auto fs = validate(s);
  ASSERT_TRUE(has(fs, "port-collision"));
}

TEST(validate, udp_ranges_must_be_sane_and_apart) {
  EXPECT_TRUE(has(validate(parsed("[webrtc]\nudp_min = 50000\nudp_max = 49000\n")), "udp-range"));
  const auto overlap = validate(parsed("[coturn]\nenabled = true\nsecret_file = \"s\"\nrelay_min = 49190\nrelay_max = 49300\n"));
  EXPECT_TRUE(has(overlap, "udp-range"));
  EXPECT_TRUE(has(validate(parsed("[webrtc]\nudp_min = 49152\nudp_max = 49153\n")), "udp-range", severity::warning));
}

TEST(validate, a_public_stack_needs_a_reachable_turn_host) {
  const auto fs = validate(parsed("[stack]\npublic = true\npublic_host = \"192.168.1.5\"\n"));
  EXPECT_TRUE(has(fs, "turn-host-unreachable"));
  EXPECT_TRUE(has(fs, "turn-missing", severity::warning));
  EXPECT_FALSE(has(validate(parsed("[stack]\npublic = true\npublic_host = \"sparc.example.org\"\n"
                                   "[coturn]\nenabled = true\nsecret_file = \"s\"\n")),
                   "turn-host-unreachable"));
  EXPECT_TRUE(has(validate(parsed("[coturn]\nenabled = true\n")), "turn-secret-missing"));
}

TEST(validate, unity_flags_that_stop_rendering_are_errors) {
  const auto fs = validate(parsed("[renderer]\nkind = \"unity\"\nunity_executable = \"p.x86_64\"\n"
                                  "unity_args = [\"-batchmode\", \"-nographics\"]\n"));
  EXPECT_EQ(std::count_if(fs.begin(), fs.end(), [](const finding& f) { return f.id == "unity-no-rendering"; }), 2);
  EXPECT_EQ(fs.front().at.line, 4);
}

TEST(validate, the_graphics_api_must_match_the_image_and_flags) {
  EXPECT_TRUE(has(validate(parsed("[renderer]\nkind = \"unity\"\nunity_executable = \"p\"\n"
                                  "image = \"nvidia/opengl:1.2-glvnd-runtime\"\n")),
                  "graphics-api-mismatch"));
  EXPECT_TRUE(has(validate(parsed("[renderer]\nkind = \"unity\"\nunity_executable = \"p\"\ngraphics_api = \"glcore\"\n"
                                  "unity_args = [\"-force-vulkan\"]\n")),
                  "graphics-api-mismatch"));
}

TEST(validate, gpus_are_checked) {
  EXPECT_TRUE(has(validate(parsed("[riva]\nenabled = true\ngpus = 0\ntriton_http = 18000\n")), "gpu-missing"));
  EXPECT_TRUE(has(validate(parsed("[hpc]\ngpus = 4\n")), "hpc-gpus", severity::warning));
}

TEST(validate, wall_times_are_finite_and_within_the_partition) {
  EXPECT_TRUE(has(validate(parsed("[hpc]\ntime = \"UNLIMITED\"\n")), "slurm-time"));
  EXPECT_TRUE(has(validate(parsed("[hpc]\ntime = \"3-00:00:00\"\npartition_max_time = \"2-00:00:00\"\n")), "slurm-time"));
  EXPECT_TRUE(has(validate(parsed("[hpc]\ntime = \"soon\"\n")), "slurm-time"));
  EXPECT_FALSE(has(validate(parsed("[hpc]\ntime = \"1-12:00:00\"\npartition_max_time = \"14-00:00:00\"\n")), "slurm-time"));
}

TEST(validate, secrets_written_into_env_are_errors) {
  const auto fs = validate(parsed("[mas]\nenv = { OPENAI_API_KEY = \"sk-123\", LOG = \"1\" }\n"));
  ASSERT_TRUE(has(fs, "secret-in-env"));
  EXPECT_EQ(fs.front().at.line, 2);
}

TEST(validate, an_open_backend_needs_api_keys) {
  EXPECT_TRUE(has(validate(parsed("[stack]\nbind = \"0.0.0.0\"\n")), "mas-open"));
  EXPECT_TRUE(has(validate(parsed("[mas]\nprofile = \"production\"\n")), "mas-production-engine"));
}

TEST(validate, slurm_time_formats) {
  EXPECT_EQ(parse_slurm_time("30"), 1800);
  EXPECT_EQ(parse_slurm_time("1:30"), 90);
  EXPECT_EQ(parse_slurm_time("08:00:00"), 8 * 3600);
  EXPECT_EQ(parse_slurm_time("2-00"), 2 * 86400);
  EXPECT_EQ(parse_slurm_time("1-02:03:04"), 86400 + 2 * 3600 + 3 * 60 + 4);
  EXPECT_EQ(parse_slurm_time("INFINITE"), 0);
  EXPECT_EQ(parse_slurm_time("x"), -1);
  EXPECT_EQ(parse_slurm_time("1:2:3:4"), -1);
}

}  // namespace
}  // namespace deploy

namespace deploy {
namespace {

TEST(validate, a_backend_with_keys_needs_a_key_for_the_renderer) {
  EXPECT_TRUE(has(validate(parsed("[mas]\napi_keys_file = \"keys\"\n")), "renderer-key-missing"));
  EXPECT_FALSE(has(validate(parsed("[mas]\napi_keys_file = \"keys\"\n[renderer]\nmas_api_key_file = \"k\"\n")),
                   "renderer-key-missing"));
}

}  // namespace
}  // namespace deploy
