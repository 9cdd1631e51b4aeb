#include "stream/signaling.hpp"

#include "core/json_scan.hpp"
#include "core/log.hpp"
#include "net/http_client.hpp"
#include "net/ws_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <charconv>
#include <deque>

namespace stream {

namespace asio = boost::asio;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t max_message_depth = 8;
constexpr auto request_timeout = 5s;

std::string text_of(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// sdpMLineIndex and sdpMid arrive as numbers or strings, sometimes in each other's places (protocol quirk Q5).
void read_candidate_position(const json& j, signal_event& e) {
  const auto as_int = [](const json& v) -> std::optional<int> {
    if (v.is_number_integer()) return v.get<int>();
    if (v.is_string()) {
      const auto& s = v.get_ref<const std::string&>();
      int n = 0;
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (ec == std::errc() && end == s.data() + s.size()) return n;
    }
    return std::nullopt;
  };
  const auto index = j.find("sdpMLineIndex");
  const auto mid = j.find("sdpMid");
  if (mid != j.end()) e.sdp_mid = mid->is_string() ? mid->get<std::string>() : (mid->is_number() ? mid->dump() : "");
  if (index != j.end())
    if (const auto n = as_int(*index)) {
      e.mline = *n;
      return;
    }
  if (mid != j.end())
    if (const auto n = as_int(*mid)) e.mline = *n;
}

std::optional<signal_event::kind> kind_of(std::string_view type) {
  if (type == "connect") return signal_event::kind::connect;
  if (type == "disconnect") return signal_event::kind::disconnect;
  if (type == "offer") return signal_event::kind::offer;
  if (type == "answer") return signal_event::kind::answer;
  if (type == "candidate") return signal_event::kind::candidate;
  if (type == "error") return signal_event::kind::error;
  return std::nullopt;
}

}  // namespace

std::optional<signal_event> decode_ws(std::string_view text) {
  auto parsed = core::json_scan::parse(text, max_message_depth);
  if (!parsed || !parsed->is_object()) return std::nullopt;
  const json& j = *parsed;
  const auto type = kind_of(text_of(j, "type"));
  if (!type) return std::nullopt;
  signal_event e;
  e.type = *type;
  switch (e.type) {
    case signal_event::kind::connect:
    case signal_event::kind::disconnect:
      e.connection_id = text_of(j, "connectionId");
      if (const auto p = j.find("polite"); p != j.end() && p->is_boolean()) e.polite = p->get<bool>();
      break;
    case signal_event::kind::error:
      e.message = text_of(j, "message");
      break;
    default: {
      // Relayed messages name the connection in "from" and carry the rest in "data".
      e.connection_id = text_of(j, "from");
      const auto data = j.find("data");
      if (data == j.end() || !data->is_object()) return std::nullopt;
      if (e.connection_id.empty()) e.connection_id = text_of(*data, "connectionId");
      e.sdp = text_of(*data, "sdp");
      e.candidate = text_of(*data, "candidate");
      if (const auto p = data->find("polite"); p != data->end() && p->is_boolean()) e.polite = p->get<bool>();
      read_candidate_position(*data, e);
    }
  }
  if (e.type != signal_event::kind::error && e.connection_id.empty()) return std::nullopt;
  return e;
}

std::string encode_ws_connect(std::string_view id) {
  return json{{"type", "connect"}, {"connectionId", id}}.dump();
}

std::string encode_ws_disconnect(std::string_view id) {
  return json{{"type", "disconnect"}, {"connectionId", id}}.dump();
}

std::string encode_ws_description(std::string_view type, std::string_view id, std::string_view sdp, bool polite) {
  return json{
      {"type", type}, {"from", id}, {"data", {{"connectionId", id}, {"sdp", sdp}, {"type", type}, {"polite", polite}}}}
      .dump();
}

std::string encode_ws_candidate(std::string_view id, std::string_view candidate, std::string_view mid, int mline) {
  return json{{"type", "candidate"},
              {"from", id},
              {"data", {{"connectionId", id}, {"candidate", candidate}, {"sdpMid", mid}, {"sdpMLineIndex", mline}}}}
      .dump();
}

std::optional<poll_result> decode_poll(std::string_view text) {
  auto parsed = core::json_scan::parse(text, max_message_depth);
  if (!parsed || !parsed->is_object()) return std::nullopt;
  poll_result out;
  if (const auto d = parsed->find("datetime"); d != parsed->end() && d->is_number())
    out.datetime = d->get<std::int64_t>();
  const auto messages = parsed->find("messages");
  if (messages == parsed->end() || !messages->is_array()) return out;
  for (const auto& m : *messages) {
    if (!m.is_object()) continue;
    const auto type = kind_of(text_of(m, "type"));
    if (!type) continue;
    signal_event e;
    e.type = *type;
    e.connection_id = text_of(m, "connectionId");
    e.sdp = text_of(m, "sdp");
    e.candidate = text_of(m, "candidate");
    if (const auto p = m.find("polite"); p != m.end() && p->is_boolean()) e.polite = p->get<bool>();
    read_candidate_position(m, e);
    if (const auto d = m.find("datetime"); d != m.end() && d->is_number()) e.datetime = d->get<std::int64_t>();
    if (!e.connection_id.empty()) out.events.push_back(std::move(e));
  }
  return out;
}

std::string encode_http_description(std::string_view id, std::string_view sdp) {
  return json{{"connectionId", id}, {"sdp", sdp}}.dump();
}

std::string encode_http_candidate(std::string_view id, std::string_view candidate, std::string_view mid, int mline) {
  return json{{"connectionId", id}, {"candidate", candidate}, {"sdpMLineIndex", mline}, {"sdpMid", mid}}.dump();
}

std::string encode_http_connection(std::string_view id) {
  return json{{"connectionId", id}}.dump();
}

bool poll_dedupe::first_time(const signal_event& e) {
  // A record is the same record when all of these match.
  std::string key = std::to_string(static_cast<int>(e.type)) + '|' + e.connection_id + '|' +
                    std::to_string(e.datetime) + '|' + std::to_string(std::hash<std::string>{}(e.sdp + e.candidate));
  if (seen_.size() > 10000) seen_.clear();  // bound: an old duplicate at worst acts twice, which the peer tolerates
  return seen_.insert(std::move(key)).second;
}

void poll_dedupe::forget(std::string_view connection_id) {
  std::erase_if(seen_, [&](const std::string& k) {
    return k.find(std::string("|") + std::string(connection_id) + "|") != std::string::npos;
  });
}

namespace {

// ---- WebSocket ----

class ws_signaling final : public signaling_client {
 public:
  ws_signaling(asio::io_context& io, std::string url, std::chrono::milliseconds retry,
               std::shared_ptr<spdlog::logger> log)
      : state_(std::make_shared<state>(io, std::move(url), retry, std::move(log))) {}
  ~ws_signaling() override { stop(); }

