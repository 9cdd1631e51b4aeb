#include "stream/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

extern char** environ;  // NOLINT(readability-identifier-naming): POSIX's name

namespace stream {
namespace {

/// Runs parse_command_line on args (without the program name) and keeps what it printed.
struct run {
  cli_result result;
  std::string out;
  std::string err;
  const config& cfg() const { return *result.cfg; }
};

run parse(const std::vector<std::string>& args) {
  std::vector<const char*> argv{"sparc-stream"};
  for (const auto& a : args) argv.push_back(a.c_str());
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  auto result = parse_command_line(static_cast<int>(argv.size()), argv.data());
  std::string out = testing::internal::GetCapturedStdout();
  std::string err = testing::internal::GetCapturedStderr();
  return {std::move(result), std::move(out), std::move(err)};
}

/// Sets an environment variable for one test.
class scoped_env {
 public:
  scoped_env(std::string name, const std::string& value) : name_(std::move(name)) {
    ::setenv(name_.c_str(), value.c_str(), 1);
  }
  ~scoped_env() { ::unsetenv(name_.c_str()); }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  std::string name_;
};

class config_test : public testing::Test {
 protected:
  void SetUp() override {
    // Variables from the shell running the tests must not leak into them.
    std::vector<std::string> names;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      if (entry.rfind("SPARC_STREAM_", 0) == 0) names.push_back(entry.substr(0, entry.find('=')));
    }
    for (const auto& n : names) ::unsetenv(n.c_str());
    dir_ = std::filesystem::temp_directory_path() / ("sparc-stream-config-" + std::to_string(::getpid()) + "-" +
                                                     testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) const {
    auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  /// Expects exit code 2 with `needle` in the error output.
  static void expect_error(const std::vector<std::string>& args, const std::string& needle) {
    const auto r = parse(args);
    EXPECT_FALSE(r.result.cfg.has_value()) << needle;
    EXPECT_EQ(r.result.exit_code, 2) << needle;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "wanted '" << needle << "' in: " << r.err;
  }

  std::filesystem::path dir_;
};

TEST_F(config_test, defaults) {
  const auto r = parse({});
  ASSERT_TRUE(r.result.cfg) << r.err;
  const auto& c = r.cfg();
  EXPECT_EQ(c.signaling_url, "ws://127.0.0.1:8080");
  EXPECT_EQ(c.signaling_type, "websocket");
  EXPECT_TRUE(c.use_websocket());
  EXPECT_TRUE(c.ice_servers.empty());
  EXPECT_EQ(c.polling_interval_ms, 5000);
  EXPECT_EQ(c.mode, "public");
  EXPECT_EQ(c.mas_url, "http://127.0.0.1:8000");
  EXPECT_EQ(c.persona, "anne-palmer");
  EXPECT_EQ(c.codec, "h264");
  EXPECT_EQ(c.width, 1280);
  EXPECT_EQ(c.height, 720);
  EXPECT_EQ(c.fps, 30);
  EXPECT_EQ(c.bitrate_kbps, 2500);
  EXPECT_EQ(c.ice_port_min, 49152);
  EXPECT_EQ(c.ice_port_max, 49200);
  EXPECT_TRUE(c.ice_from_signal);
  EXPECT_EQ(c.max_viewers, 4U);
  EXPECT_FALSE(c.frame_counter);
  EXPECT_EQ(c.bind, "127.0.0.1");
  EXPECT_EQ(c.port, 8090);
  EXPECT_TRUE(c.warnings.empty());
}

TEST_F(config_test, every_unity_flag) {
  const auto r = parse({"-signalingUrl",
                        "http://10.1.2.3:8080",
                        "-signalingType",
                        "http",
                        "-iceServerUrl",
                        "turn:turn.example.org:3478",
                        "-iceServerUsername",
                        "alice",
                        "-iceServerCredential",
                        "s3cret",
                        "-iceServerCredentialType",
                        "oauth",
                        "-pollingInterval",
                        "1000",
                        "-logFile",
                        "/tmp/player.log",
                        "-screen-width",
                        "640",
                        "-screen-height",
                        "360"});
  ASSERT_TRUE(r.result.cfg) << r.err;
  const auto& c = r.cfg();
  EXPECT_EQ(c.signaling_url, "http://10.1.2.3:8080");
  EXPECT_EQ(c.signaling_type, "http");
  EXPECT_FALSE(c.use_websocket());
  ASSERT_EQ(c.ice_servers.size(), 1U);
  EXPECT_EQ(c.ice_servers[0].urls, std::vector<std::string>{"turn:turn.example.org:3478"});
  EXPECT_EQ(c.ice_servers[0].username, "alice");
  EXPECT_EQ(c.ice_servers[0].credential, "s3cret");
  EXPECT_EQ(c.ice_servers[0].credential_type, "oauth");
  EXPECT_EQ(c.polling_interval_ms, 1000);
  EXPECT_EQ(c.log_file, "/tmp/player.log");
  EXPECT_EQ(c.width, 640);
  EXPECT_EQ(c.height, 360);
}

TEST_F(config_test, unity_flags_also_take_equals_and_double_dash) {
  const auto r = parse({"-signalingUrl=wss://a.example/signal", "--pollingInterval", "700"});
  ASSERT_TRUE(r.result.cfg) << r.err;
  EXPECT_EQ(r.cfg().signaling_url, "wss://a.example/signal");
  EXPECT_EQ(r.cfg().polling_interval_ms, 700);
}

TEST_F(config_test, unity_values_may_start_with_a_dash) {
  const auto r = parse({"-iceServerCredential", "-dash-first", "-iceServerUrl", "stun:s:3478"});
  ASSERT_TRUE(r.result.cfg) << r.err;
  EXPECT_EQ(r.cfg().ice_servers.at(0).credential, "-dash-first");
}

TEST_F(config_test, log_file_dash_is_stdout_and_may_be_left_without_path) {
  auto r = parse({"-logFile", "-"});
  ASSERT_TRUE(r.result.cfg) << r.err;
  EXPECT_EQ(r.cfg().log_file, "-");
  r = parse({"-logFile", "-batchmode"});
  ASSERT_TRUE(r.result.cfg) << r.err;
  EXPECT_EQ(r.cfg().log_file, "");
  EXPECT_EQ(r.cfg().warnings.size(), 1U);
}

TEST_F(config_test, unity_flags_are_case_sensitive) {
  expect_error({"-signalingurl", "ws://h:1"}, "not expected");
  expect_error({"-SignalingUrl", "ws://h:1"}, "not expected");
}

TEST_F(config_test, short_port_flag_still_works) {
  const auto r = parse({"-p", "9001", "-signalingUrl", "ws://h:1"});
  ASSERT_TRUE(r.result.cfg) << r.err;
  EXPECT_EQ(r.cfg().port, 9001);
  EXPECT_EQ(r.cfg().signaling_url, "ws://h:1");
}

TEST_F(config_test, ice_server_url_is_repeatable) {
  const auto r = parse({"-iceServerUrl", "stun:a:3478", "-iceServerUrl", "stun:b:3478", "-iceServerUrl", "stuns:c"});
  ASSERT_TRUE(r.result.cfg) << r.err;
  ASSERT_EQ(r.cfg().ice_servers.size(), 1U);
  EXPECT_EQ(r.cfg().ice_servers[0].urls, (std::vector<std::string>{"stun:a:3478", "stun:b:3478", "stuns:c"}));
}

TEST_F(config_test, ice_flags_override_fields_of_the_first_imported_server) {
  const auto json = write("ice.json", R"({"iceServers":[
      {"urls":["turn:one:3478"],"username":"u1","credential":"c1"},
      {"urls":["turn:two:3478"],"username":"u2","credential":"c2"}]})");
  const auto r = parse({"-importJson", json, "-iceServerUsername", "flag-user"});
  ASSERT_TRUE(r.result.cfg) << r.err;
  const auto& s = r.cfg().ice_servers;
  ASSERT_EQ(s.size(), 2U);
  EXPECT_EQ(s[0].urls, std::vector<std::string>{"turn:one:3478"});  // kept: no -iceServerUrl
  EXPECT_EQ(s[0].username, "flag-user");
  EXPECT_EQ(s[0].credential, "c1");
  EXPECT_EQ(s[1].username, "u2");  // later entries untouched

