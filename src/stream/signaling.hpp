#pragma once
// The Unity Render Streaming signaling protocol from the player's side: the messages as value types, their JSON for
// both transports, and the two transports (WebSocket with a 5 s reconnect, HTTP polling), as the Unity player's
// C# client speaks them.

#include <boost/asio/io_context.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace stream {

/// One message from the signaling server, whichever transport carried it.
struct signal_event {
  enum class kind { connect, offer, answer, candidate, disconnect, error };
  kind type = kind::error;
  std::string connection_id;
  std::string sdp;
  std::string candidate;
  std::string sdp_mid;
  int mline = 0;
  bool polite = false;
  std::string message;        ///< error text
  std::int64_t datetime = 0;  ///< server time of a polled record (HTTP transport)
};

// ---- JSON, pure (unit-tested) ----

/// A WebSocket frame from the server; nullopt for anything this peer does not act on.
std::optional<signal_event> decode_ws(std::string_view text);
std::string encode_ws_connect(std::string_view id);
std::string encode_ws_disconnect(std::string_view id);
/// Offer or answer in the routed envelope Unity sends: {type, from, data:{connectionId, sdp, type, polite}}.
std::string encode_ws_description(std::string_view type, std::string_view id, std::string_view sdp, bool polite);
std::string encode_ws_candidate(std::string_view id, std::string_view candidate, std::string_view mid, int mline);

/// A `GET /signaling?fromtime=` reply: its messages and its `datetime` (the next fromtime).
struct poll_result {
  std::vector<signal_event> events;
  std::int64_t datetime = 0;
};
std::optional<poll_result> decode_poll(std::string_view text);
std::string encode_http_description(std::string_view id, std::string_view sdp);
std::string encode_http_candidate(std::string_view id, std::string_view candidate, std::string_view mid, int mline);
std::string encode_http_connection(std::string_view id);

/// Drops what HTTP polling delivers twice (fromtime is inclusive and offers stay until deleted).
class poll_dedupe {
 public:
  bool first_time(const signal_event& e);
  void forget(std::string_view connection_id);

 private:
  std::set<std::string> seen_;
};

// ---- transports ----

/// One signaling connection; every callback runs on the io_context's thread.
class signaling_client {
 public:
  struct handlers {
    std::function<void(signal_event)> event;
    std::function<void(bool up)> state;  ///< up after (re)connecting, down when the server is lost
  };
  virtual ~signaling_client() = default;
  virtual void start(handlers h) = 0;
  virtual void stop() = 0;
  virtual void send_connect(const std::string& id) = 0;
  virtual void send_disconnect(const std::string& id) = 0;
  virtual void send_description(const std::string& type, const std::string& id, const std::string& sdp, bool polite) = 0;
  virtual void send_candidate(const std::string& id, const std::string& candidate, const std::string& mid, int mline) = 0;
};

/// WebSocket transport (`ws://host[:port][/path]`); reconnects `retry` after the connection drops, as Unity does.
std::unique_ptr<signaling_client> make_ws_signaling(boost::asio::io_context& io, std::string url,
                                                    std::chrono::milliseconds retry, std::shared_ptr<spdlog::logger> log);
/// HTTP-polling transport (`http://host[:port]`): PUT /signaling, then GET /signaling?fromtime= every `interval`.
std::unique_ptr<signaling_client> make_http_signaling(boost::asio::io_context& io, std::string url,
                                                      std::chrono::milliseconds interval,
                                                      std::shared_ptr<spdlog::logger> log);

}  // namespace stream
