#pragma once
#include "signal/turn.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace signaling {

/// Every setting of sparc-signal with its default (docs/signal-cli.md lists flags and variables).
struct config {
  // The reference server's settings.
  std::uint16_t port = 8080;
  bool secure = false;
  std::string keyfile = "server.key";
  std::string certfile = "server.cert";
  std::string type = "websocket";
  std::string mode = "public";
  std::string logging = "dev";
  // Ours.
  std::string bind = "127.0.0.1";
  std::string web_root;
  std::string speech_url;  ///< the backend's WS /ws/audio for the page's microphone; empty: no microphone
  std::string module_root;
  std::uint16_t metrics_port = 8888;
  bool metrics = true;
  std::string ready_file;
  std::string log_level = "info";
  std::string log_format = "json";
  double ping_interval_s = 20;
  double handshake_timeout_s = 10;
  double idle_timeout_s = 30;
  double session_timeout_s = 10;
  std::size_t max_message_bytes = std::size_t{256} * 1024;
  std::size_t max_header_bytes = std::size_t{8} * 1024;
  std::size_t max_send_queue_bytes = std::size_t{1024} * 1024;
  std::size_t max_sockets_per_ip = 256;
  std::size_t max_sockets = 19000;
  double max_message_rate = 200;
  ice_settings ice;
  bool streamers = false;  ///< streamer registry extension (public mode)
  bool compat = false;

  bool use_websocket() const noexcept { return type == "websocket"; }
  bool is_private() const noexcept { return mode == "private"; }
};

/// Outcome of reading the command line: a config to run with, or an exit code (help, errors).
struct cli_result {
  std::optional<config> cfg;
  int exit_code = 0;
};

/// Parses flags, environment fallbacks and the optional TOML file; prints help or errors itself.
cli_result parse_command_line(int argc, const char* const* argv);

}  // namespace signaling