  const auto urls = parse({"-importJson", json, "-iceServerUrl", "turn:three:3478"});
  ASSERT_TRUE(urls.result.cfg) << urls.err;
  EXPECT_EQ(urls.cfg().ice_servers[0].urls, std::vector<std::string>{"turn:three:3478"});
  EXPECT_EQ(urls.cfg().ice_servers[0].username, "u1");
  EXPECT_EQ(urls.cfg().ice_servers[1].urls, std::vector<std::string>{"turn:two:3478"});
}

TEST_F(config_test, ice_flags_create_the_first_server) {
  const auto r = parse({"-iceServerUrl", "turn:t:3478", "-iceServerUsername", "u", "-iceServerCredential", "c"});
  ASSERT_TRUE(r.result.cfg) << r.err;
  ASSERT_EQ(r.cfg().ice_servers.size(), 1U);
  EXPECT_EQ(r.cfg().ice_servers[0].credential_type, "password");
  EXPECT_TRUE(r.cfg().warnings.empty());
  // A credential alone makes an entry without a URL, which is useless: say so.
  expect_error({"-iceServerUsername", "u"}, "has no URL");
}

TEST_F(config_test, import_json_sets_unity_settings) {
  const auto json = write("settings.json", R"({
      "signalingType": "http", "signalingUrl": "https://sig.example/", "pollingInterval": 2000,
      "iceServers": [{"urls": "stun:s.example:3478"},
                     {"urls": ["turn:t.example:3478", "turns:t.example:5349"], "username": "u", "credential": "c",
                      "credentialType": 1}]})");
  const auto r = parse({"-importJson", json});
  ASSERT_TRUE(r.result.cfg) << r.err;
  const auto& c = r.cfg();
  EXPECT_EQ(c.import_json, json);
  EXPECT_EQ(c.signaling_type, "http");
  EXPECT_EQ(c.signaling_url, "https://sig.example/");
  EXPECT_EQ(c.polling_interval_ms, 2000);
  ASSERT_EQ(c.ice_servers.size(), 2U);
  EXPECT_EQ(c.ice_servers[0].urls, std::vector<std::string>{"stun:s.example:3478"});
  EXPECT_EQ(c.ice_servers[1].urls.size(), 2U);
  EXPECT_EQ(c.ice_servers[1].credential_type, "oauth");
  ASSERT_EQ(c.warnings.size(), 1U);
  EXPECT_NE(c.warnings[0].find("OAuth"), std::string::npos);
}

