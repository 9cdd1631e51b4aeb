#include "net/ws.hpp"

#include "core/encoding.hpp"

#include <cstring>

namespace net::ws {
namespace {

bool is_control(std::uint8_t op) { return (op & 0x8) != 0; }

bool is_known(std::uint8_t op) { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }

void unmask(char* p, std::size_t n, const std::uint8_t key[4], std::size_t offset = 0) {
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<char>(static_cast<std::uint8_t>(p[i]) ^ key[(i + offset) & 3]);
}

}  // namespace

bool is_valid_close_code(std::uint16_t code) noexcept {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;  // 1004-1006 and 1015 are reserved, never sent
  return code >= 3000 && code <= 4999;
}

reader::buffers& reader::bufs() {
  if (!buf_) buf_ = std::make_unique<buffers>();
  return *buf_;
}

bool reader::feed(std::span<char> data, events& sink) {
  if (done_) return false;
  step s = step::ok;
  if (buf_ && !buf_->pending.empty()) {
    // Complete the held partial frame first; the copy is bounded by the frame-size limit.
    auto& pending = buf_->pending;
    pending.append(data.data(), data.size());
    std::span<char> held(pending.data(), pending.size());
    while (s == step::ok && !held.empty()) s = parse_one(held, sink);
    if (s == step::stop) {
      buf_.reset();
      return false;
    }
    pending.erase(0, pending.size() - held.size());
  } else {
    while (s == step::ok && !data.empty()) s = parse_one(data, sink);
    if (s == step::stop) return false;
    if (!data.empty()) bufs().pending.assign(data.data(), data.size());
  }
  if (buf_ && buf_->pending.empty() && buf_->message.empty()) buf_.reset();
  return true;
}

reader::step reader::parse_one(std::span<char>& data, events& sink) {
  const auto violate = [&](std::uint16_t code, std::string_view what) {
    done_ = true;
    if (buf_) buf_->message = std::string();
    sink.on_violation(code, what);
    return step::stop;
  };
  if (data.size() < 2) return step::need_more;
  const auto b0 = static_cast<std::uint8_t>(data[0]);
  const auto b1 = static_cast<std::uint8_t>(data[1]);
  const bool fin = (b0 & 0x80) != 0;
  const std::uint8_t op = b0 & 0x0F;
  if ((b0 & 0x70) != 0) return violate(close_code::protocol_error, "reserved bits set");
  if (!is_known(op)) return violate(close_code::protocol_error, "reserved opcode");
  if ((b1 & 0x80) == 0) return violate(close_code::protocol_error, "unmasked client frame");
  std::uint64_t len = b1 & 0x7F;
  std::size_t header = 2;
  if (len == 126) {
    if (data.size() < 4) return step::need_more;
    len = (static_cast<std::uint64_t>(static_cast<std::uint8_t>(data[2])) << 8) | static_cast<std::uint8_t>(data[3]);
    if (len < 126) return violate(close_code::protocol_error, "non-minimal length");
    header = 4;
  } else if (len == 127) {
    if (data.size() < 10) return step::need_more;
    len = 0;
    for (int i = 2; i < 10; ++i) len = (len << 8) | static_cast<std::uint8_t>(data[static_cast<std::size_t>(i)]);
    if (len >> 63) return violate(close_code::protocol_error, "impossible length");
    if (len <= 0xFFFF) return violate(close_code::protocol_error, "non-minimal length");
    header = 10;
  }
  if (is_control(op)) {
    if (!fin) return violate(close_code::protocol_error, "fragmented control frame");
    if (len > 125) return violate(close_code::protocol_error, "control frame too long");
  } else {
    if (op == 0 && !in_message_) return violate(close_code::protocol_error, "continuation without a message");
    if (op != 0 && in_message_) return violate(close_code::protocol_error, "new message inside a fragmented one");
    const std::size_t so_far = buf_ ? buf_->message.size() : 0;
    if (len > max_message_ || so_far + len > max_message_)
      return violate(close_code::too_big, "message too big");
  }
  std::uint8_t key[4];
  if (data.size() < header + 4) return step::need_more;
  std::memcpy(key, data.data() + header, 4);
  header += 4;
  if (data.size() - header < len) return step::need_more;

  char* payload = data.data() + header;
  const auto n = static_cast<std::size_t>(len);
  unmask(payload, n, key);
  const std::string_view body(payload, n);
  data = data.subspan(header + n);

  switch (static_cast<opcode>(op)) {
    case opcode::ping: sink.on_ping(body); return step::ok;
    case opcode::pong: sink.on_pong(body); return step::ok;
    case opcode::close: {
      std::uint16_t code = 1005;
      std::string_view reason;
      if (n == 1) return violate(close_code::protocol_error, "close payload of one byte");
      if (n >= 2) {
        code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(body[0]) << 8) | static_cast<std::uint8_t>(body[1]));
        if (!is_valid_close_code(code)) return violate(close_code::protocol_error, "invalid close code");
        reason = body.substr(2);
        if (!core::is_valid_utf8(reason)) return violate(close_code::invalid_payload, "close reason is not UTF-8");
      }
      done_ = true;
      sink.on_close(code, reason);
      return step::stop;
    }
    default: break;
  }
  // Data frames.
  if (fin && !in_message_) {
    if (op == 0x1 && !core::is_valid_utf8(body)) return violate(close_code::invalid_payload, "text is not UTF-8");
    sink.on_message(static_cast<opcode>(op), body);
    return done_ ? step::stop : step::ok;
  }
  if (!in_message_) {
    in_message_ = true;
    message_type_ = static_cast<opcode>(op);
  }
  bufs().message.append(body);
  if (fin) {
    in_message_ = false;
    std::string msg = std::move(buf_->message);
    buf_->message = std::string();
    if (message_type_ == opcode::text && !core::is_valid_utf8(msg))
      return violate(close_code::invalid_payload, "text is not UTF-8");
    sink.on_message(message_type_, msg);
  }
  return done_ ? step::stop : step::ok;
}

