#include "signal/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <vector>

namespace {

signaling::cli_result parse(std::vector<const char*> args) {
  args.insert(args.begin(), "sparc-signal");
  return signaling::parse_command_line(static_cast<int>(args.size()), args.data());
}

class config_env : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const char* v : {"PORT", "TYPE", "MODE", "LOGGING", "SPARC_SIGNAL_PING_INTERVAL", "SPARC_TURN_SECRET", "SPARC_SIGNAL_MODE"})
      ::unsetenv(v);
  }
};

TEST_F(config_env, defaults_match_the_documentation) {
  const auto r = parse({});
  ASSERT_TRUE(r.cfg);
  EXPECT_EQ(r.cfg->port, 8080);
  EXPECT_EQ(r.cfg->bind, "127.0.0.1");
  EXPECT_EQ(r.cfg->type, "websocket");
  EXPECT_EQ(r.cfg->mode, "public");
  EXPECT_EQ(r.cfg->logging, "dev");
  EXPECT_EQ(r.cfg->metrics_port, 8888);
  EXPECT_DOUBLE_EQ(r.cfg->ping_interval_s, 20);
  EXPECT_DOUBLE_EQ(r.cfg->session_timeout_s, 10);
}

TEST_F(config_env, reference_flags_and_env_fallbacks) {
  ::setenv("PORT", "9000", 1);
  ::setenv("TYPE", "http", 1);
  ::setenv("MODE", "private", 1);
  auto r = parse({});
  ASSERT_TRUE(r.cfg);
  EXPECT_EQ(r.cfg->port, 9000);
  EXPECT_FALSE(r.cfg->use_websocket());
  EXPECT_TRUE(r.cfg->is_private());
  r = parse({"-p", "9100", "-t", "websocket", "-m", "weird", "-l", "tiny"});
  ASSERT_TRUE(r.cfg);
  EXPECT_EQ(r.cfg->port, 9100) << "flags beat the environment";
  EXPECT_TRUE(r.cfg->use_websocket());
  EXPECT_EQ(r.cfg->mode, "weird");
  EXPECT_FALSE(r.cfg->is_private());
  EXPECT_EQ(r.cfg->logging, "tiny");
}

TEST_F(config_env, unknown_type_falls_back_to_websocket) {
  const auto r = parse({"-t", "carrier-pigeon"});
  ASSERT_TRUE(r.cfg);
  EXPECT_EQ(r.cfg->type, "websocket");
}

TEST_F(config_env, our_options_read_sparc_signal_variables) {
  ::setenv("SPARC_SIGNAL_PING_INTERVAL", "2.5", 1);
  const auto r = parse({});
  ASSERT_TRUE(r.cfg);
  EXPECT_DOUBLE_EQ(r.cfg->ping_interval_s, 2.5);
}

TEST_F(config_env, toml_file_is_below_environment_and_flags) {
  const std::string path = ::testing::TempDir() + "sparc-signal-test.toml";
  std::ofstream(path) << "# comment\nport = 7000\nping-interval = 3\nmode = \"private\"\n";
  auto r = parse({"--config", path.c_str()});
  ASSERT_TRUE(r.cfg);
  EXPECT_EQ(r.cfg->port, 7000);
  EXPECT_DOUBLE_EQ(r.cfg->ping_interval_s, 3);
  EXPECT_TRUE(r.cfg->is_private());
  r = parse({"--config", path.c_str(), "-p", "7001"});
  EXPECT_EQ(r.cfg->port, 7001);
  ::setenv("MODE", "from-env", 1);
  r = parse({"--config", path.c_str()});
  ASSERT_TRUE(r.cfg);
  EXPECT_EQ(r.cfg->mode, "from-env") << "the environment beats the file";
  ::unsetenv("MODE");
}

TEST_F(config_env, toml_errors_name_file_and_line) {
  const std::string path = ::testing::TempDir() + "sparc-signal-bad.toml";
  std::ofstream(path) << "port = 7000\nno-such-key = 1\n";
  EXPECT_FALSE(parse({"--config", path.c_str()}).cfg);
  std::ofstream(path) << "port = \"not a number\"\n";
  EXPECT_FALSE(parse({"--config", path.c_str()}).cfg);
  std::ofstream(path) << "port = [\n";
  EXPECT_FALSE(parse({"--config", path.c_str()}).cfg);
}

TEST_F(config_env, reference_settings_also_read_sparc_signal_variables) {
  ::setenv("SPARC_SIGNAL_MODE", "private", 1);
  auto r = parse({});
  ASSERT_TRUE(r.cfg);
  EXPECT_TRUE(r.cfg->is_private());
  ::setenv("MODE", "public", 1);
  r = parse({});
  EXPECT_FALSE(r.cfg->is_private()) << "the reference variable wins when both are set";
  ::unsetenv("SPARC_SIGNAL_MODE");
}

TEST_F(config_env, turn_secret_comes_from_file_or_env_never_a_flag) {
  EXPECT_FALSE(parse({"--turn-secret", "x"}).cfg);
  EXPECT_FALSE(parse({"--turn-url", "turn:x"}).cfg) << "a TURN URL needs a secret";
  ::setenv("SPARC_TURN_SECRET", "from-env", 1);
  auto r = parse({"--turn-url", "turn:x"});
  ASSERT_TRUE(r.cfg);
  EXPECT_EQ(r.cfg->ice.turn_secret, "from-env");
  const std::string path = ::testing::TempDir() + "sparc-turn-secret";
  std::ofstream(path) << "from-file\n";
  r = parse({"--turn-url", "turn:x", "--turn-secret-file", path.c_str()});
  ASSERT_TRUE(r.cfg);
  EXPECT_EQ(r.cfg->ice.turn_secret, "from-file");
}

TEST_F(config_env, compat_turns_pings_off_and_bad_values_are_refused) {
  auto r = parse({"--compat"});
  ASSERT_TRUE(r.cfg);
  EXPECT_DOUBLE_EQ(r.cfg->ping_interval_s, 0);
  EXPECT_FALSE(parse({"--ping-interval", "-1"}).cfg);
  EXPECT_FALSE(parse({"--log-format", "xml"}).cfg);
  EXPECT_FALSE(parse({"--no-such-option"}).cfg);
}

}  // namespace
