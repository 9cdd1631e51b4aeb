#include "net/ws_client.hpp"

#include "core/encoding.hpp"
#include "net/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace net {
namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// RFC 6455 section 1.3: appended to the client key before hashing.
constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A response head larger than this is not a WebSocket server we want to measure.
constexpr std::size_t max_response_head = 8192;

/// Larger frames mean a broken stream (the server's own limit is 256 KiB by default).
constexpr std::uint64_t max_frame_bytes = 64ull * 1024 * 1024;

constexpr std::uint8_t op_continuation = 0x0;
constexpr std::uint8_t op_text = 0x1;
constexpr std::uint8_t op_binary = 0x2;
constexpr std::uint8_t op_close = 0x8;
constexpr std::uint8_t op_ping = 0x9;
constexpr std::uint8_t op_pong = 0xA;

std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return out;
}

/// The value of header `name` (lower case) in a lower-cased response head, trimmed; empty if absent.
std::string_view header_value(std::string_view head_lower, std::string_view name) {
  std::size_t pos = 0;
  while ((pos = head_lower.find("\r\n", pos)) != std::string_view::npos) {
    pos += 2;
    if (head_lower.substr(pos, name.size()) == name && head_lower.substr(pos + name.size(), 1) == ":") {
      auto value = head_lower.substr(pos + name.size() + 1);
      value = value.substr(0, value.find("\r\n"));
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      return value;
    }
  }
  return {};
}

}  // namespace

std::optional<ws_url> parse_ws_url(std::string_view text) {
  constexpr std::string_view scheme = "ws://";
  if (text.substr(0, scheme.size()) != scheme) return std::nullopt;
  text.remove_prefix(scheme.size());
  const auto slash = text.find('/');
  const auto authority = parse_authority(text.substr(0, slash));
  if (!authority) return std::nullopt;
  ws_url url;
  url.host = authority->host;
  url.port = authority->port;
  url.target = slash == std::string_view::npos ? "/" : std::string(text.substr(slash));
  return url;
}

ws_client::ws_client(const asio::any_io_executor& executor, std::size_t read_chunk, std::uint64_t seed)
    : socket_(executor), in_(std::max<std::size_t>(read_chunk, 256)), rng_(seed) {}

asio::awaitable<error_code> ws_client::open(tcp::endpoint server, const ws_url& url) {
  if (auto [ec] = co_await socket_.async_connect(server, use_tuple); ec) co_return ec;
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);

  char key_bytes[16];
  for (std::size_t i = 0; i < sizeof key_bytes; i += 8) {
    const auto r = splitmix64(rng_);
    std::memcpy(key_bytes + i, &r, 8);
  }
  const auto key = core::base64_encode(std::string_view(key_bytes, sizeof key_bytes));
  const bool v6 = url.host.find(':') != std::string::npos;
  std::string request = "GET " + url.target + " HTTP/1.1\r\nHost: " + (v6 ? "[" + url.host + "]" : url.host) + ":" +
                        url.port +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                        "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  if (auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(request), use_tuple); ec) co_return ec;

  std::size_t head_end = std::string_view::npos;
  while (head_end == std::string_view::npos) {
    if (end_ == in_.size()) {
      if (in_.size() >= max_response_head) co_return make_error_code(boost::system::errc::message_size);
      in_.resize(in_.size() * 2);
    }
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(in_.data() + end_, in_.size() - end_), use_tuple);
    if (ec) co_return ec;
    end_ += n;
    head_end = std::string_view(in_.data(), end_).find("\r\n\r\n");
  }
  const auto head = to_lower(std::string_view(in_.data(), head_end + 2));
  if (head.substr(0, 13) != "http/1.1 101 ") co_return make_error_code(boost::system::errc::connection_refused);
  auto expected = to_lower(core::base64_encode(core::sha1(key + std::string(websocket_guid))));
  if (header_value(head, "sec-websocket-accept") != expected)
    co_return make_error_code(boost::system::errc::protocol_error);
  begin_ = head_end + 4;  // frames that arrived with the response stay buffered
  co_return error_code{};
}

asio::awaitable<error_code> ws_client::run(message_handler on_message) {
  for (;;) {
    if (end_ > begin_) {
      dispatching_ = true;
      const auto result = parse_frames(on_message);
      dispatching_ = false;
      flush();
      if (result == parse_result::violation) {
        abort();
        co_return make_error_code(boost::system::errc::protocol_error);
      }
    }
    if (begin_ == end_) {
      begin_ = end_ = 0;
    } else if (begin_ > 0 && (in_.size() - end_ < in_.size() / 4 || need_ > in_.size() - begin_)) {
      std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (need_ > in_.size() - begin_) in_.resize(begin_ + need_);
    if (end_ == in_.size()) in_.resize(in_.size() * 2);

    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(in_.data() + end_, in_.size() - end_), use_tuple);
    if (ec) {
      if (ec == asio::error::eof && close_received_) co_return error_code{};
      co_return ec;
    }
    end_ += n;
  }
}

