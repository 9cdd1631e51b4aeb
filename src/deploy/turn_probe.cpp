#include "deploy/turn_probe.hpp"

#include "core/encoding.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

namespace deploy {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::uint32_t magic_cookie = 0x2112A442;  // RFC 8489 §5
constexpr std::uint16_t allocate_request = 0x0003;
constexpr std::uint16_t allocate_success = 0x0103;
constexpr std::uint16_t allocate_error = 0x0113;
constexpr std::uint16_t refresh_request = 0x0004;
constexpr std::uint16_t attr_username = 0x0006;
constexpr std::uint16_t attr_message_integrity = 0x0008;
constexpr std::uint16_t attr_error_code = 0x0009;
constexpr std::uint16_t attr_lifetime = 0x000D;
constexpr std::uint16_t attr_realm = 0x0014;
constexpr std::uint16_t attr_nonce = 0x0015;
constexpr std::uint16_t attr_xor_relayed_address = 0x0016;
constexpr std::uint16_t attr_requested_transport = 0x0019;
constexpr std::size_t max_datagram = 1500;

/// One STUN message being built: header, then attributes padded to 4 bytes.
class message {
 public:
  explicit message(std::uint16_t type) {
    std::random_device rd;
    for (auto& b : id_) b = static_cast<std::uint8_t>(rd());
    put16(type);
    put16(0);
    put32(magic_cookie);
    bytes_.insert(bytes_.end(), id_.begin(), id_.end());
  }
  void attr(std::uint16_t type, std::string_view value) {
    put16(type);
    put16(static_cast<std::uint16_t>(value.size()));
    bytes_.insert(bytes_.end(), value.begin(), value.end());
    while (bytes_.size() % 4) bytes_.push_back(0);
  }
  /// MESSAGE-INTEGRITY over everything so far, with the length counting the integrity attribute itself.
  void sign(std::string_view key) {
    set_length(bytes_.size() - 20 + 24);
    const auto mac = core::hmac_sha1(key, std::string_view(reinterpret_cast<const char*>(bytes_.data()), bytes_.size()));
    attr(attr_message_integrity, mac);
  }
  std::string finish() {
    set_length(bytes_.size() - 20);
    return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()};
  }
  const std::array<std::uint8_t, 12>& id() const { return id_; }

 private:
  void put16(std::uint16_t v) {
    bytes_.push_back(static_cast<std::uint8_t>(v >> 8));
    bytes_.push_back(static_cast<std::uint8_t>(v));
  }
  void put32(std::uint32_t v) {
    put16(static_cast<std::uint16_t>(v >> 16));
    put16(static_cast<std::uint16_t>(v));
  }
  void set_length(std::size_t n) {
    bytes_[2] = static_cast<std::uint8_t>(n >> 8);
    bytes_[3] = static_cast<std::uint8_t>(n);
  }
  std::vector<std::uint8_t> bytes_;
  std::array<std::uint8_t, 12> id_{};
};

struct reply {
  std::uint16_t type = 0;
  int error_code = 0;
  std::string reason, realm, nonce, relayed;
};

std::uint16_t get16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

/// Decodes a STUN reply to our transaction; false for anything else (other ids, garbage, truncation).
bool decode(const std::uint8_t* p, std::size_t n, const std::array<std::uint8_t, 12>& id, reply& out) {
  if (n < 20 || (p[0] & 0xC0) != 0) return false;
  const std::size_t len = get16(p + 2);
  if (len + 20 > n || std::memcmp(p + 8, id.data(), id.size()) != 0) return false;
  out.type = get16(p);
  std::size_t at = 20;
  while (at + 4 <= 20 + len) {
    const auto type = get16(p + at);
    const std::size_t size = get16(p + at + 2);
    const auto* v = p + at + 4;
    if (at + 4 + size > 20 + len) return false;
    const std::string_view value(reinterpret_cast<const char*>(v), size);
    if (type == attr_error_code && size >= 4) {
      out.error_code = (v[2] & 0x07) * 100 + v[3];
      out.reason = std::string(value.substr(4));
    } else if (type == attr_realm) {
      out.realm = value;
    } else if (type == attr_nonce) {
      out.nonce = value;
    } else if (type == attr_xor_relayed_address && size >= 8 && v[1] == 0x01) {  // IPv4
      const auto xport = static_cast<std::uint16_t>(get16(v + 2) ^ (magic_cookie >> 16));
      std::uint32_t addr = 0;
      std::memcpy(&addr, v + 4, 4);
      addr ^= htonl(magic_cookie);
      char text[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &addr, text, sizeof text);
      out.relayed = std::string(text) + ":" + std::to_string(xport);
    }
    at += 4 + ((size + 3) & ~std::size_t{3});
  }
  return true;
}

