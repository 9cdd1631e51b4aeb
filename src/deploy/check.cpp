#include "deploy/check.hpp"

#include "deploy/browser_probe.hpp"
#include "deploy/probe.hpp"
#include "deploy/turn_probe.hpp"
#include "net/ws_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <random>
#include <thread>

namespace deploy {

namespace asio = boost::asio;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

std::string random_id(std::string_view prefix) {
  std::random_device rd;
  std::uniform_int_distribution<std::uint32_t> d;
  char buf[16];
  (void)std::snprintf(buf, sizeof buf, "%08x", d(rd));
  return std::string(prefix) + buf;
}

/// The connection id and SDP of a signaling message, whichever envelope carries them.
std::pair<std::string, std::string> id_and_sdp(const json& m) {
  const json* d = m.contains("data") && m["data"].is_object() ? &m["data"] : &m;
  // Relayed messages name the connection in "from"; acks and HTTP records carry "connectionId".
  std::string id = d->value("connectionId", m.value("connectionId", m.value("from", std::string())));
  std::string sdp = d->contains("sdp") && (*d)["sdp"].is_string() ? (*d)["sdp"].get<std::string>() : "";
  return {id, sdp};
}

struct ws_outcome {
  bool acked = false;
  bool polite = true;
  std::string got;   ///< "answer" or "offer" when the renderer spoke
  std::string error;
};

/// Over WebSocket: connect as `id`; with `send_offer`, send a browser-like offer and wait for a renderer's answer,
/// otherwise (private mode, `id` being a renderer's) wait for the renderer's offer. `wait` 0: the ack is enough.
ws_outcome signaling_round_trip(const check_target& t, const std::string& id, bool send_offer,
                                std::chrono::milliseconds wait) {
  ws_outcome out;
  asio::io_context io;
  net::ws_client ws(io.get_executor(), std::size_t{64} * 1024, 7);
  asio::steady_timer deadline(io);
  auto run = [&]() -> asio::awaitable<void> {
    // A node name (what a SLURM job's backend.env holds) is resolved; the first address is used.
    asio::ip::tcp::resolver resolver(io);
    auto [rec, endpoints] = co_await resolver.async_resolve(t.signal_host, std::to_string(t.signal_port),
                                                            asio::as_tuple(asio::use_awaitable));
    if (rec || endpoints.empty()) {
      out.error = "cannot resolve " + t.signal_host + ": " + rec.message();
      deadline.cancel();
      co_return;
    }
    const net::ws_url url{t.signal_host, std::to_string(t.signal_port), "/"};
    if (auto e = co_await ws.open(endpoints.begin()->endpoint(), url)) {
      out.error = "WebSocket: " + e.message();
      deadline.cancel();
      co_return;
    }
    ws.send_text(json{{"type", "connect"}, {"connectionId", id}}.dump());
    (void)co_await ws.run([&](std::string_view text) {
      const auto m = json::parse(text, nullptr, false);
      if (!m.is_object()) return;
      const auto type = m.value("type", "");
      if (type == "error") {
        out.error = "server: " + m.value("message", text.substr(0, 200).data());
        ws.close();
        return;
      }
      const auto [mid, sdp] = id_and_sdp(m);
      if (type == "connect" && mid == id) {
        out.acked = true;
        out.polite = m.value("polite", true);
        if (send_offer) ws.send_text(json{{"type", "offer"}, {"from", id}, {"data", {{"connectionId", id}, {"sdp", probe_offer_sdp()}}}}.dump());
        if (wait.count() == 0) ws.close();
      } else if ((type == "answer" || type == "offer") && mid == id && !sdp.empty()) {
        out.got = type;
        ws.send_text(json{{"type", "disconnect"}, {"connectionId", id}}.dump());
        ws.close();
      }
    });
    deadline.cancel();
  };
  deadline.expires_after(wait + 3s);
  deadline.async_wait([&](const boost::system::error_code& ec) {
    if (!ec) ws.abort();
  });
  asio::co_spawn(io, run(), asio::detached);
  io.run();
  return out;
}

/// The same over the HTTP polling transport (docs/protocol.md section 4): a session, the connection, our offer, then
/// merged polls of GET /signaling until the renderer's answer (or, in private mode, its offer) arrives; the session
/// is deleted again on every path.
ws_outcome polling_round_trip(const check_target& t, const std::string& id, bool send_offer,
                              std::chrono::milliseconds wait) {
  ws_outcome out;
  const auto request = [&](std::string_view method, std::string_view target, const json& body,
                           const std::string& session) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!session.empty()) headers.emplace_back("Session-Id", session);
    return http_exchange(t.signal_host, t.signal_port, method, target, body.is_null() ? "" : body.dump(),
                         body.is_null() ? "" : "application/json", t.timeout, std::size_t{1} << 20, headers);
  };
  const auto created = request("PUT", "/signaling", nullptr, "");
  const auto session = json::parse(created.body, nullptr, false);
  if (created.status != 200 || !session.is_object() || !session.contains("sessionId") ||
      !session["sessionId"].is_string()) {
    out.error = created.status ? "PUT /signaling: HTTP " + std::to_string(created.status) : created.error;
    return out;
  }
  const auto sid = session["sessionId"].get<std::string>();
  const auto connected = request("PUT", "/signaling/connection", json{{"connectionId", id}}, sid);
  const auto ack = json::parse(connected.body, nullptr, false);
  out.acked = connected.status == 200 && ack.is_object() && ack.value("connectionId", "") == id;
  if (!out.acked) {
    out.error = connected.status ? "PUT /signaling/connection: HTTP " + std::to_string(connected.status)
                                 : connected.error;
  } else {
    out.polite = ack.value("polite", true);
    if (send_offer) {
      const auto offered = request("POST", "/signaling/offer", json{{"connectionId", id}, {"sdp", probe_offer_sdp()}}, sid);
      if (offered.status != 200) out.error = "POST /signaling/offer: HTTP " + std::to_string(offered.status);
    }
    const auto until = clock_type::now() + wait;
    std::int64_t fromtime = 0;
    while (out.error.empty() && out.got.empty() && clock_type::now() < until) {
      const auto polled = request("GET", "/signaling?fromtime=" + std::to_string(fromtime), nullptr, sid);
      const auto reply = json::parse(polled.body, nullptr, false);
      if (polled.status != 200 || !reply.is_object() || !reply.contains("messages") || !reply["messages"].is_array()) {
        out.error = polled.status ? "GET /signaling: HTTP " + std::to_string(polled.status) : polled.error;
        break;
      }
      for (const auto& m : reply["messages"]) {
        if (!m.is_object()) continue;
        const auto type = m.value("type", "");
        const auto [mid, sdp] = id_and_sdp(m);
        if ((type == "answer" || type == "offer") && mid == id && !sdp.empty()) out.got = type;
      }
      if (reply.contains("datetime") && reply["datetime"].is_number()) fromtime = reply["datetime"].get<std::int64_t>();
      if (out.got.empty()) std::this_thread::sleep_for(100ms);
    }
    (void)request("DELETE", "/signaling/connection", json{{"connectionId", id}}, sid);
  }
  (void)request("DELETE", "/signaling", nullptr, sid);
  return out;
}

