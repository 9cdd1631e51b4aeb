#include "signal/config.hpp"

#include "core/paths.hpp"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#ifndef SPARC_DEFAULT_WEB_ROOT
#define SPARC_DEFAULT_WEB_ROOT "web"
#endif

namespace signaling {
namespace {

std::string env_name(const std::string& long_name) {
  std::string out = "SPARC_SIGNAL_";
  for (const char c : long_name) out.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

std::string read_secret_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read TURN secret file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.empty()) throw std::runtime_error("TURN secret file " + path + " is empty");
  if (s.size() > 4096) throw std::runtime_error("TURN secret file " + path + " is too large");
  return s;
}

// Gives `opt` a value from a lower-precedence source (our env alias or the TOML file) unless a flag or
// the environment already set it.
void apply_value(CLI::Option* opt, const std::vector<std::string>& values) {
  if (opt->count() > 0 || values.empty()) return;
  for (const auto& v : values) opt->add_result(v);
  opt->run_callback();
}

// Reads the TOML file; keys are long option names. Throws with file:line on any problem.
void apply_toml(CLI::App& app, const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw std::runtime_error(path + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) + ": " +
                             std::string(e.description()));
  }
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    const auto line = std::to_string(node.source().begin.line);
    CLI::Option* opt = nullptr;
    try {
      opt = (name == "config" || name == "help") ? nullptr : app.get_option("--" + name);
    } catch (const CLI::OptionNotFound&) {
    }
    if (!opt) throw std::runtime_error(path + ":" + line + ": unknown setting '" + name + "'");
    std::vector<std::string> values;
    const auto scalar = [&](const toml::node& n) -> std::string {
      if (n.is_string()) return *n.value<std::string>();
      if (n.is_boolean()) return *n.value<bool>() ? "true" : "false";
      if (n.is_integer()) return std::to_string(*n.value<std::int64_t>());
      if (n.is_floating_point()) return std::to_string(*n.value<double>());
      throw std::runtime_error(path + ":" + line + ": '" + name + "' must be a string, number or boolean");
    };
    if (const auto* arr = node.as_array()) {
      for (const auto& item : *arr) values.push_back(scalar(item));
    } else {
      values.push_back(scalar(node));
    }
    if (opt->get_expected_min() == 0 && values.size() == 1 && values[0] == "false") continue;  // flag left off
    try {
      apply_value(opt, values);
    } catch (const CLI::Error& e) {
      throw std::runtime_error(path + ":" + line + ": " + name + ": " + e.what());
    }
  }
}

}  // namespace