std::string encode(opcode type, std::string_view payload) {
  std::string out;
  const std::size_t n = payload.size();
  out.reserve(n + 10);
  out.push_back(static_cast<char>(0x80 | static_cast<std::uint8_t>(type)));
  if (n < 126) {
    out.push_back(static_cast<char>(n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>((n >> 8) & 0xFF));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> shift) & 0xFF));
  }
  out.append(payload);
  return out;
}

std::string encode_close(std::uint16_t code, std::string_view reason) {
  std::string body;
  body.push_back(static_cast<char>(code >> 8));
  body.push_back(static_cast<char>(code & 0xFF));
  body.append(reason.substr(0, 123));
  return encode(opcode::close, body);
}

std::string accept_key(std::string_view client_key) {
  std::string s(client_key);
  s += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 section 1.3 GUID
  return core::base64_encode(core::sha1(s));
}

http_response handshake_response(const http_request& req, bool& ok) {
  ok = false;
  if (req.method != "GET") return text_response(405, "websocket upgrade needs GET");
  const auto version = req.header("sec-websocket-version");
  if (!version || *version != "13") {
    auto r = text_response(426, "unsupported websocket version; use 13");
    r.headers.emplace_back("Sec-WebSocket-Version", "13");
    return r;
  }
  const auto key = req.header("sec-websocket-key");
  // The key is base64 of 16 random bytes: 24 characters ending in "==".
  if (!key || key->size() != 24 || key->substr(22) != "==") return text_response(400, "bad Sec-WebSocket-Key");
  for (const char c : key->substr(0, 22))
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
      return text_response(400, "bad Sec-WebSocket-Key");
  http_response r;
  r.status = 101;
  r.headers.emplace_back("Upgrade", "websocket");
  r.headers.emplace_back("Connection", "Upgrade");
  r.headers.emplace_back("Sec-WebSocket-Accept", accept_key(*key));
  ok = true;
  return r;
}

}  // namespace net::ws