check_result timed(std::string name, const std::function<void(check_result&)>& body) {
  check_result r;
  r.name = std::move(name);
  const auto t0 = clock_type::now();
  body(r);
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0);
  return r;
}

void expect_health(check_result& r, const std::string& host, std::uint16_t port, const std::string& what,
                   std::chrono::milliseconds timeout) {
  const auto reply = http_get(host, port, "/health", timeout);
  r.passed = reply.status == 200;
  r.detail = reply.status ? "HTTP " + std::to_string(reply.status) + " from http://" + host + ":" + std::to_string(port) + "/health"
                          : "no answer from " + host + ":" + std::to_string(port) + " (" + reply.error + ")";
  if (reply.status == 200 && reply.body.size() < 160) r.detail += " " + reply.body;
  if (!r.passed) r.fix = "is " + what + " running? `sparc status` and `sparc logs " + what + "`";
}

}  // namespace

std::string probe_offer_sdp() {
  // A browser's offer to receive video and audio and to open a data channel, with plausible ICE and DTLS values;
  // the renderer answers it before any media could flow, which is all the check needs.
  const std::string fp =
      "sha-256 5A:7C:1E:92:3B:4D:6F:80:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:12:34:56:78:9A:BC:DE:F0";
  const std::string ice = "a=ice-ufrag:sprc\r\na=ice-pwd:sparccheckpassword0123456\r\na=ice-options:trickle\r\n"
                          "a=fingerprint:" + fp + "\r\na=setup:actpass\r\n";
  return "v=0\r\no=- 7081316128402131361 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\n"
         "a=msid-semantic: WMS\r\n"
         "m=video 9 UDP/TLS/RTP/SAVPF 102 96\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n" + ice +
         "a=mid:0\r\na=recvonly\r\na=rtcp-mux\r\na=rtcp-rsize\r\n"
         "a=rtpmap:102 H264/90000\r\na=rtcp-fb:102 nack\r\na=rtcp-fb:102 nack pli\r\n"
         "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
         "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n"
         "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n" + ice +
         "a=mid:1\r\na=recvonly\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n"
         "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n" + ice +
         "a=mid:2\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n";
}

