#pragma once
#include "net/server.hpp"
#include "signal/config.hpp"
#include "signal/http_registry.hpp"
#include "signal/ws_registry.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <memory>
#include <unordered_map>
#include <unordered_set>

namespace signaling {

/// Runs sparc-signal until SIGTERM or SIGINT; returns the process exit code.
int run(const config& cfg);

/// Drops of client input, by reason (for metrics).
struct input_drops {
  std::uint64_t malformed = 0;     ///< not JSON, not an object, too deep
  std::uint64_t invalid = 0;       ///< wrong types, missing fields
  std::uint64_t rate_limited = 0;
};

/// The signaling service: HTTP routes (/config, /signaling*, static files), the WebSocket relay and
/// the metrics listener, over one net::server each.
class service final : public net::http_handler, public net::ws_handler {
 public:
  service(boost::asio::io_context& io, const config& cfg, std::shared_ptr<spdlog::logger> log,
          boost::asio::ssl::context* tls);
  ~service() override;

  /// Opens the listeners and timers and writes the ready file. Throws on bind failure.
  void start();
  /// Graceful stop: close frames, drain, then the io_context runs out of work.
  void stop();

  std::uint16_t port() const noexcept { return port_; }
  std::uint16_t metrics_port() const noexcept { return metrics_port_; }

  net::http_response handle(const net::http_request& request, std::string_view remote_ip) override;
  net::ws_handler* websocket(const net::http_request& request, net::http_response& refusal) override;
  void access(const net::access_record& record) override;

  void on_open(net::ws_connection& c, const net::http_request& upgrade) override;
  void on_message(net::ws_connection& c, net::ws::opcode type, std::string_view payload) override;
  void on_close(net::ws_connection& c) override;

  std::string metrics_text() const;
  nlohmann::ordered_json status_json() const;

 private:
  struct rate_bucket {
    double tokens;
    std::chrono::steady_clock::time_point last;
    std::chrono::steady_clock::time_point last_notice{};
  };

  net::http_response signaling(const net::http_request& request, std::string_view sub);
  net::http_response config_response() const;
  void deliver(const std::vector<delivery>& out);
  bool admit(net::ws_connection& c);
  void arm_session_sweep();
  void write_ready_file() const;

  boost::asio::io_context& io_;
  const config& cfg_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<spdlog::logger> access_log_;
  ws_registry ws_;
  http_registry http_;
  std::unordered_map<peer_id, net::ws_connection*> sockets_;
  std::unordered_map<peer_id, rate_bucket> buckets_;
  std::unordered_set<peer_id> noisy_;  ///< sockets whose misbehaviour was already logged at info
  net::server server_;
  std::unique_ptr<net::http_handler> metrics_handler_;
  std::unique_ptr<net::server> metrics_server_;
  boost::asio::steady_timer session_timer_;
  input_drops drops_;
  std::uint64_t http_relayed_ = 0;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::uint16_t port_ = 0;
  std::uint16_t metrics_port_ = 0;
};

}  // namespace signaling
