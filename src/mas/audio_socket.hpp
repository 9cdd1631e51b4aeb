#pragma once
// WS /ws/audio: streaming speech recognition for clients that talk to the backend directly (the v2 message
// protocol: a ready status, start_recognition, binary PCM frames, interim and final transcripts,
// stop_recognition, ping/pong, errors with codes). Recognition runs in a speech::asr_engine (Riva or the embedded
// pocketsphinx recognizer); this class only bridges its events to the socket, on the event loop.
#include "mas/speech/asr.hpp"
#include "net/server.hpp"

#include <boost/asio/io_context.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

namespace mas {

/// Bounds of WS /ws/audio (ARCHITECTURE.md rule 4).
namespace audio_limits {
/// One binary frame: clients send 20-100 ms (640-3,200 bytes at 16 kHz); a second at 32 kHz is plenty.
inline constexpr std::size_t max_frame_bytes = std::size_t{64} * 1024;
/// One utterance. A clinician's turn is seconds long; the stream is finished with AUDIO_TOO_LONG beyond this.
inline constexpr std::chrono::seconds max_utterance{120};
/// Audio may arrive at most this much faster than real time (a buffered clip sent at once), plus a 2 s burst.
inline constexpr double max_speed = 4.0;
/// Sockets open at once; recognition holds a decoder or a gRPC stream each.
inline constexpr std::size_t max_sockets = 128;
/// Accepted sample rates (mono 16-bit little-endian PCM).
inline constexpr int min_rate = 8000;
inline constexpr int max_rate = 48000;
}  // namespace audio_limits

class audio_socket final : public net::ws_handler {
 public:
  /// True when `key` is a valid API key (constant-time inside).
  using key_check = std::function<bool(std::string_view key)>;

  /// `engine` may be null: every recognition then answers ASR_UNAVAILABLE. With `auth_required`, the upgrade's
  /// X-API-Key header or a first {"type":"auth","api_key":...} message must carry a valid key.
  audio_socket(boost::asio::io_context& io, speech::asr_engine* engine, key_check check, bool auth_required,
               std::shared_ptr<spdlog::logger> log);
  ~audio_socket() override;

  void on_open(net::ws_connection& c, const net::http_request& upgrade) override;
  void on_message(net::ws_connection& c, net::ws::opcode type, std::string_view payload) override;
  void on_close(net::ws_connection& c) override;

  std::size_t open_sockets() const { return sockets_.size(); }
  /// Ends every recognition (shutdown); no engine callback reaches a socket afterwards.
  void stop();

 private:
  struct socket_state;

  void text(socket_state& s, std::string_view payload);
  void audio(socket_state& s, std::string_view payload);
  void start_stream(socket_state& s);
  void send_error(socket_state& s, std::string_view code, std::string_view message, bool recoverable);
  /// Engine events come here on the loop; `generation` drops those of a stream that has since been replaced.
  void on_event(std::uint64_t socket, std::uint64_t generation, speech::asr_event e);
  void on_end(std::uint64_t socket, std::uint64_t generation, core::result<void> r);

  boost::asio::io_context& io_;
  speech::asr_engine* engine_;
  key_check check_;
  bool auth_required_;
  std::shared_ptr<spdlog::logger> log_;
  std::unordered_map<std::uint64_t, std::unique_ptr<socket_state>> sockets_;
};

}  // namespace mas
