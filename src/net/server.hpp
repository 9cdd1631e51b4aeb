#pragma once
#include "net/http.hpp"
#include "net/stream.hpp"
#include "net/ws.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace net {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// Every bound the server enforces at its edge. Defaults are the production values.
struct server_limits {
  http_parse_limits http;
  std::size_t max_message_bytes = std::size_t{256} * 1024;    ///< one WebSocket message; SDP offers are 2-20 KiB
  std::size_t max_send_queue_bytes = std::size_t{1024} * 1024;  ///< per socket; a reader this far behind is cut off
  std::size_t max_sockets_per_ip = 256;            ///< browsers open a handful; one NAT'd site more
  std::size_t max_sockets = 19000;                 ///< below the 20,000 fd limit of the target machines
  std::chrono::milliseconds handshake_timeout = 10s;  ///< TLS handshake plus the first request's headers
  std::chrono::milliseconds http_idle_timeout = 30s;  ///< keep-alive connection with no request
  std::chrono::milliseconds ws_ping_interval = 20s;   ///< 0 disables pings (pure compatibility)
  /// Headers added to the responses the server writes itself (parse errors, 503 when full), e.g. CORS.
  std::vector<std::pair<std::string, std::string>> own_response_headers;
  /// The server's own error responses as {"error":{"code","message"}} JSON instead of plain text (an API server).
  bool json_errors = false;
};

/// Counters the server keeps; read by the component for metrics.
struct server_stats {
  std::uint64_t accepted = 0;
  std::uint64_t refused_per_ip = 0;
  std::uint64_t refused_capacity = 0;
  std::uint64_t handshake_timeouts = 0;
  std::uint64_t idle_timeouts = 0;
  std::uint64_t ping_timeouts = 0;
  std::uint64_t pings_sent = 0;
  std::uint64_t protocol_errors = 0;   ///< WebSocket violations (close 1002/1007)
  std::uint64_t too_big = 0;           ///< WebSocket messages over the limit (close 1009)
  std::uint64_t slow_readers = 0;      ///< send queue overflow
  std::uint64_t http_bad_requests = 0; ///< requests rejected by the parser
  std::uint64_t http_requests = 0;
  std::uint64_t ws_messages_in = 0;
  std::uint64_t ws_messages_out = 0;
  std::size_t open_sockets = 0;
  std::size_t open_websockets = 0;
};

/// An encoded server frame shared between every socket it is sent to (broadcasts encode once).
using shared_frame = std::shared_ptr<const std::string>;

/// Encodes a text frame once for sharing.
shared_frame make_text_frame(std::string_view payload);

/// The handle a WebSocket handler sees; valid from on_open until on_close returns.
class ws_connection {
 public:
  virtual std::uint64_t id() const noexcept = 0;
  virtual const std::string& remote_ip() const noexcept = 0;
  /// Queues a frame; a socket whose queue exceeds the limit is disconnected.
  virtual void send(const shared_frame& frame) = 0;
  void send_text(std::string_view payload) { send(make_text_frame(payload)); }
  /// Sends a close frame and closes the socket once it is flushed.
  virtual void close(std::uint16_t code, std::string_view reason) = 0;

 protected:
  ~ws_connection() = default;
};

class ws_handler {
 public:
  virtual ~ws_handler() = default;
  /// `upgrade` is the HTTP request that opened the socket (path and query may carry a role).
  virtual void on_open(ws_connection& c, const http_request& upgrade) = 0;
  virtual void on_message(ws_connection& c, ws::opcode type, std::string_view payload) = 0;
  virtual void on_close(ws_connection& c) = 0;
};

/// One finished HTTP exchange, for access logs.
struct access_record {
  std::string_view remote_ip;
  const http_request* request = nullptr;  ///< null when the request did not parse
  int status = 0;
  std::size_t bytes = 0;
  std::chrono::microseconds duration{};
};

/// Completes one asynchronous HTTP exchange. Call it exactly once, from any thread; the response is
/// written on the connection's own executor.
class responder {
 public:
  responder(asio::any_completion_handler<void(http_response)> done, asio::io_context::executor_type executor)
      : done_(std::move(done)), executor_(std::move(executor)) {}
  void operator()(http_response response);

 private:
  asio::any_completion_handler<void(http_response)> done_;
  asio::io_context::executor_type executor_;
};

class http_handler {
 public:
  virtual ~http_handler() = default;
  /// Answers at once; the default for handlers that only implement handle_async is 501.
  virtual http_response handle(const http_request& request, std::string_view remote_ip);
  /// Answers later (a model call, a durable write): `request` stays valid until `respond` is called.
  /// The default calls handle() and responds at once.
  virtual void handle_async(const http_request& request, std::string_view remote_ip, responder respond) {
    respond(handle(request, remote_ip));
  }
  /// The handler for a WebSocket upgrade on this request, or nullptr with `refusal` filled in.
  virtual ws_handler* websocket(const http_request& request, http_response& refusal) = 0;
  virtual void access(const access_record&) {}
};

class connection;

/// A single-threaded HTTP/1.1 + WebSocket server over plain TCP or TLS, with all limits enforced.
class server {
 public:
  server(asio::io_context& io, server_limits limits, http_handler& handler, asio::ssl::context* tls,
         std::shared_ptr<spdlog::logger> log);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and starts accepting; returns the bound port (useful with port 0).
  std::uint16_t listen(const std::string& address, std::uint16_t port);

  /// Stops accepting, sends close frames (1001) to WebSockets, closes idle HTTP connections, and
  /// force-closes whatever is left after `grace`.
  void shutdown(std::chrono::milliseconds grace = 500ms);

  const server_stats& stats() const noexcept { return stats_; }
  const server_limits& limits() const noexcept { return limits_; }

 private:
  friend class connection;
  asio::awaitable<void> accept_loop(acceptor_type& acceptor);
  void start_sweep();
  void arm_sweep();
  void sweep();
  void release(connection* c);
  void schedule_flush(std::shared_ptr<connection> c);
  void run_flushes();
  void begin_batch() noexcept;
  void end_batch();

  asio::io_context& io_;
  server_limits limits_;
  http_handler& handler_;
  asio::ssl::context* tls_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<std::unique_ptr<acceptor_type>> acceptors_;
  asio::steady_timer sweep_timer_;
  asio::steady_timer shutdown_timer_;
  std::unordered_set<connection*> connections_;
  std::unordered_map<std::string, std::uint32_t> per_ip_;
  server_stats stats_;
  std::string busy_response_;  ///< the 503 written to refused sockets, built once
  std::vector<std::shared_ptr<connection>> to_flush_;  ///< sockets with frames queued this turn
  bool flush_posted_ = false;
  int batch_depth_ = 0;  ///< > 0 while received bytes are being handled
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  bool sweeping_ = false;
};

}  // namespace net
