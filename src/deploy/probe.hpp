#pragma once
// Small blocking network probes for the CLI (health checks, `sparc check`): a TCP connect and an HTTP/1.1
// exchange on loopback or a LAN, each bounded by a deadline. The services themselves use src/net; the CLI runs
// one probe at a time and needs nothing asynchronous.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace deploy {

struct http_reply {
  int status = 0;  ///< 0: no reply (see error)
  std::string body;
  std::string error;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string header(std::string_view name) const;
};

/// True when a TCP connection to host:port opens within `timeout`.
bool tcp_open(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout);

/// One HTTP request (Connection: close); the reply body is capped at `max_body` bytes.
http_reply http_exchange(const std::string& host, std::uint16_t port, std::string_view method, std::string_view target,
                         std::string_view body, std::string_view content_type, std::chrono::milliseconds timeout,
                         std::size_t max_body = std::size_t{1} << 20,
                         const std::vector<std::pair<std::string, std::string>>& headers = {});

/// A service's health probe: `GET path` answering 200, or, with an empty path, a TCP connect.
bool probe_health(const std::string& host, std::uint16_t port, std::string_view path, std::chrono::milliseconds timeout);

inline http_reply http_get(const std::string& host, std::uint16_t port, std::string_view target,
                           std::chrono::milliseconds timeout) {
  return http_exchange(host, port, "GET", target, "", "", timeout);
}

}  // namespace deploy
