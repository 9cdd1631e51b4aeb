#include "deploy/probe.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace deploy {

using clock_type = std::chrono::steady_clock;

std::string http_reply::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
      return v;
  return {};
}

namespace {

class fd_guard {
 public:
  explicit fd_guard(int fd) : fd_(fd) {}
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int remaining_ms(clock_type::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now()).count();
  return static_cast<int>(std::max<long long>(0, left));
}

bool wait_for(int fd, short events, clock_type::time_point deadline) {
  pollfd p{fd, events, 0};
  while (true) {
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

/// Connects a non-blocking socket to host:port before the deadline; -1 with `error` set otherwise.
int connect_to(const std::string& host, std::uint16_t port, clock_type::time_point deadline, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
    error = std::string("cannot resolve ") + host + ": " + ::gai_strerror(rc);
    return -1;
  }
  error = "connection refused";
  for (auto* ai = res; ai; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      ::freeaddrinfo(res);
      return fd;
    }
    if (errno == EINPROGRESS && wait_for(fd, POLLOUT, deadline)) {
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
        ::freeaddrinfo(res);
        return fd;
      }
      error = std::strerror(err);
    } else if (errno == EINPROGRESS) {
      error = "timed out";
    } else {
      error = std::strerror(errno);
    }
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return -1;
}

std::string decode_chunked(std::string_view body) {
  std::string out;
  while (!body.empty()) {
    const auto eol = body.find("\r\n");
    if (eol == std::string_view::npos) break;
    std::size_t size = 0;
    for (char c : body.substr(0, eol)) {
      if (c == ';') break;
      const int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                    : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                                : -1;
      if (d < 0) return out;
      size = size * 16 + static_cast<std::size_t>(d);
      if (size > body.size()) return out;
    }
    body.remove_prefix(eol + 2);
    if (size == 0 || size > body.size()) break;
    out.append(body.substr(0, size));
    body.remove_prefix(std::min(body.size(), size + 2));
  }
  return out;
}

}  // namespace

bool tcp_open(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
  std::string error;
  const int fd = connect_to(host, port, clock_type::now() + timeout, error);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

bool probe_health(const std::string& host, std::uint16_t port, std::string_view path, std::chrono::milliseconds timeout) {
  if (path.empty()) return tcp_open(host, port, timeout);
  return http_exchange(host, port, "GET", path, "", "", timeout).status == 200;
}

http_reply http_exchange(const std::string& host, std::uint16_t port, std::string_view method, std::string_view target,
                         std::string_view body, std::string_view content_type, std::chrono::milliseconds timeout,
                         std::size_t max_body, const std::vector<std::pair<std::string, std::string>>& headers) {
  http_reply r;
  const auto deadline = clock_type::now() + timeout;
  const fd_guard fd(connect_to(host, port, deadline, r.error));
  if (fd.get() < 0) return r;
  std::string request = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: " + host + ":" +
                        std::to_string(port) + "\r\nConnection: close\r\nUser-Agent: sparc\r\n";
  if (!content_type.empty()) request += "Content-Type: " + std::string(content_type) + "\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  request += "\r\n";
  request.append(body);
  std::size_t sent = 0;
  while (sent < request.size()) {
    if (!wait_for(fd.get(), POLLOUT, deadline)) {
      r.error = "timed out sending";
      return r;
    }
    const auto n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      r.error = std::strerror(errno);
      return r;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string in;
  const std::size_t cap = max_body + std::size_t{64} * 1024;
  char buf[16384];
  while (in.size() < cap) {
    if (!wait_for(fd.get(), POLLIN, deadline)) {
      r.error = "timed out waiting for the reply";
      return r;
    }
    const auto n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      r.error = std::strerror(errno);
      return r;
    }
    in.append(buf, static_cast<std::size_t>(n));
    // Stop early once a Content-Length body is complete (the server may keep the socket open briefly).
    if (const auto end = in.find("\r\n\r\n"); end != std::string::npos) {
      const auto head = std::string_view(in).substr(0, end);
      const auto cl = head.find("\r\nContent-Length:");
      const auto cl2 = cl == std::string_view::npos ? head.find("\r\ncontent-length:") : cl;
      if (cl2 != std::string_view::npos) {
        const auto len = std::strtoull(std::string(head.substr(cl2 + 17, 24)).c_str(), nullptr, 10);
        if (in.size() >= end + 4 + len) break;
      }
    }
  }
  const auto end = in.find("\r\n\r\n");
  if (!in.starts_with("HTTP/1.") || end == std::string::npos || in.size() < 12) {
    r.error = "not an HTTP reply";
    return r;
  }
  r.status = std::atoi(in.c_str() + 9);
  std::string_view head(in.data(), end);
  head.remove_prefix(std::min(head.size(), head.find("\r\n") == std::string_view::npos ? head.size() : head.find("\r\n") + 2));
  while (!head.empty()) {
    const auto eol = std::min(head.find("\r\n"), head.size());
    const auto line = head.substr(0, eol);
    if (const auto colon = line.find(':'); colon != std::string_view::npos) {
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    head.remove_prefix(std::min(head.size(), eol + 2));
  }
  r.body = in.substr(end + 4);
  if (r.header("Transfer-Encoding").find("chunked") != std::string::npos) r.body = decode_chunked(r.body);
  if (r.body.size() > max_body) r.body.resize(max_body);
  return r;
}

}  // namespace deploy