std::string md5(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int n = 0;
  if (EVP_Digest(text.data(), text.size(), out.data(), &n, EVP_md5(), nullptr) != 1) return {};
  return {reinterpret_cast<const char*>(out.data()), n};
}

/// Sends `request` and waits for the reply to it, resending on the RFC's schedule until the deadline.
bool exchange(int fd, const std::string& request, const std::array<std::uint8_t, 12>& id,
              clock_type::time_point deadline, reply& out) {
  auto wait = std::chrono::milliseconds(250);
  while (clock_type::now() < deadline) {
    if (::send(fd, request.data(), request.size(), 0) < 0) return false;
    const auto until = std::min(deadline, clock_type::now() + wait);
    while (clock_type::now() < until) {
      pollfd p{fd, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now()).count();
      if (::poll(&p, 1, static_cast<int>(std::max<long long>(0, left))) <= 0) continue;
      std::array<std::uint8_t, max_datagram> buf{};
      const auto n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n > 0 && decode(buf.data(), static_cast<std::size_t>(n), id, out)) return true;
    }
    wait *= 2;
  }
  return false;
}

}  // namespace

bool parse_turn_url(std::string_view url, std::string& host, std::uint16_t& port) {
  if (!url.starts_with("turn:")) return false;
  url.remove_prefix(5);
  url = url.substr(0, url.find('?'));
  port = 3478;
  if (const auto colon = url.rfind(':'); colon != std::string_view::npos && url.find(']') == std::string_view::npos) {
    const auto value = std::strtoul(std::string(url.substr(colon + 1)).c_str(), nullptr, 10);
    if (value == 0 || value > 65535) return false;
    port = static_cast<std::uint16_t>(value);
    url = url.substr(0, colon);
  }
  host = std::string(url);
  return !host.empty();
}

turn_result turn_allocate(const std::string& host, std::uint16_t port, const std::string& username,
                          const std::string& password, std::chrono::milliseconds timeout) {
  turn_result r;
  const auto deadline = clock_type::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) {
    r.error = "cannot resolve " + host;
    return r;
  }
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    r.error = std::string("UDP socket: ") + std::strerror(errno);
    ::freeaddrinfo(res);
    if (fd >= 0) ::close(fd);
    return r;
  }
  ::freeaddrinfo(res);
  const std::string transport_udp("\x11\0\0\0", 4);  // REQUESTED-TRANSPORT: UDP (17)

  message first(allocate_request);
  first.attr(attr_requested_transport, transport_udp);
  reply challenge;
  if (!exchange(fd, first.finish(), first.id(), deadline, challenge)) {
    r.error = "no answer from " + host + ":" + std::to_string(port) + "/udp";
  } else if (challenge.type != allocate_error || challenge.error_code != 401 || challenge.nonce.empty()) {
    r.error = "unexpected first reply (type " + std::to_string(challenge.type) + ", code " +
              std::to_string(challenge.error_code) + ")";
  } else {
    const auto key = md5(username + ":" + challenge.realm + ":" + password);
    message second(allocate_request);
    second.attr(attr_requested_transport, transport_udp);
    second.attr(attr_username, username);
    second.attr(attr_realm, challenge.realm);
    second.attr(attr_nonce, challenge.nonce);
    second.sign(key);
    reply answer;
    if (!exchange(fd, second.finish(), second.id(), deadline, answer)) {
      r.error = "no answer to the authenticated Allocate";
    } else if (answer.type == allocate_success && !answer.relayed.empty()) {
      r.allocated = true;
      r.relayed = answer.relayed;
      message release(refresh_request);  // lifetime 0: give the relay back now
      release.attr(attr_lifetime, std::string("\0\0\0\0", 4));
      release.attr(attr_username, username);
      release.attr(attr_realm, challenge.realm);
      release.attr(attr_nonce, challenge.nonce);
      release.sign(key);
      reply ignored;
      (void)exchange(fd, release.finish(), release.id(), std::min(deadline, clock_type::now() + std::chrono::seconds(1)),
                     ignored);
    } else {
      r.error = std::to_string(answer.error_code) + " " + answer.reason +
                (answer.error_code == 401 ? " (the credentials were refused: is coturn's secret the one sparc-signal "
                                            "mints with?)"
                                          : "");
    }
  }
  ::close(fd);
  return r;
}

}  // namespace deploy
