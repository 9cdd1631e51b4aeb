#pragma once
#include "net/http.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace net::ws {

/// RFC 6455 section 5.2 opcodes.
enum class opcode : std::uint8_t { continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };

/// RFC 6455 section 7.4.1 close codes used by the server.
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t invalid_payload = 1007;  ///< e.g. a text message that is not UTF-8
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t too_big = 1009;
inline constexpr std::uint16_t internal_error = 1011;
}  // namespace close_code

/// What the reader reports; the connection decides what to send back.
class events {
 public:
  virtual ~events() = default;
  /// A complete data message (text already checked for UTF-8; binary passed as is).
  virtual void on_message(opcode type, std::string_view payload) = 0;
  virtual void on_ping(std::string_view payload) = 0;
  virtual void on_pong(std::string_view payload) = 0;
  /// The peer's close frame (code 1005 when it carried none).
  virtual void on_close(std::uint16_t code, std::string_view reason) = 0;
  /// A protocol violation; the connection must send a close frame with `code` and stop reading.
  virtual void on_violation(std::uint16_t code, std::string_view what) = 0;
};

/// Incremental decoder of client-to-server frames. Pure (no I/O), bounded, never throws on input.
/// Enforces: masking, RSV bits, known opcodes, control-frame rules, minimal length encoding,
/// the message size limit, UTF-8 in text messages and close reasons, valid close codes.
class reader {
 public:
  explicit reader(std::size_t max_message_bytes) : max_message_(max_message_bytes) {}

  /// Consumes `data` (unmasked in place when it can be); reports events until done or a violation.
  /// Returns false once a close frame or violation has been seen; later calls do nothing.
  bool feed(std::span<char> data, events& sink);

  /// Bytes held between calls (a partial frame or a fragmented message).
  std::size_t buffered() const noexcept { return buf_ ? buf_->pending.size() + buf_->message.size() : 0; }

 private:
  enum class step { need_more, ok, stop };
  step parse_one(std::span<char>& data, events& sink);

  std::size_t max_message_;
  /// Held bytes, allocated only while something is held: an idle socket keeps a null pointer.
  struct buffers {
    std::string pending;  ///< bytes of an incomplete frame
    std::string message;  ///< payload of a fragmented message so far
  };
  buffers& bufs();
  std::unique_ptr<buffers> buf_;
  opcode message_type_ = opcode::text;
  bool in_message_ = false;
  bool done_ = false;
};

/// Encodes one unmasked server frame.
std::string encode(opcode type, std::string_view payload);

/// Encodes a close frame carrying `code` and `reason` (reason truncated to fit a control frame).
std::string encode_close(std::uint16_t code, std::string_view reason);

/// Sec-WebSocket-Accept for a client key (RFC 6455 section 4.2.2).
std::string accept_key(std::string_view client_key);

/// Validates an upgrade request. On success returns the 101 response to send; otherwise a 4xx response.
http_response handshake_response(const http_request& request, bool& ok);

/// True if `code` may appear in a close frame sent by a peer (RFC 6455 section 7.4).
bool is_valid_close_code(std::uint16_t code) noexcept;

}  // namespace net::ws