  void start(handlers h) override {
    state_->h = std::move(h);
    asio::co_spawn(state_->io, run(state_), asio::detached);
  }
  void stop() override {
    state_->stopped = true;
    state_->h = {};  // nothing is delivered after stop, whatever is still in flight
    state_->timer.cancel();
    if (state_->ws) state_->ws->abort();
  }
  void send_connect(const std::string& id) override { send(encode_ws_connect(id)); }
  void send_disconnect(const std::string& id) override { send(encode_ws_disconnect(id)); }
  void send_description(const std::string& type, const std::string& id, const std::string& sdp, bool polite) override {
    send(encode_ws_description(type, id, sdp, polite));
  }
  void send_candidate(const std::string& id, const std::string& candidate, const std::string& mid, int mline) override {
    send(encode_ws_candidate(id, candidate, mid, mline));
  }

 private:
  struct state {
    state(asio::io_context& i, std::string u, std::chrono::milliseconds r, std::shared_ptr<spdlog::logger> l)
        : io(i), url(std::move(u)), retry(r), log(std::move(l)), timer(i) {}
    asio::io_context& io;
    std::string url;
    std::chrono::milliseconds retry;
    std::shared_ptr<spdlog::logger> log;
    asio::steady_timer timer;
    handlers h;
    net::ws_client* ws = nullptr;  // while connected
    bool stopped = false;
  };

  void send(const std::string& text) {
    if (state_->ws)
      state_->ws->send_text(text);
    else
      core::log::event(*state_->log, spdlog::level::debug, "signaling_send_dropped", {{"reason", "not connected"}});
  }

