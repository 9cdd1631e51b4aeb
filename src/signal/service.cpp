#include "signal/service.hpp"
#include "signal/limits.hpp"

#include "core/log.hpp"
#include "net/static_files.hpp"
#include "net/tls.hpp"

#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace signaling {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using namespace std::chrono_literals;

namespace {

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::chrono::milliseconds to_ms(double seconds) { return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000)); }

net::server_limits limits_from(const config& c) {
  net::server_limits l;
  l.http.max_header_bytes = c.max_header_bytes;
  l.http.max_body_bytes = c.max_message_bytes;
  l.max_message_bytes = c.max_message_bytes;
  l.max_send_queue_bytes = c.max_send_queue_bytes;
  l.max_sockets_per_ip = c.max_sockets_per_ip;
  l.max_sockets = c.max_sockets;
  l.handshake_timeout = to_ms(c.handshake_timeout_s);
  l.http_idle_timeout = to_ms(c.idle_timeout_s);
  l.ws_ping_interval = to_ms(c.ping_interval_s);
  l.own_response_headers = {{"Access-Control-Allow-Origin", "*"}};
  return l;
}

net::http_response json_response(const json& body, int status = 200) {
  net::http_response r;
  r.status = status;
  r.content_type = "application/json; charset=utf-8";
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

/// Serves /metrics and /api/status on the metrics port.
class metrics_http final : public net::http_handler {
 public:
  explicit metrics_http(const service& s) : service_(s) {}
  net::http_response handle(const net::http_request& req, std::string_view) override {
    if (req.method != "GET" && req.method != "HEAD") return net::text_response(405);
    if (req.path == "/metrics") {
      net::http_response r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = service_.metrics_text();
      return r;
    }
    if (req.path == "/api/status") return json_response(service_.status_json());
    if (req.path == "/health") return json_response({{"status", "ok"}});
    return net::text_response(404);
  }
  net::ws_handler* websocket(const net::http_request&, net::http_response& refusal) override {
    refusal = net::text_response(404);
    return nullptr;
  }

 private:
  const service& service_;
};

}  // namespace

service::service(asio::io_context& io, const config& cfg, std::shared_ptr<spdlog::logger> log, asio::ssl::context* tls)
    : io_(io),
      cfg_(cfg),
      log_(std::move(log)),
      access_log_(core::log::get("access")),
      ws_(cfg.is_private(), cfg.streamers),
      http_(cfg.is_private(), static_cast<std::int64_t>(cfg.session_timeout_s * 1000)),
      server_(io, limits_from(cfg), *this, tls, core::log::get("net")),
      session_timer_(io) {}

service::~service() = default;

void service::start() {
  port_ = server_.listen(cfg_.bind, cfg_.port);
  if (cfg_.metrics) {
    metrics_handler_ = std::make_unique<metrics_http>(*this);
    auto lim = limits_from(cfg_);
    lim.ws_ping_interval = 0ms;
    metrics_server_ = std::make_unique<net::server>(io_, lim, *metrics_handler_, nullptr, core::log::get("net"));
    metrics_port_ = metrics_server_->listen(cfg_.bind, cfg_.metrics_port);
  }
  arm_session_sweep();
  core::log::event(*log_, spdlog::level::info, "listening",
                   {{"url", std::string(cfg_.secure ? "https://" : "http://") + cfg_.bind + ":" + std::to_string(port_)},
                    {"type", cfg_.use_websocket() ? "websocket" : "http"},
                    {"mode", cfg_.is_private() ? "private" : "public"},
                    {"metrics_port", metrics_port_},
                    {"ping_interval_s", cfg_.ping_interval_s},
                    {"ice_servers", !cfg_.ice.empty()}});
  write_ready_file();
}

void service::write_ready_file() const {
  if (cfg_.ready_file.empty()) return;
  const auto tmp = cfg_.ready_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json{{"port", port_}, {"metrics_port", metrics_port_}, {"pid", static_cast<long>(::getpid())}}.dump() << "\n";
  }
  std::filesystem::rename(tmp, cfg_.ready_file);
}