cli_result parse_command_line(int argc, const char* const* argv) {
  config c;
  c.web_root = core::shipped_dir(SPARC_DEFAULT_WEB_ROOT, "web");
  CLI::App app{
      "sparc-signal: WebRTC signaling server, wire-compatible with Unity Render Streaming (WebSocket and HTTP\n"
      "polling, public and private modes), with ICE/TURN configuration, keepalive, limits and metrics.\n"
      "Precedence: flag > environment > --config file > default.",
      "sparc-signal"};
  app.get_formatter()->column_width(34);
  app.option_defaults()->always_capture_default();

  // The reference webapp's flags and environment variables.
  // Each also reads SPARC_SIGNAL_<NAME> when the reference's variable is unset.
  std::vector<CLI::Option*> reference{
      app.add_option("-p,--port", c.port, "Listen port (0 picks a free port; see --ready-file)")->envname("PORT"),
      app.add_flag("-s,--secure", c.secure, "Serve HTTPS/WSS on the same port")->envname("SECURE"),
      app.add_option("-k,--keyfile", c.keyfile, "PEM private key for --secure")->envname("KEYFILE"),
      app.add_option("-c,--certfile", c.certfile, "PEM certificate chain for --secure")->envname("CERTFILE"),
      app.add_option("-t,--type", c.type, "Signaling transport: websocket or http (other values: websocket)")->envname("TYPE"),
      app.add_option("-m,--mode", c.mode, "private pairs by connection id; anything else is public")->envname("MODE"),
      app.add_option("-l,--logging", c.logging, "Access log format: dev, combined, short, tiny or none")->envname("LOGGING")};

  const auto ours = [&](CLI::Option* o) {
    o->envname(env_name(o->get_single_name()));
    return o;
  };
  ours(app.add_option("--bind", c.bind, "Listen address (0.0.0.0 or :: for every interface)"));
  ours(app.add_option("--web-root", c.web_root, "Directory served at /"));
  ours(app.add_option("--module-root", c.module_root, "Directory served at /module/ (Unity sample modules); empty: off"));
  ours(app.add_option("--metrics-port", c.metrics_port, "Port of /metrics and /api/status (0 picks a free port)"));
  bool no_metrics = false;
  ours(app.add_flag("--no-metrics", no_metrics, "Do not open the metrics listener"));
  ours(app.add_option("--ready-file", c.ready_file, "Write {\"port\",\"metrics_port\",\"pid\"} here once listening"));
  ours(app.add_option("--log-level", c.log_level, "trace, debug, info, warn or error (trace logs message bodies)"))
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  ours(app.add_option("--log-format", c.log_format, "json or text"))->check(CLI::IsMember({"json", "text"}));
  ours(app.add_option("--ping-interval", c.ping_interval_s, "Seconds of silence before a WebSocket ping; 0 disables"))
      ->check(CLI::Range(0.0, 3600.0));
  ours(app.add_option("--handshake-timeout", c.handshake_timeout_s, "Seconds for the TLS handshake and first request"))
      ->check(CLI::Range(0.1, 600.0));
  ours(app.add_option("--idle-timeout", c.idle_timeout_s, "Seconds an idle HTTP keep-alive connection stays open"))
      ->check(CLI::Range(0.1, 3600.0));
  ours(app.add_option("--session-timeout", c.session_timeout_s, "Seconds without a request before an HTTP-polling session is evicted"))
      ->check(CLI::Range(0.1, 3600.0));
  ours(app.add_option("--max-message-bytes", c.max_message_bytes, "Largest WebSocket message or HTTP body"))
      ->check(CLI::Range(std::size_t{1024}, std::size_t{64} << 20));
  ours(app.add_option("--max-header-bytes", c.max_header_bytes, "Largest request line plus headers"))
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 20));
  ours(app.add_option("--max-send-queue-bytes", c.max_send_queue_bytes, "Output queued per socket before a slow reader is cut off"))
      ->check(CLI::Range(std::size_t{4096}, std::size_t{1} << 30));
  ours(app.add_option("--max-sockets-per-ip", c.max_sockets_per_ip, "Concurrent sockets from one address"))
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
  ours(app.add_option("--max-sockets", c.max_sockets, "Concurrent sockets in total"))
      ->check(CLI::Range(std::size_t{1}, std::size_t{10000000}));
  ours(app.add_option("--max-message-rate", c.max_message_rate, "WebSocket messages per second per socket (burst 2x); 0 = unlimited"))
      ->check(CLI::Range(0.0, 1e9));
  ours(app.add_option("--ice-server", c.ice.static_urls, "STUN/TURN URL handed to clients in /config as is (repeatable)"));
  ours(app.add_option("--turn-url", c.ice.turn_urls, "TURN URL handed out with minted REST credentials (repeatable)"));
  std::string secret_file;
  ours(app.add_option("--turn-secret-file", secret_file,
                      "File holding coturn's static-auth-secret (or set SPARC_TURN_SECRET to the secret itself)"));
  double ttl = 3600;
  ours(app.add_option("--turn-ttl", ttl, "Lifetime of minted TURN credentials in seconds"))->check(CLI::Range(1.0, 7.0 * 86400));
  ours(app.add_option("--turn-user", c.ice.turn_user, "User part of minted TURN usernames (<expiry>:<user>)"));
  ours(app.add_flag("--streamers", c.streamers,
                    "Streamer registry (public mode): each viewer gets one free render instance; renderers join\n"
                    "with ?role=streamer&name=N on their signaling URL or a {\"type\":\"register\"} message"));
  ours(app.add_option("--speech-url", c.speech_url,
                      "The backend's speech recognition WebSocket (ws://host:8000/ws/audio) for the page's microphone,\n"
                      "handed out in /config as speechUrl; empty: the page offers no microphone"));
  ours(app.add_flag("--compat", c.compat, "Pure compatibility: no keepalive pings, no extensions"));
  std::string config_file;
  ours(app.add_option("--config", config_file, "TOML file with long option names as keys (ping-interval = 5)"));
  app.set_version_flag("--version", "sparc-signal 0.1.0");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, version or the error
    return {std::nullopt, code == 0 ? 0 : 2};
  }

  try {
    // Lower-precedence sources, in order: our aliases of the reference variables, then the file.
    for (auto* opt : reference) {
      const char* alias = std::getenv(env_name(opt->get_single_name()).c_str());
      if (alias && *alias) apply_value(opt, {alias});
    }
    if (!config_file.empty()) apply_toml(app, config_file);
    c.metrics = !no_metrics;
    c.ice.turn_ttl_s = static_cast<std::int64_t>(ttl);
    if (!secret_file.empty()) {
      c.ice.turn_secret = read_secret_file(secret_file);
    } else if (const char* env = std::getenv("SPARC_TURN_SECRET"); env && *env) {
      c.ice.turn_secret = env;
    }
    if (!c.ice.turn_urls.empty() && c.ice.turn_secret.empty())
      throw std::runtime_error("--turn-url needs a secret: --turn-secret-file FILE or SPARC_TURN_SECRET");
    if (!c.speech_url.empty() && !c.speech_url.starts_with("ws://") && !c.speech_url.starts_with("wss://"))
      throw std::runtime_error("--speech-url must be a ws:// or wss:// URL");
    if (c.type != "websocket" && c.type != "http") {
      std::cerr << "sparc-signal: unknown --type '" << c.type << "', using websocket\n";
      c.type = "websocket";
    }
    if (c.logging != "dev" && c.logging != "combined" && c.logging != "short" && c.logging != "tiny" && c.logging != "none") {
      std::cerr << "sparc-signal: unknown --logging '" << c.logging << "', using dev\n";
      c.logging = "dev";
    }
    if (c.compat) {
      c.ping_interval_s = 0;
      c.streamers = false;
    }
  } catch (const std::exception& e) {
    std::cerr << "sparc-signal: " << e.what() << "\n";
    return {std::nullopt, 2};
  }
  return {std::move(c), 0};
}

}  // namespace signaling