  static asio::awaitable<void> run(std::shared_ptr<state> s) {
    const auto url = net::parse_ws_url(s->url);
    if (!url) {
      core::log::event(*s->log, spdlog::level::err, "signaling_bad_url", {{"url", s->url}});
      co_return;
    }
    std::uint64_t seed = 1;
    while (!s->stopped) {
      asio::ip::tcp::resolver resolver(s->io);
      auto [rec, endpoints] =
          co_await resolver.async_resolve(url->host, url->port, asio::as_tuple(asio::use_awaitable));
      if (!rec && !endpoints.empty()) {
        net::ws_client ws(s->io.get_executor(), std::size_t{64} * 1024, seed++);
        auto ec = co_await ws.open(endpoints.begin()->endpoint(), *url);
        if (!ec && !s->stopped) {
          s->ws = &ws;
          core::log::event(*s->log, spdlog::level::info, "signaling_connected", {{"transport", "websocket"}});
          if (s->h.state) s->h.state(true);
          ec = co_await ws.run([&](std::string_view text) {
            if (auto e = decode_ws(text); e && s->h.event) s->h.event(std::move(*e));
          });
          s->ws = nullptr;
          if (!s->stopped) {
            core::log::event(*s->log, spdlog::level::warn, "signaling_lost", {{"error", ec.message()}});
            if (s->h.state) s->h.state(false);
          }
        } else if (ec) {
          core::log::event(*s->log, spdlog::level::warn, "signaling_connect_failed", {{"error", ec.message()}});
        }
      }
      if (s->stopped) break;
      s->timer.expires_after(s->retry);
      co_await s->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  std::shared_ptr<state> state_;
};

// ---- HTTP polling ----

class http_signaling final : public signaling_client {
 public:
  http_signaling(asio::io_context& io, std::string url, std::chrono::milliseconds interval,
                 std::shared_ptr<spdlog::logger> log)
      : state_(std::make_shared<state>(io, std::move(url), interval, std::move(log))) {}
  ~http_signaling() override { stop(); }

  void start(handlers h) override {
    state_->h = std::move(h);
    asio::co_spawn(state_->io, poll(state_), asio::detached);
  }
  void stop() override {
    state_->stopped = true;
    state_->h = {};  // nothing is delivered after stop, whatever is still in flight
    state_->timer.cancel();
    state_->wake.cancel();
  }
  void send_connect(const std::string& id) override {
    post(state_, "PUT", "/signaling/connection", encode_http_connection(id));
  }
  void send_disconnect(const std::string& id) override {
    post(state_, "DELETE", "/signaling/connection", encode_http_connection(id));
  }
  void send_description(const std::string& type, const std::string& id, const std::string& sdp, bool) override {
    post(state_, "POST", "/signaling/" + type, encode_http_description(id, sdp));
  }
  void send_candidate(const std::string& id, const std::string& candidate, const std::string& mid, int mline) override {
    post(state_, "POST", "/signaling/candidate", encode_http_candidate(id, candidate, mid, mline));
  }

 private:
  struct outgoing {
    std::string method, target, body;
  };
  struct state {
    state(asio::io_context& i, std::string u, std::chrono::milliseconds iv, std::shared_ptr<spdlog::logger> l)
        : io(i), url(std::move(u)), interval(iv), log(std::move(l)), timer(i), wake(i) {}
    asio::io_context& io;
    std::string url;
    std::chrono::milliseconds interval;
    std::shared_ptr<spdlog::logger> log;
    asio::steady_timer timer;
    asio::steady_timer wake;  ///< wakes the sender when something is queued
    handlers h;
    std::string session;
    std::deque<outgoing> outbox;
    bool sending = false;
    bool stopped = false;
    poll_dedupe dedupe;
  };

  static std::string host_header(const net::http_url& u) { return u.host + ":" + u.port; }

  /// Posts go out one at a time, in order: a candidate must not overtake the answer it belongs to.
  static void post(const std::shared_ptr<state>& s, std::string method, std::string target, std::string body) {
    s->outbox.push_back({std::move(method), std::move(target), std::move(body)});
    if (!s->sending) {
      s->sending = true;
      asio::co_spawn(s->io, drain(s), asio::detached);
    }
  }

  static asio::awaitable<void> drain(std::shared_ptr<state> s) {
    const auto url = net::parse_http_url(s->url);
    while (url && !s->outbox.empty() && !s->stopped) {
      if (s->session.empty()) {  // not registered yet: wait for the poller
        s->wake.expires_after(100ms);
        co_await s->wake.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      auto next = std::move(s->outbox.front());
      s->outbox.pop_front();
      const std::vector<std::pair<std::string, std::string>> headers{{"Session-Id", s->session}};
      auto request =
          net::http_request_text(next.method, host_header(*url), next.target, headers, "application/json", next.body);
      auto r = co_await net::fetch(s->io.get_executor(), *url, std::move(request), request_timeout);
      if (!r || r->status != 200) {
        core::log::event(
            *s->log, spdlog::level::warn, "signaling_post_failed",
            {{"target", next.target}, {"status", r ? r->status : 0}, {"error", r ? "" : r.error().message()}});
      } else if (next.method == "PUT" && next.target == "/signaling/connection") {
        // Over HTTP the connect acknowledgement (with the polite flag) is this reply, not a polled message.
        if (auto j = core::json_scan::parse(r->body, 4); j && j->is_object() && s->h.event) {
          signal_event e;
          e.type = signal_event::kind::connect;
          e.connection_id = text_of(*j, "connectionId");
          if (const auto p = j->find("polite"); p != j->end() && p->is_boolean()) e.polite = p->get<bool>();
          if (!e.connection_id.empty()) s->h.event(std::move(e));
        }
      }
    }
    s->sending = false;
  }

  static asio::awaitable<void> poll(std::shared_ptr<state> s) {
    const auto url = net::parse_http_url(s->url);
    if (!url) {
      core::log::event(*s->log, spdlog::level::err, "signaling_bad_url", {{"url", s->url}});
      co_return;
    }
    std::int64_t fromtime = 0;
    bool up = false;
    while (!s->stopped) {
      if (s->session.empty()) {
        const std::vector<std::pair<std::string, std::string>> none;
        auto put = net::http_request_text("PUT", host_header(*url), "/signaling", none);
        auto r = co_await net::fetch(s->io.get_executor(), *url, std::move(put), request_timeout);
        if (r && r->status == 200)
          if (auto j = core::json_scan::parse(r->body, 4); j && j->is_object()) s->session = text_of(*j, "sessionId");
        if (!s->session.empty()) {
          fromtime = 0;
          up = true;
          core::log::event(*s->log, spdlog::level::info, "signaling_connected", {{"transport", "http"}});
          if (s->h.state) s->h.state(true);
        }
      } else {
        const std::vector<std::pair<std::string, std::string>> headers{{"Session-Id", s->session}};
        auto get = net::http_request_text("GET", host_header(*url), "/signaling?fromtime=" + std::to_string(fromtime),
                                          headers);
        auto r = co_await net::fetch(s->io.get_executor(), *url, std::move(get), request_timeout);
        if (r && r->status == 200) {
          if (auto polled = decode_poll(r->body)) {
            if (polled->datetime > 0) fromtime = polled->datetime;
            for (auto& e : polled->events) {
              if (e.type == signal_event::kind::connect) continue;  // only the PUT reply creates a connection
              if (s->dedupe.first_time(e) && s->h.event) s->h.event(std::move(e));
            }
          }
        } else {
          // 404: the server forgot the session (it was away over 10 s); anything else: the server is unreachable.
          core::log::event(*s->log, spdlog::level::warn, "signaling_lost",
                           {{"status", r ? r->status : 0}, {"error", r ? "" : r.error().message()}});
          s->session.clear();
          if (up && s->h.state) s->h.state(false);
          up = false;
        }
      }
      if (s->stopped) break;
      s->timer.expires_after(s->interval);
      co_await s->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (!s->session.empty()) {  // leave cleanly so the peers hear of it now, not after the 10 s timeout
      const std::vector<std::pair<std::string, std::string>> headers{{"Session-Id", s->session}};
      auto del = net::http_request_text("DELETE", host_header(*url), "/signaling", headers);
      (void)co_await net::fetch(s->io.get_executor(), *url, std::move(del), 1s);
    }
  }

  std::shared_ptr<state> state_;
};

}  // namespace

std::unique_ptr<signaling_client> make_ws_signaling(asio::io_context& io, std::string url,
                                                    std::chrono::milliseconds retry,
                                                    std::shared_ptr<spdlog::logger> log) {
  return std::make_unique<ws_signaling>(io, std::move(url), retry, std::move(log));
}

std::unique_ptr<signaling_client> make_http_signaling(asio::io_context& io, std::string url,
                                                      std::chrono::milliseconds interval,
                                                      std::shared_ptr<spdlog::logger> log) {
  return std::make_unique<http_signaling>(io, std::move(url), interval, std::move(log));
}

}  // namespace stream
