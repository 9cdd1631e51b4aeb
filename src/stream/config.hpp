#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace stream {

/// One STUN or TURN server, shaped like Unity's RTCIceServer so -importJson files carry over unchanged.
struct ice_server {
  std::vector<std::string> urls;
  std::string username;
  std::string credential;
  std::string credential_type = "password";  ///< "password" or "oauth"
};

/// Every setting of sparc-stream with its default. The Unity player's flags come first because sparc-stream stands
/// in for the player binary in containers and job scripts; precedence is flag > environment > -importJson > default.
struct config {
  // The Unity player's flags (single dash, spelled as Unity spells them).
  std::string signaling_url = "ws://127.0.0.1:8080";
  std::string signaling_type;  ///< "websocket" or "http"; when not given, derived from the URL scheme
  std::vector<ice_server> ice_servers;
  int polling_interval_ms = 5000;  ///< HTTP signaling only (Unity's default)
  std::string import_json;
  std::string log_file;  ///< "-" is stdout; empty: the log goes to stderr
  // Ours.
  std::string mode = "public";  ///< "private": --connection-id is required and we offer
  std::string connection_id;
  std::string mas_url = "http://127.0.0.1:8000";  ///< empty: no conversation backend
  std::string mas_api_key_file;
  std::string mas_api_key;  ///< read from mas_api_key_file; never a flag, never logged
  std::string persona = "anne-palmer";
  std::string codec = "h264";  ///< an encoder_table() name
  int width = 1280;
  int height = 720;
  int fps = 30;
  int bitrate_kbps = 2500;
  std::uint16_t ice_port_min = 49152;  ///< the UDP range a container publishes for media
  std::uint16_t ice_port_max = 49200;
  std::string ice_bind;         ///< only this local address is gathered; empty: all (libnice skips loopback)
  bool ice_from_signal = true;  ///< also use the iceServers of the signaling server's /config (TURN credentials)
  std::size_t max_viewers = 4;
  bool frame_counter = false;      ///< stamp each frame's number in a corner, for latency measurements in tests
  std::string bind = "127.0.0.1";  ///< /health and /metrics
  std::uint16_t port = 8090;
  std::string ready_file;
  std::string log_level = "info";
  std::string log_format = "json";
  /// Start-up notes for the main to log once its logger exists (ignored Unity flags that would break a real player,
  /// unknown -importJson keys).
  std::vector<std::string> warnings;

  bool use_websocket() const noexcept { return signaling_type == "websocket"; }
  bool is_private() const noexcept { return mode == "private"; }
};

/// Outcome of reading the command line: a config to run with, or an exit code (0 after --help, 2 on errors).
struct cli_result {
  std::optional<config> cfg;
  int exit_code = 0;
};

/// Parses flags (Unity's single-dash ones included), SPARC_STREAM_* variables and the -importJson file, then
/// validates; prints help and errors itself.
cli_result parse_command_line(int argc, const char* const* argv);

/// Where the signaling server publishes its ICE servers: the signaling URL's http(s) twin with "config" appended to
/// its path (ws://h:8080 -> http://h:8080/config, wss://h/signal/ -> https://h/signal/config).
std::string signal_config_url(const std::string& signaling_url);

}  // namespace stream
