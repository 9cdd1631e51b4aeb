#pragma once
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

/// Why a response was refused. The generator measures a server that speaks plain Content-Length HTTP/1.1;
/// anything else is reported as what it is rather than half-understood.
enum class http_error {
  head_too_large = 1,     ///< status line and headers over max_response_head
  body_too_large,         ///< Content-Length over max_response_body
  too_many_headers,       ///< more than max_response_headers
  malformed_status_line,  ///< not "HTTP/1.x NNN reason"
  malformed_header,       ///< a header line without a colon, or a bad Content-Length
  chunked_not_supported,  ///< Transfer-Encoding present: only Content-Length bodies are read
  no_content_length,      ///< a body delimited by closing the connection cannot be timed per request
  closed,                 ///< the server closed the connection between or inside responses
};
const boost::system::error_category& http_category() noexcept;
inline error_code make_error_code(http_error e) noexcept {
  return {static_cast<int>(e), http_category()};
}

/// Bounds on one response (ARCHITECTURE.md rule 4): larger means a broken stream, not a slow server.
namespace http_limits {
inline constexpr std::size_t max_response_head = std::size_t{16} * 1024;
inline constexpr std::size_t max_response_headers = 64;
inline constexpr std::size_t max_response_body = std::size_t{8} * 1024 * 1024;  ///< chat replies are a few KiB
}  // namespace http_limits

/// One response. Every view points into the client's receive buffer and is valid until the next
/// read_response(); the object is meant to be reused so its header vector keeps its capacity.
struct http_response_view {
  int status = 0;
  int version_minor = 1;
  bool keep_alive = true;  ///< false after "Connection: close" (or HTTP/1.0 without keep-alive)
  std::vector<std::pair<std::string_view, std::string_view>> headers;  ///< as sent, values trimmed
  std::string_view body;

  /// The first header named `name` (ASCII case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const;
};

/// Host and port of an `http://host[:port][/...]` URL (the path is ignored: the generator knows its routes).
struct http_url {
  std::string host;
  std::string port;
};

/// Splits a URL authority "host[:port]" or "[v6][:port]" (port 80 when absent); nullopt when malformed.
std::optional<http_url> parse_authority(std::string_view authority);

/// Parses `http://host[:port][/path]` ("[v6]" hosts allowed); nullopt for anything else, https included.
std::optional<http_url> parse_http_url(std::string_view text);

/// A complete request with Content-Length, ready to be sent as is (built once, outside any hot loop).
std::string http_post(std::string_view host_header, std::string_view target, std::string_view content_type,
                      std::string_view body);
/// A complete GET request without a body.
std::string http_get(std::string_view host_header, std::string_view target);

/// A complete request with any method, extra headers and an optional body (Content-Length is added).
std::string http_request_text(std::string_view method, std::string_view host_header, std::string_view target,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              std::string_view content_type = {}, std::string_view body = {});

/// What one fetch() brought back.
struct fetched {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

/// One request on a fresh connection (resolve, connect, send, read, close), abandoned after `timeout`. Arguments
/// are taken by value: the coroutine outlives the caller's temporaries.
/// for control-plane calls (signaling polls, backend calls), not for load. `url` is http://host[:port]; `target`
/// the path and query.
asio::awaitable<boost::system::result<fetched>> fetch(asio::any_io_executor executor, http_url url,
                                                      std::string request, std::chrono::milliseconds timeout);

/// `dur` in milliseconds of `metric` in a Server-Timing header value (W3C Server Timing), e.g.
/// "app;dur=1.25" or "db;dur=3, app;desc=\"x\";dur=0.4"; nullopt when the metric or its dur is absent.
std::optional<double> server_timing_ms(std::string_view value, std::string_view metric);

/// A minimal HTTP/1.1 keep-alive client for load generation: requests are pre-serialised bytes, written in
/// order (pipelining allowed); responses are read in order and parsed in place. Not for HEAD requests (their
/// responses announce a body they do not carry). Single-threaded; the owner keeps it alive until every
/// operation on it has completed.
class http_client {
 public:
  explicit http_client(const asio::any_io_executor& executor);

  /// TCP connect with TCP_NODELAY (requests are small and each one is timed).
  asio::awaitable<error_code> connect(tcp::endpoint server);

  /// Queues one complete request; written at once unless a write is in flight, else with the next write.
  void send(std::string_view request);

  /// Reads the next response into `out`. Errors: the socket's, or http_error values.
  asio::awaitable<error_code> read_response(http_response_view& out);

  /// Closes the socket at once; pending operations end with operation_aborted.
  void abort();

  bool is_open() const { return socket_.is_open(); }

 private:
  /// Parses the head in in_[begin_, begin_ + head_bytes) into `out` (body left empty).
  error_code parse_head(std::size_t head_bytes, http_response_view& out, std::size_t& content_length) const;
  /// Makes room after end_ for at least `want` more bytes of a response starting at begin_.
  void make_room(std::size_t want);
  void flush();

  tcp::socket socket_;
  std::vector<char> in_;  ///< receive buffer; bytes [begin_, end_) not yet handed out
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::size_t consumed_ = 0;  ///< size of the response last handed out, dropped at the next read
  std::string out_;           ///< requests queued while a write is in flight
  std::string writing_;       ///< requests being written
  bool write_in_flight_ = false;
  error_code write_error_;  ///< why the last write failed; reported by the read it aborted
};

}  // namespace net