check_target target_from(const stack& st) {
  check_target t;
  const auto& b = st.spec.bind;
  const auto host = b == "0.0.0.0" || b == "::" || b.empty() ? "127.0.0.1" : b;
  t.signal_host = t.mas_host = host;
  t.signal_port = st.spec.signal.port;
  t.signal_metrics_port = st.spec.signal.metrics_port;
  t.mas_port = st.spec.mas.port;
  for (const auto* r : st.by_role("renderer"))
    if (r->health_port) t.renderer_health_ports.push_back(r->health_port);
  t.renderers_expected = static_cast<int>(st.by_role("renderer").size());
  return t;
}

std::vector<check_result> run_checks(const check_target& t, const std::function<void(const check_result&)>& each) {
  std::vector<check_result> out;
  const auto add = [&](check_result r) {
    each(r);
    out.push_back(std::move(r));
  };

  if (t.signal_metrics_port)
    add(timed("signal health", [&](check_result& r) {
      expect_health(r, t.signal_host, t.signal_metrics_port, "signal", t.timeout);
    }));

  json config;
  add(timed("signal /config", [&](check_result& r) {
    const auto reply = http_get(t.signal_host, t.signal_port, "/config", t.timeout);
    config = json::parse(reply.body, nullptr, false);
    r.passed = reply.status == 200 && config.is_object() && config.contains("useWebSocket");
    if (r.passed) {
      const auto servers = config.contains("iceServers") && config["iceServers"].is_array() ? config["iceServers"].size() : 0;
      r.detail = std::string("transport ") + (config.value("useWebSocket", true) ? "websocket" : "http") + ", " +
                 (config.value("startupMode", "public") == "private" ? "private" : "public") + " mode, " +
                 std::to_string(servers) + " ICE server(s)";
    } else {
      r.detail = reply.status ? "HTTP " + std::to_string(reply.status) + ", not the expected JSON" : reply.error;
      r.fix = "the page needs /config to pick its transport; is this sparc-signal?";
    }
  }));

  add(timed("TURN allocation", [&](check_result& r) {
    // The credentials sparc-signal mints for browsers must open a relay on the TURN server it names.
    const json* turn = nullptr;
    std::string url;
    if (config.is_object() && config.contains("iceServers") && config["iceServers"].is_array())
      for (const auto& s : config["iceServers"]) {
        if (!s.is_object() || !s.contains("username") || !s.contains("credential")) continue;
        const auto& urls = s["urls"];
        for (const auto& u : urls.is_array() ? urls : json::array({urls}))
          if (u.is_string() && u.get<std::string>().starts_with("turn:") && !turn) {
            turn = &s;
            url = u.get<std::string>();
          }
      }
    if (!turn) {
      r.skipped = true;
      r.detail = "no TURN server with credentials in /config";
      return;
    }
    std::string host;
    std::uint16_t port = 0;
    if (!parse_turn_url(url, host, port)) {
      r.detail = "cannot read the TURN URL " + url;
      r.fix = "sparc-signal's --turn-url must look like turn:host:3478?transport=udp";
      return;
    }
    const auto a = turn_allocate(host, port, turn->value("username", ""), turn->value("credential", ""), t.timeout);
    r.passed = a.allocated;
    r.detail = a.allocated ? "relay " + a.relayed + " from " + url + " with minted credentials" : url + ": " + a.error;
    if (!r.passed) r.fix = "is coturn running and reachable at " + host + "? `sparc logs coturn`";
  }));

  add(timed("web client", [&](check_result& r) {
    const auto reply = http_get(t.signal_host, t.signal_port, "/", t.timeout);
    r.passed = reply.status == 200 && reply.body.find("<html") != std::string::npos;
    r.detail = reply.status ? "HTTP " + std::to_string(reply.status) + ", " + std::to_string(reply.body.size()) + " bytes"
                            : reply.error;
    if (!r.passed) r.fix = "sparc-signal serves web/ at /; check its --web-root";
  }));

  add(timed("backend health", [&](check_result& r) { expect_health(r, t.mas_host, t.mas_port, "mas", t.timeout); }));

  add(timed("chat turn", [&](check_result& r) {
    const json body{{"session_id", random_id("sparc-check-")},
                    {"user_message", "Hello, I am Dr. Lee. I would like to talk about the HPV vaccine today."},
                    {"target_agent", "caregiver"}};
    std::vector<std::pair<std::string, std::string>> headers;
    if (!t.mas_api_key.empty()) headers.emplace_back("X-API-Key", t.mas_api_key);
    auto reply = http_exchange(t.mas_host, t.mas_port, "POST", "/v1/chat", body.dump(), "application/json", t.timeout,
                               std::size_t{1} << 20, headers);
    const auto j = json::parse(reply.body, nullptr, false);
    r.passed = reply.status == 200 && j.is_object() && !j.value("response_text", "").empty();
    if (r.passed) {
      r.detail = "the caregiver answered (" + std::to_string(j.value("response_text", "").size()) + " characters)";
    } else {
      r.detail = reply.status ? "HTTP " + std::to_string(reply.status) + " " + reply.body.substr(0, 160) : reply.error;
      r.fix = reply.status == 401 ? "the backend requires an API key: pass --api-key-file (or set [renderer] "
                                    "mas_api_key_file in the spec)"
                                  : "see `sparc logs mas`";
    }
  }));

  for (std::size_t i = 0; i < t.renderer_health_ports.size(); ++i)
    add(timed("renderer-" + std::to_string(i + 1) + " health", [&](check_result& r) {
      expect_health(r, t.signal_host, t.renderer_health_ports[i], "renderer-" + std::to_string(i + 1), t.timeout);
    }));

  const bool websocket = !config.is_object() || config.value("useWebSocket", true);
  const bool private_mode = config.is_object() && config.value("startupMode", "public") == "private";
  add(timed("signaling connect", [&](check_result& r) {
    const auto id = random_id("sparc-check-");
    const auto o = websocket ? signaling_round_trip(t, id, false, 0ms) : polling_round_trip(t, id, false, 0ms);
    r.passed = o.acked;
    r.detail = o.acked ? (websocket ? "WebSocket connect acknowledged" : "HTTP polling connect acknowledged") : o.error;
    if (!r.passed)
      r.fix = std::string("the signaling ") + (websocket ? "WebSocket" : "HTTP polling API") +
              " did not acknowledge; see `sparc logs signal`";
  }));

  add(timed("renderer answers", [&](check_result& r) {
    if (t.renderers_expected == 0) {
      r.skipped = true;
      r.detail = "no renderer in this stack";
      return;
    }
    // Public mode: a fresh id and our offer. Private mode: the first renderer's id; the renderer offers to us.
    const auto id = private_mode ? std::string("renderer-1") : random_id("sparc-check-");
    // A polling renderer sees our offer (or our connect) on its next poll: Unity's default interval is 5 s.
    const auto wait = std::chrono::milliseconds(!websocket ? 12000 : private_mode ? 7000 : 5000);
    const auto o = websocket ? signaling_round_trip(t, id, !private_mode, wait)
                             : polling_round_trip(t, id, !private_mode, wait);
    r.passed = !o.got.empty();
    r.detail = r.passed ? "a renderer sent its " + o.got + " over " + (websocket ? "WebSocket" : "HTTP polling")
                        : (o.error.empty() ? "no renderer answered within the deadline" : o.error);
    if (!r.passed) r.fix = "is a renderer connected to the signaling server? `sparc logs renderer-1`";
  }));

  add(timed("browser frames", [&](check_result& r) {
    if (t.chromium.empty()) {
      r.skipped = true;
      r.detail = "no Chromium here (--browser PATH names one)";
      return;
    }
    if (t.renderers_expected == 0 || private_mode) {
      r.skipped = true;
      r.detail = private_mode ? "private mode: a browser would take over renderer-1's pairing" : "no renderer";
      return;
    }
    const auto url = "http://" + t.signal_host + ":" + std::to_string(t.signal_port) + "/";
    // Over HTTP polling the renderer takes the page's offer and then its candidates on two of its polls (5 s apart
    // by Unity's default), so the page gets that much longer.
    const auto deadline = std::max(t.timeout * 2, std::chrono::milliseconds(5000)) + (websocket ? 0ms : 12000ms);
    const auto b = browser_frames(t.chromium, url, 10, deadline);
    r.passed = b.ran && b.frames >= 10;
    r.detail = r.passed ? std::to_string(b.frames) + " video frames decoded in headless Chromium (first after " +
                              std::to_string(b.first_frame.count()) + " ms)"
                        : b.error;
    if (!r.passed)
      r.fix = b.ran ? "signaling works but media does not flow: check the UDP range, ice_bind and TURN"
                    : "install chromium, or pass --browser none";
  }));

  return out;
}

}  // namespace deploy