void service::stop() {
  core::log::event(*log_, spdlog::level::info, "stopping", {{"websockets", sockets_.size()}});
  session_timer_.cancel();
  server_.shutdown();
  if (metrics_server_) metrics_server_->shutdown(0ms);
}

void service::arm_session_sweep() {
  session_timer_.expires_after(250ms);
  session_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    if (const auto n = http_.evict_expired(unix_ms()); n > 0)
      core::log::event(*log_, spdlog::level::info, "http_sessions_evicted", {{"count", n}});
    arm_session_sweep();
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP

net::http_response service::handle(const net::http_request& req, std::string_view) {
  net::http_response r;
  if (req.method == "OPTIONS") {
    r.status = 204;
    r.headers.emplace_back("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE");
    const auto asked = req.header("access-control-request-headers");
    r.headers.emplace_back("Access-Control-Allow-Headers", asked ? std::string(*asked) : "Content-Type, Session-Id");
    r.headers.emplace_back("Access-Control-Max-Age", "600");
  } else if (req.path == "/config" && (req.method == "GET" || req.method == "HEAD")) {
    r = config_response();
  } else if (req.path == "/signaling" || req.path.starts_with("/signaling/")) {
    std::string_view sub = std::string_view(req.path).substr(std::string_view("/signaling").size());
    if (!sub.empty()) sub.remove_prefix(1);
    r = signaling(req, sub);
  } else if (req.method == "GET" || req.method == "HEAD") {
    std::optional<net::http_response> file;
    if (!cfg_.module_root.empty() && req.path.starts_with("/module/")) {
      file = net::serve_static(req, cfg_.module_root, std::string_view(req.path).substr(8));
    } else if (!cfg_.web_root.empty()) {
      file = net::serve_static(req, cfg_.web_root, std::string_view(req.path).substr(1));
    }
    r = file ? std::move(*file) : net::text_response(404);
  } else {
    r = net::text_response(404);
  }
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  return r;
}

net::http_response service::config_response() const {
  json body{{"useWebSocket", cfg_.use_websocket()}, {"startupMode", cfg_.mode}, {"logging", cfg_.logging}};
  if (!cfg_.compat && !cfg_.ice.empty()) body["iceServers"] = ice_servers_json(cfg_.ice, unix_ms() / 1000);
  if (!cfg_.compat && !cfg_.speech_url.empty()) body["speechUrl"] = cfg_.speech_url;  // Unity ignores unknown keys
  auto r = json_response(body);
  r.headers.emplace_back("Cache-Control", "no-store");  // it may carry short-lived TURN credentials
  return r;
}

net::http_response service::signaling(const net::http_request& req, std::string_view sub) {
  const auto now = unix_ms();
  const auto& m = req.method;
  const auto ok_text = [] { return net::text_response(200, "OK"); };

  if (sub.empty() && m == "PUT") {
    auto id = http_.create_session(now);
    if (!id) return net::json_error(503, "capacity", "too many signaling sessions");
    return json_response({{"sessionId", *id}});
  }
  const auto header = req.header("session-id");
  std::string session;
  if (header && header->size() <= limits::max_session_id_bytes) session.assign(*header);
  if (sub.empty() && m == "DELETE") {
    if (!session.empty()) http_.delete_session(session, now);
    return ok_text();
  }
  if (session.empty() || !http_.touch(session, now)) return net::text_response(404);

  std::int64_t from = 0;
  if (const auto q = req.query_param("fromtime"); q && !q->empty()) {
    // Clients send integers; the Unity client may send negative values or a float.
    try {
      from = static_cast<std::int64_t>(std::stod(std::string(*q)));
    } catch (const std::exception&) {
      return net::json_error(400, "invalid_argument", "fromtime must be a number");
    }
  }

  if (m == "GET") {
    if (sub.empty()) {
      http_.evict_expired(now);
      return json_response(http_.all(session, from, now));
    }
    if (sub == "connection") {
      http_.evict_expired(now);
      return json_response({{"connections", http_.connections(session, now)}});
    }
    if (sub == "offer") return json_response({{"offers", http_.offers(session, from)}});
    if (sub == "answer") return json_response({{"answers", http_.answers(session, from)}});
    if (sub == "candidate") return json_response({{"candidates", http_.candidates(session, from)}});
    return net::text_response(404);
  }

  if (sub != "connection" && sub != "offer" && sub != "answer" && sub != "candidate") return net::text_response(404);
  std::string why;
  auto body = parse_bounded(req.body.empty() ? std::string_view("{}") : std::string_view(req.body), &why);
  if (!body || !body->is_object()) {
    ++drops_.malformed;
    return net::json_error(400, "malformed", body ? "body must be a JSON object" : why);
  }
  auto id = read_connection_id(*body, &why);
  if (!id) {
    ++drops_.invalid;
    return net::json_error(400, "invalid_argument", why);
  }
  if (!*id) {
    ++drops_.invalid;
    return net::json_error(400, "missing_field", "connectionId is required");
  }
  const std::string& cid = **id;

  if (sub == "connection") {
    if (m == "PUT") {
      auto res = http_.create_connection(session, cid, now);
      if (!res) {
        if (res.error() == core::errc::conflict)
          return net::json_error(400, "conflict", cid + ": This connection id is already used.");
        return net::json_error(400, "too_many_ids", "too many connection ids in one session");
      }
      return json_response({{"connectionId", cid}, {"polite", res->polite}, {"type", "connect"}, {"datetime", res->datetime}});
    }
    if (m == "DELETE") {
      http_.delete_connection(session, cid, now);
      return json_response({{"connectionId", cid}});
    }
    return net::text_response(405);
  }
  if (m != "POST") return net::text_response(405);
  const auto sdp = body->find("sdp");
  if (sub == "offer") {
    http_.post_offer(session, cid, sdp == body->end() ? nlohmann::json() : *sdp, now);
  } else if (sub == "answer") {
    http_.post_answer(session, cid, sdp == body->end() ? nlohmann::json() : *sdp, now);
  } else {
    http_candidate c{cid, {}, {}, {}};
    if (auto it = body->find("candidate"); it != body->end()) c.candidate = *it;
    if (auto it = body->find("sdpMLineIndex"); it != body->end()) c.sdp_mline_index = *it;
    if (auto it = body->find("sdpMid"); it != body->end()) c.sdp_mid = *it;
    http_.post_candidate(session, c, now);
  }
  ++http_relayed_;
  return ok_text();
}

net::ws_handler* service::websocket(const net::http_request&, net::http_response& refusal) {
  if (cfg_.use_websocket()) return this;
  refusal = net::text_response(400, "this signaling server uses HTTP polling (type http); WebSocket is disabled");
  refusal.headers.emplace_back("Access-Control-Allow-Origin", "*");
  return nullptr;
}

void service::access(const net::access_record& a) {
  if (cfg_.logging == "none") return;
  nlohmann::json f;
  const auto ms = static_cast<double>(a.duration.count()) / 1000.0;
  const std::string method = a.request ? a.request->method : "-";
  const std::string url = a.request ? a.request->target : "-";
  if (cfg_.logging == "combined" || cfg_.logging == "short") f["remote"] = a.remote_ip;
  f["method"] = method;
  f["url"] = url;
  if (cfg_.logging == "combined" || cfg_.logging == "short")
    f["http"] = a.request ? (a.request->version_minor == 0 ? "1.0" : "1.1") : "-";
  f["status"] = a.status;
  f["bytes"] = a.bytes;
  if (cfg_.logging != "combined") f["ms"] = ms;
  if (cfg_.logging == "combined" && a.request) {
    f["referrer"] = std::string(a.request->header("referer").value_or("-"));
    f["user_agent"] = std::string(a.request->header("user-agent").value_or("-"));
  }
  core::log::event(*access_log_, spdlog::level::info, "access", f);
}

// ---------------------------------------------------------------------------------------------
// WebSocket

void service::on_open(net::ws_connection& c, const net::http_request& upgrade) {
  sockets_.emplace(c.id(), &c);
  // An unmodified Unity player announces itself through its signaling URL (?role=streamer&name=...).
  if (cfg_.streamers && upgrade.query_param("role") == std::optional<std::string_view>("streamer")) {
    auto name = net::percent_decode(upgrade.query_param("name").value_or("")).value_or("");
    deliver(ws_.open_streamer(c.id(), name));
  } else {
    ws_.open(c.id());
  }
  if (cfg_.max_message_rate > 0) buckets_.emplace(c.id(), rate_bucket{2 * cfg_.max_message_rate, std::chrono::steady_clock::now()});
}

bool service::admit(net::ws_connection& c) {
  if (cfg_.max_message_rate <= 0) return true;
  auto it = buckets_.find(c.id());
  if (it == buckets_.end()) return true;
  auto& b = it->second;
  const auto now = std::chrono::steady_clock::now();
  const double burst = 2 * cfg_.max_message_rate;
  b.tokens = std::min(burst, b.tokens + std::chrono::duration<double>(now - b.last).count() * cfg_.max_message_rate);
  b.last = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  ++drops_.rate_limited;
  if (now - b.last_notice >= 1s) {
    b.last_notice = now;
    core::log::event(*log_, noisy_.insert(c.id()).second ? spdlog::level::info : spdlog::level::debug, "ws_rate_limited",
                     {{"conn", c.id()}});
    c.send_text(encode_error("rate limit exceeded; message dropped"));
  }
  return false;
}

void service::on_message(net::ws_connection& c, net::ws::opcode, std::string_view payload) {
  if (!admit(c)) return;
  if (log_->should_log(spdlog::level::trace))
    core::log::event(*log_, spdlog::level::trace, "ws_message", {{"conn", c.id()}, {"body", std::string(payload)}});
  std::string why;
  auto msg = decode_client(payload, &why);
  if (!msg) {
    ++(msg.error() == core::errc::malformed ? drops_.malformed : drops_.invalid);
    // The first bad message of a socket is logged at info, the rest at debug: a flood stays one line.
    const bool first = noisy_.insert(c.id()).second;
    core::log::event(*log_, first ? spdlog::level::info : spdlog::level::debug, "ws_bad_message",
                     {{"conn", c.id()}, {"reason", why}});
    c.send_text(encode_error(why));
    return;
  }
  deliver(ws_.handle(c.id(), *msg, unix_ms()));
}

void service::on_close(net::ws_connection& c) {
  buckets_.erase(c.id());
  noisy_.erase(c.id());
  sockets_.erase(c.id());
  deliver(ws_.close(c.id()));
}

void service::deliver(const std::vector<delivery>& out) {
  // Broadcasts share one payload; frame it once.
  const std::string* last_payload = nullptr;
  net::shared_frame frame;
  for (const auto& d : out) {
    auto it = sockets_.find(d.to);
    if (it == sockets_.end()) continue;
    if (d.payload.get() != last_payload) {
      frame = net::make_text_frame(*d.payload);
      last_payload = d.payload.get();
    }
    it->second->send(frame);
  }
}

// ---------------------------------------------------------------------------------------------
// Metrics

nlohmann::ordered_json service::status_json() const {
  const auto& s = server_.stats();
  const auto& r = ws_.counts();
  json relayed{{"connect", r.connect}, {"disconnect", r.disconnect}, {"offer", r.offer}, {"answer", r.answer},
               {"candidate", r.candidate}, {"http_post", http_relayed_}};
  json drops{{"malformed", drops_.malformed},
             {"invalid", drops_.invalid},
             {"rate_limited", drops_.rate_limited},
             {"no_partner", r.dropped_no_partner},
             {"self_answer", r.dropped_self_answer},
             {"id_in_use", r.refused_id_in_use},
             {"too_many_ids", r.refused_too_many_ids},
             {"no_free_streamer", r.refused_no_streamer},
             {"ws_protocol_error", s.protocol_errors},
             {"ws_too_big", s.too_big},
             {"slow_reader", s.slow_readers},
             {"per_ip_limit", s.refused_per_ip},
             {"capacity", s.refused_capacity},
             {"handshake_timeout", s.handshake_timeouts},
             {"idle_timeout", s.idle_timeouts},
             {"ping_timeout", s.ping_timeouts},
             {"http_bad_request", s.http_bad_requests}};
  return json{{"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count()},
              {"type", cfg_.use_websocket() ? "websocket" : "http"},
              {"mode", cfg_.is_private() ? "private" : "public"},
              {"sockets", s.open_sockets},
              {"websockets", s.open_websockets},
              {"http_sessions", http_.sessions()},
              {"connection_ids", ws_.connection_ids() + http_.connection_ids()},
              {"pairs", ws_.pairs()},
              {"streamers", ws_.streamers()},
              {"streamers_busy", ws_.streamers_busy()},
              {"relayed", relayed},
              {"drops", drops}};
}

std::string service::metrics_text() const {
  const auto st = status_json();
  std::string out;
  const auto gauge = [&](const char* name, const char* help, const json& v) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += " gauge\n";
    out += name;
    out += ' ';
    out += v.dump();
    out += '\n';
  };
  const auto counter_family = [&](const char* name, const char* help, const char* label, const json& values) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += " counter\n";
    for (const auto& [k, v] : values.items()) {
      out += name;
      out += '{';
      out += label;
      out += "=\"";
      out += k;
      out += "\"} ";
      out += v.dump();
      out += '\n';
    }
  };
  const auto& s = server_.stats();
  gauge("sparc_signal_sockets_open", "Open TCP connections (HTTP and WebSocket).", st["sockets"]);
  gauge("sparc_signal_websockets_open", "Open WebSocket connections.", st["websockets"]);
  gauge("sparc_signal_http_sessions", "Live HTTP-polling sessions.", st["http_sessions"]);
  gauge("sparc_signal_connection_ids", "Connection ids owned by sockets and sessions.", st["connection_ids"]);
  gauge("sparc_signal_pairs", "WebSocket connection pairs.", st["pairs"]);
  gauge("sparc_signal_streamers", "Registered render streamers.", st["streamers"]);
  gauge("sparc_signal_streamers_busy", "Render streamers serving a viewer.", st["streamers_busy"]);
  gauge("sparc_signal_uptime_seconds", "Seconds since start.", st["uptime_s"]);
  counter_family("sparc_signal_messages_relayed_total", "Signaling messages handled, by type.", "type", st["relayed"]);
  counter_family("sparc_signal_drops_total", "Input dropped or connections refused, by reason.", "reason", st["drops"]);
  counter_family("sparc_signal_ws_messages_total", "WebSocket messages, by direction.", "direction",
                 json{{"in", s.ws_messages_in}, {"out", s.ws_messages_out}});
  counter_family("sparc_signal_connections_total", "Accepted TCP connections and HTTP requests.", "kind",
                 json{{"accepted", s.accepted}, {"http_requests", s.http_requests}, {"pings_sent", s.pings_sent},
                      {"http_sessions_evicted", http_.evicted()}});
  return out;
}

// ---------------------------------------------------------------------------------------------

int run(const config& cfg) {
  const auto level = core::log::parse_level(cfg.log_level).value_or(spdlog::level::info);
  core::log::init(cfg.log_format == "text" ? core::log::format::text : core::log::format::json, level);
  auto log = core::log::get("signal");
  if (std::signal(SIGPIPE, SIG_IGN) == SIG_ERR) core::log::event(*log, spdlog::level::warn, "sigpipe_not_ignored");
  try {
    asio::io_context io(1);
    std::unique_ptr<asio::ssl::context> tls;
    if (cfg.secure) tls = net::make_server_tls(cfg.certfile, cfg.keyfile);
    service svc(io, cfg, log, tls.get());
    svc.start();
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (!ec) svc.stop();
    });
    io.run();
    core::log::event(*log, spdlog::level::info, "stopped");
    return 0;
  } catch (const std::exception& e) {
    core::log::event(*log, spdlog::level::err, "fatal", {{"error", e.what()}});
    return 1;
  }
}

}  // namespace signaling