TEST_F(config_test, import_json_credential_type_spellings) {
  const auto json = write("types.json", R"({"iceServers": [
      {"urls": "stun:a", "credentialType": 0}, {"urls": "stun:b", "credentialType": "Password"},
      {"urls": "stun:c", "credentialType": "OAuth"}]})");
  const auto r = parse({"-importJson", json});
  ASSERT_TRUE(r.result.cfg) << r.err;
  EXPECT_EQ(r.cfg().ice_servers[0].credential_type, "password");
  EXPECT_EQ(r.cfg().ice_servers[1].credential_type, "password");
  EXPECT_EQ(r.cfg().ice_servers[2].credential_type, "oauth");
}

TEST_F(config_test, import_json_warns_about_unknown_keys) {
  const auto json =
      write("extra.json", R"({"signalingURL": "ws://typo:1", "iceServers": [{"urls": "stun:a", "x": 1}]})");
  const auto r = parse({"-importJson", json});
  ASSERT_TRUE(r.result.cfg) << r.err;
  const auto& w = r.cfg().warnings;
  ASSERT_EQ(w.size(), 2U);
  const auto mentions = [&](const std::string& key) {
    return std::any_of(w.begin(), w.end(), [&](const auto& line) { return line.find(key) != std::string::npos; });
  };
  EXPECT_TRUE(mentions("'signalingURL'"));
  EXPECT_TRUE(mentions("'iceServers[0].x'"));
  EXPECT_EQ(r.cfg().signaling_url, "ws://127.0.0.1:8080");
}

TEST_F(config_test, flags_and_environment_override_import_json) {
  const auto json =
      write("settings.json", R"({"signalingType": "http", "signalingUrl": "http://file:80", "pollingInterval": 2000})");
  auto r = parse({"-importJson", json, "-pollingInterval", "300"});
  ASSERT_TRUE(r.result.cfg) << r.err;
  EXPECT_EQ(r.cfg().signaling_url, "http://file:80");
  EXPECT_EQ(r.cfg().polling_interval_ms, 300);
  {
    const scoped_env env("SPARC_STREAM_POLLING_INTERVAL", "400");
    r = parse({"-importJson", json});
    ASSERT_TRUE(r.result.cfg) << r.err;
    EXPECT_EQ(r.cfg().polling_interval_ms, 400);
    r = parse({"-importJson", json, "-pollingInterval", "500"});
    ASSERT_TRUE(r.result.cfg) << r.err;
    EXPECT_EQ(r.cfg().polling_interval_ms, 500);
  }
  // A URL from a flag brings its own scheme: the file's signalingType does not apply to it.
  r = parse({"-importJson", json, "-signalingUrl", "ws://flag:1"});
  ASSERT_TRUE(r.result.cfg) << r.err;
  EXPECT_EQ(r.cfg().signaling_url, "ws://flag:1");
  EXPECT_EQ(r.cfg().signaling_type, "websocket");
  // The -importJson path itself may come from the environment.
  const scoped_env env("SPARC_STREAM_IMPORT_JSON", json);
  r = parse({});
  ASSERT_TRUE(r.result.cfg) << r.err;
  EXPECT_EQ(r.cfg().signaling_url, "http://file:80");
}

TEST_F(config_test, signaling_type_follows_the_url_scheme) {
  for (const auto& [url, type] : std::vector<std::pair<std::string, std::string>>{{"ws://h:1", "websocket"},
                                                                                  {"wss://h", "websocket"},
                                                                                  {"http://h:1", "http"},
                                                                                  {"https://h/x/", "http"},
                                                                                  {"WSS://h", "websocket"}}) {
    const auto r = parse({"-signalingUrl", url});
    ASSERT_TRUE(r.result.cfg) << url << r.err;
    EXPECT_EQ(r.cfg().signaling_type, type) << url;
  }
  const auto r = parse({"-signalingUrl", "wss://h", "-signalingType", "WebSocket"});
  ASSERT_TRUE(r.result.cfg) << r.err;
  EXPECT_EQ(r.cfg().signaling_type, "websocket");
}

TEST_F(config_test, validation_errors) {
  expect_error({"-signalingUrl", "ftp://h:1"}, "must be a ws://, wss://, http:// or https:// URL");
  expect_error({"-signalingUrl", "h:8080"}, "-signalingUrl 'h:8080'");
  expect_error({"-signalingUrl", "ws://"}, "-signalingUrl 'ws://'");
  expect_error({"-signalingType", "grpc"}, "-signalingType must be websocket or http");
  expect_error({"-signalingType", "http"}, "does not match -signalingUrl");
  expect_error({"-signalingType", "websocket", "-signalingUrl", "https://h"}, "does not match -signalingUrl");
  expect_error({"-pollingInterval", "50"}, "-pollingInterval 50 is outside");
  expect_error({"-iceServerUrl", "http://stun.example"}, "must be a stun:, stuns:, turn: or turns: URL");
  expect_error({"-iceServerUrl", "stun:"}, "must be a stun:");
  expect_error({"-iceServerUrl", "stun:a", "-iceServerCredentialType", "token"},
               "-iceServerCredentialType must be password or oauth, not 'token'");
  expect_error({"--ice-ports", "49200-49152"}, "the first port is above the last");
  expect_error({"--ice-ports", "49152:49200"}, "must be MIN-MAX");
  expect_error({"--ice-ports", "0-10"}, "must be MIN-MAX");
  expect_error({"--ice-ports", "1-70000"}, "must be MIN-MAX");
  expect_error({"--codec", "vp9"}, "unknown --codec 'vp9' (one of h264, openh264, vp8)");
  expect_error({"--width", "641"}, "must be even");
  expect_error({"--height", "361"}, "must be even");
  expect_error({"--width", "158"}, "--width 158 is outside 160..3840");
  expect_error({"--width", "3842"}, "--width 3842 is outside");
  expect_error({"-screen-height", "100"}, "--height 100 is outside");
  expect_error({"--fps", "0"}, "--fps 0 is outside 1..120");
  expect_error({"--fps", "121"}, "--fps 121 is outside");
  expect_error({"--bitrate-kbps", "99"}, "--bitrate-kbps 99 is outside 100..50000");
  expect_error({"--bitrate-kbps", "50001"}, "--bitrate-kbps 50001 is outside");
  expect_error({"--mode", "private"}, "--mode private needs --connection-id");
  expect_error({"--mode", "secret"}, "--mode");
  expect_error({"--mas-url", "ws://mas:8000"}, "--mas-url 'ws://mas:8000' must be an http:// or https:// URL");
  expect_error({"--ice-bind", "eth0"}, "--ice-bind 'eth0' must be an IPv4 or IPv6 address");
  expect_error({"--max-viewers", "0"}, "--max-viewers must be 1..64");
  expect_error({"--persona", "../etc"}, "--persona '../etc' must be a persona id");
  expect_error({"--log-format", "xml"}, "--log-format");
  expect_error({"--bogus"}, "not expected");
  expect_error({"-screenwidth", "640"}, "--help lists the Unity flags");
}

TEST_F(config_test, import_json_errors_name_the_file_and_key) {
  expect_error({"-importJson", (dir_ / "missing.json").string()}, "cannot read -importJson file");
  expect_error({"-importJson", write("bad.json", R"({"signalingUrl": "ws://h:1",)")}, "not valid JSON");
  expect_error({"-importJson", write("top.json", "[1, 2]")}, "the top level must be an object");
  expect_error({"-importJson", write("url.json", R"({"signalingUrl": 5})")}, "'signalingUrl' must be a string");
  expect_error({"-importJson", write("poll.json", R"({"pollingInterval": "fast"})")},
               "'pollingInterval' must be an integer");
  expect_error({"-importJson", write("poll2.json", R"({"pollingInterval": 5})")}, "'pollingInterval' must be between");
  expect_error({"-importJson", write("ice.json", R"({"iceServers": {"urls": "stun:a"}})")}, "'iceServers' must be");
  expect_error({"-importJson", write("ice1.json", R"({"iceServers": [{"urls": "stun:a"}, "stun:b"]})")},
               "'iceServers[1]' must be an object");
  expect_error({"-importJson", write("urls.json", R"({"iceServers": [{"urls": ["stun:a", 7]}]})")},
               "'iceServers[0].urls' must be a string");
  expect_error({"-importJson", write("user.json", R"({"iceServers": [{"urls": "stun:a", "username": 1}]})")},
               "'iceServers[0].username' must be a string");
  expect_error({"-importJson", write("type.json", R"({"iceServers": [{"urls": "stun:a", "credentialType": 2}]})")},
               "'iceServers[0].credentialType' must be password or oauth");
  expect_error({"-importJson", write("type2.json", R"({"iceServers": [{"urls": "stun:a", "credentialType": "jwt"}]})")},
               "'iceServers[0].credentialType' must be password or oauth, not 'jwt'");
  expect_error({"-importJson", write("nourl.json", R"({"iceServers": [{"username": "u"}]})")}, "has no URL");
}

TEST_F(config_test, environment_variables) {
  const scoped_env codec("SPARC_STREAM_CODEC", "vp8");
  const scoped_env width("SPARC_STREAM_WIDTH", "854");
  const scoped_env mode("SPARC_STREAM_MODE", "private");
  const scoped_env id("SPARC_STREAM_CONNECTION_ID", "room-1");
  const scoped_env url("SPARC_STREAM_SIGNALING_URL", "wss://sig.example/");
  const scoped_env ice("SPARC_STREAM_ICE_SERVER_URL", "stun:a:3478,stun:b:3478");
  const scoped_env from_signal("SPARC_STREAM_ICE_FROM_SIGNAL", "false");
  const scoped_env ports("SPARC_STREAM_ICE_PORTS", "40000-40009");
  const scoped_env port("SPARC_STREAM_PORT", "0");
  const scoped_env counter("SPARC_STREAM_FRAME_COUNTER", "true");
  auto r = parse({});
  ASSERT_TRUE(r.result.cfg) << r.err;
  const auto& c = r.cfg();
  EXPECT_EQ(c.codec, "vp8");
  EXPECT_EQ(c.width, 854);
  EXPECT_TRUE(c.is_private());
  EXPECT_EQ(c.connection_id, "room-1");
  EXPECT_EQ(c.signaling_url, "wss://sig.example/");
  ASSERT_EQ(c.ice_servers.size(), 1U);
  EXPECT_EQ(c.ice_servers[0].urls, (std::vector<std::string>{"stun:a:3478", "stun:b:3478"}));
  EXPECT_FALSE(c.ice_from_signal);
  EXPECT_EQ(c.ice_port_min, 40000);
  EXPECT_EQ(c.ice_port_max, 40009);
  EXPECT_EQ(c.port, 0);
  EXPECT_TRUE(c.frame_counter);
  // A flag beats the environment.
  r = parse({"--codec", "openh264", "-screen-width", "640", "--ice-from-signal"});
  ASSERT_TRUE(r.result.cfg) << r.err;
  EXPECT_EQ(r.cfg().codec, "openh264");
  EXPECT_EQ(r.cfg().width, 640);
  EXPECT_TRUE(r.cfg().ice_from_signal);
}

TEST_F(config_test, ice_and_measurement_flags) {
  const auto r = parse({"--frame-counter", "--no-ice-from-signal", "--ice-ports", "50000", "--ice-bind", "127.0.0.1"});
  ASSERT_TRUE(r.result.cfg) << r.err;
  EXPECT_FALSE(r.cfg().ice_from_signal);
  EXPECT_EQ(r.cfg().ice_port_min, 50000);
  EXPECT_EQ(r.cfg().ice_port_max, 50000);
  EXPECT_EQ(r.cfg().ice_bind, "127.0.0.1");
  EXPECT_TRUE(r.cfg().frame_counter);
  EXPECT_TRUE(parse({"--ice-bind", "::1"}).result.cfg);
}

TEST_F(config_test, ignored_unity_engine_flags) {
  const auto r = parse({"-logFile", "/dev/stdout", "-batchmode", "-nographics", "-force-vulkan", "-force-glcore",
                        "-force-opengl", "-force-gles", "-popupwindow", "-screen-fullscreen", "0", "-monitor", "1",
                        "-signalingUrl", "ws://sig:8080"});
  ASSERT_TRUE(r.result.cfg) << r.err;
  const auto& c = r.cfg();
  EXPECT_EQ(c.signaling_url, "ws://sig:8080");
  EXPECT_EQ(c.log_file, "/dev/stdout");
  ASSERT_EQ(c.warnings.size(), 2U);
  EXPECT_NE(c.warnings[0].find("-batchmode"), std::string::npos);
  EXPECT_NE(c.warnings[0].find("real Unity player"), std::string::npos);
  EXPECT_NE(c.warnings[1].find("-nographics"), std::string::npos);
  // The deployment notebook's command line, verbatim.
  const auto notebook = parse({"-logFile", "/dev/stdout", "-batchmode", "-force-vulkan"});
  ASSERT_TRUE(notebook.result.cfg) << notebook.err;
  EXPECT_EQ(notebook.cfg().warnings.size(), 1U);
  const auto quiet = parse({"-force-vulkan"});
  ASSERT_TRUE(quiet.result.cfg) << quiet.err;
  EXPECT_TRUE(quiet.cfg().warnings.empty());
}

TEST_F(config_test, help_lists_unity_flags_first) {
  const auto r = parse({"--help"});
  EXPECT_FALSE(r.result.cfg);
  EXPECT_EQ(r.result.exit_code, 0);
  const auto unity = r.out.find("Unity player flags");
  const auto engine = r.out.find("Unity engine flags");
  const auto ours = r.out.find("sparc-stream options");
  ASSERT_NE(unity, std::string::npos) << r.out;
  ASSERT_NE(engine, std::string::npos) << r.out;
  ASSERT_NE(ours, std::string::npos) << r.out;
  EXPECT_LT(unity, engine);
  EXPECT_LT(engine, ours);
  for (const char* name :
       {"  -signalingUrl ", "  -signalingType ", "  -iceServerUrl ", "  -iceServerUsername ", "  -iceServerCredential ",
        "  -iceServerCredentialType ", "  -pollingInterval ", "  -importJson ", "  -logFile ", "  -batchmode ",
        "  -nographics ", "  -force-vulkan ", "-screen-width", "  -screen-fullscreen ", "  --codec ", "-p,--port"})
    EXPECT_NE(r.out.find(name), std::string::npos) << name;
  EXPECT_EQ(r.out.find("--signalingUrl"), std::string::npos);
  EXPECT_NE(r.out.find("SPARC_STREAM_SIGNALING_URL"), std::string::npos);
}

TEST_F(config_test, mas_api_key_comes_from_a_file) {
  const auto key = write("key", "  k-0123456789abcdef\n");
  auto r = parse({"--mas-api-key-file", key});
  ASSERT_TRUE(r.result.cfg) << r.err;
  EXPECT_EQ(r.cfg().mas_api_key, "k-0123456789abcdef");
  expect_error({"--mas-api-key-file", (dir_ / "none").string()}, "cannot read --mas-api-key-file");
  expect_error({"--mas-api-key-file", write("empty", "\n")}, "is empty");
  r = parse({"--mas-url", ""});
  ASSERT_TRUE(r.result.cfg) << r.err;
  EXPECT_EQ(r.cfg().mas_url, "");
}

TEST_F(config_test, turn_without_credentials_is_a_warning) {
  const auto r = parse({"-iceServerUrl", "turn:t:3478"});
  ASSERT_TRUE(r.result.cfg) << r.err;
  ASSERT_EQ(r.cfg().warnings.size(), 1U);
  EXPECT_NE(r.cfg().warnings[0].find("no username or credential"), std::string::npos);
}

TEST_F(config_test, private_mode_with_connection_id) {
  const auto r = parse({"--mode", "private", "--connection-id", "abc"});
  ASSERT_TRUE(r.result.cfg) << r.err;
  EXPECT_TRUE(r.cfg().is_private());
  EXPECT_EQ(r.cfg().connection_id, "abc");
}

TEST(signal_config_url, derives_the_http_twin) {
  EXPECT_EQ(signal_config_url("ws://127.0.0.1:8080"), "http://127.0.0.1:8080/config");
  EXPECT_EQ(signal_config_url("wss://sig.example/signal/"), "https://sig.example/signal/config");
  EXPECT_EQ(signal_config_url("wss://sig.example/signal"), "https://sig.example/signal/config");
  EXPECT_EQ(signal_config_url("http://h:8080/?x=1"), "http://h:8080/config");
  EXPECT_EQ(signal_config_url("https://h"), "https://h/config");
}

}  // namespace
}  // namespace stream