ws_client::parse_result ws_client::parse_frames(const message_handler& on_message) {
  while (!close_received_) {
    const std::size_t avail = end_ - begin_;
    const auto* p = reinterpret_cast<const unsigned char*>(in_.data() + begin_);
    need_ = 2;
    if (avail < 2) return parse_result::more;
    const bool fin = (p[0] & 0x80) != 0;
    const std::uint8_t opcode = p[0] & 0x0F;
    if ((p[0] & 0x70) != 0 || (p[1] & 0x80) != 0) return parse_result::violation;  // RSV set, or masked (5.1)
    std::uint64_t length = p[1] & 0x7F;
    std::size_t head = 2;
    if (length == 126) {
      head = 4;
      if (avail < head) {
        need_ = head;
        return parse_result::more;
      }
      length = (std::uint64_t{p[2]} << 8) | p[3];
    } else if (length == 127) {
      head = 10;
      if (avail < head) {
        need_ = head;
        return parse_result::more;
      }
      length = 0;
      for (int i = 2; i < 10; ++i) length = (length << 8) | p[i];
      if (length > max_frame_bytes) return parse_result::violation;
    }
    const std::size_t total = head + static_cast<std::size_t>(length);
    if (avail < total) {
      need_ = total;
      return parse_result::more;
    }
    need_ = 0;
    const std::string_view payload(in_.data() + begin_ + head, static_cast<std::size_t>(length));
    begin_ += total;

    switch (opcode) {
      case op_text:
      case op_binary:
        if (in_message_) return parse_result::violation;
        if (fin) {
          on_message(payload);
        } else {
          message_.assign(payload);
          in_message_ = true;
        }
        break;
      case op_continuation:
        if (!in_message_) return parse_result::violation;
        message_.append(payload);
        if (fin) {
          in_message_ = false;
          on_message(message_);
          message_.clear();
        }
        break;
      case op_ping:
        append_frame(op_pong, payload);
        break;
      case op_pong:
        break;
      case op_close:
        close_received_ = true;
        if (!close_sent_) {  // echo the status code (RFC 6455 section 5.5.1); the server then closes TCP
          close_sent_ = true;
          append_frame(op_close, payload.substr(0, 2));
        }
        return parse_result::closed;
      default:
        return parse_result::violation;
    }
  }
  return parse_result::closed;
}

void ws_client::send_text(std::string_view payload) {
  append_frame(op_text, payload);
  flush();
}

void ws_client::close() {
  if (close_sent_) return;
  close_sent_ = true;
  constexpr char normal_closure[] = {0x03, static_cast<char>(0xE8)};  // 1000
  append_frame(op_close, std::string_view(normal_closure, 2));
  flush();
}

void ws_client::abort() {
  error_code ignored;
  socket_.close(ignored);
}

std::uint32_t ws_client::next_mask() noexcept { return static_cast<std::uint32_t>(splitmix64(rng_)); }

void ws_client::append_frame(std::uint8_t opcode, std::string_view payload) {
  // RFC 6455 section 5.3: every client frame is masked. The key comes from a per-socket PRNG: the
  // unpredictability the RFC asks for protects intermediaries, and there are none on loopback.
  unsigned char head[14];
  std::size_t n = 0;
  head[n++] = static_cast<unsigned char>(0x80 | opcode);
  const auto size = payload.size();
  if (size < 126) {
    head[n++] = static_cast<unsigned char>(0x80 | size);
  } else if (size <= 0xFFFF) {
    head[n++] = 0x80 | 126;
    head[n++] = static_cast<unsigned char>(size >> 8);
    head[n++] = static_cast<unsigned char>(size);
  } else {
    head[n++] = 0x80 | 127;
    for (int shift = 56; shift >= 0; shift -= 8) head[n++] = static_cast<unsigned char>(std::uint64_t{size} >> shift);
  }
  const std::uint32_t mask = next_mask();
  std::memcpy(head + n, &mask, 4);
  unsigned char key[4];
  std::memcpy(key, &mask, 4);
  n += 4;

  const auto start = out_.size();
  out_.resize(start + n + size);
  char* dst = out_.data() + start;
  std::memcpy(dst, head, n);
  dst += n;
  std::uint64_t key8 = 0;  // the key twice, in memory order, to mask eight bytes at a time
  std::memcpy(&key8, key, 4);
  std::memcpy(reinterpret_cast<char*>(&key8) + 4, key, 4);
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, payload.data() + i, 8);
    word ^= key8;
    std::memcpy(dst + i, &word, 8);
  }
  for (; i < size; ++i) dst[i] = static_cast<char>(static_cast<unsigned char>(payload[i]) ^ key[i & 3]);
}

void ws_client::flush() {
  if (write_in_flight_ || dispatching_ || out_.empty() || !socket_.is_open()) return;
  write_in_flight_ = true;
  writing_.swap(out_);
  out_.clear();
  asio::async_write(socket_, asio::buffer(writing_), [this](error_code ec, std::size_t) {
    write_in_flight_ = false;
    writing_.clear();
    if (!ec) flush();  // on error the reader sees the broken connection and reports it
  });
}

}  // namespace net
