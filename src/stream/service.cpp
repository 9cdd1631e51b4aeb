#include "stream/service.hpp"

#include "core/json_scan.hpp"
#include "core/log.hpp"
#include "net/http_client.hpp"
#include "net/server.hpp"
#include "net/ws_client.hpp"
#include "stream/avatar.hpp"
#include "stream/gst_peer.hpp"
#include "stream/pipeline_spec.hpp"
#include "stream/signaling.hpp"
#include "stream/speech.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unistd.h>

namespace stream {

namespace asio = boost::asio;
using json = nlohmann::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto audio_chunk = 20ms;               ///< audio is pushed in real time, this much at a time
constexpr auto stats_interval = 1s;              ///< RTCP statistics poll, for bitrate adaptation and metrics
constexpr auto offer_resend = 5s;                ///< as Unity does, until an answer arrives (private mode)
constexpr auto mas_timeout = 20s;                ///< one chat turn or one synthesis
constexpr std::chrono::milliseconds shutdown_grace{8000};  ///< under the 10 s a container runtime waits
constexpr std::size_t max_chat_chars = 2000;     ///< one typed message from the page
constexpr std::size_t max_queued_samples = std::size_t{48000} * 120;  ///< two minutes of speech waiting to be played

/// Counters for /metrics; touched only on the event loop.
struct counters {
  std::uint64_t viewers_started = 0;
  std::uint64_t frames = 0;
  std::uint64_t render_us = 0;
  std::uint64_t encoded_frames = 0;  ///< frames out of the video encoders (closed viewers kept)
  std::uint64_t encode_us = 0;       ///< time those frames spent in the encoder
  std::uint64_t chat_turns = 0;
  std::uint64_t mas_failures = 0;
  std::uint64_t bytes_sent = 0;      ///< sum over viewers of the latest outbound-rtp byte counts (closed ones kept)
  std::uint64_t packets_lost = 0;
  double fps = 0;                    ///< frames pushed in the last second, over all viewers
  std::size_t viewers = 0;
  bool signaling_up = false;
  int bitrate_kbps = 0;              ///< current encoder setting, summed over viewers
};

/// The parts a viewer needs from the service.
struct context {
  asio::io_context& io;
  const config& cfg;
  pipeline_spec spec;
  peer_options peer;
  signaling_client* signaling = nullptr;
  std::shared_ptr<spdlog::logger> log;
  /// One renderer for every viewer: building it pre-renders the backdrop and the head (about 0.2 s at 720p), and
  /// render() is const, so viewers share it instead of each stalling the loop on join.
  std::shared_ptr<const avatar_renderer> avatar;
  counters stats;
};

/// "stun:host:port" -> "stun://host:port", "turn:host:port?transport=udp" + user/pass -> "turn://user:pass@host:port".
std::string gst_ice_url(const std::string& url, const std::string& user, const std::string& pass) {
  const auto colon = url.find(':');
  if (colon == std::string::npos) return {};
  const auto scheme = url.substr(0, colon);
  auto rest = url.substr(colon + 1);
  if (rest.starts_with("//")) rest.erase(0, 2);
  if (const auto q = rest.find('?'); q != std::string::npos) rest.erase(q);
  if (scheme == "stun" || scheme == "stuns") return scheme + "://" + rest;
  const auto escape = [](const std::string& s) {
    std::string out;
    for (const unsigned char c : s) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
      else {
        constexpr char hex[] = "0123456789ABCDEF";
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
    return out;
  };
  if (scheme == "turn" || scheme == "turns") return scheme + "://" + escape(user) + ":" + escape(pass) + "@" + rest;
  return {};
}

void add_ice(peer_options& p, const ice_server& s) {
  for (const auto& u : s.urls) {
    const auto g = gst_ice_url(u, s.username, s.credential);
    if (g.starts_with("stun") && p.stun_server.empty()) p.stun_server = g;
    else if (g.starts_with("turn")) p.turn_servers.push_back(g);
  }
}

/// One browser connection: its pipeline, avatar, voice and conversation.
class viewer : public std::enable_shared_from_this<viewer> {
 public:
  viewer(context& ctx, std::string id) : ctx_(ctx), id_(std::move(id)), frame_timer_(ctx.io), audio_timer_(ctx.io),
        stats_timer_(ctx.io), resend_timer_(ctx.io),
        avatar_(ctx.avatar), mouth_(ctx.spec.audio_rate),
        bitrate_kbps_(ctx.cfg.bitrate_kbps) {}

  ~viewer() { close(); }

  /// Stops the timers and the pipeline now, even while a conversation turn still holds this viewer. The service
  /// calls it when it lets a viewer go, so the last encoder totals land in the counters while they still exist.
  void close() {
    closed_ = true;
    frame_timer_.cancel();
    audio_timer_.cancel();
    stats_timer_.cancel();
    resend_timer_.cancel();
    collect_encode_stats();
    peer_.reset();  // joins GStreamer's threads: no event arrives after this
  }

  /// Adds what the encoder finished since the last call to the service's counters.
  void collect_encode_stats() {
    if (!peer_) return;
    const auto now = peer_->encode_totals();
    ctx_.stats.encoded_frames += now.frames - last_encode_.frames;
    ctx_.stats.encode_us += now.total_us - last_encode_.total_us;
    last_encode_ = now;
  }

  const std::string& id() const { return id_; }
  const std::string& offer_sdp() const { return remote_offer_; }

  /// Public mode: answer the page's offer. Private mode as the polite side, the same. A later offer renegotiates
  /// the live connection.
  void answer(const std::string& sdp) {
    remote_offer_ = sdp;
    if (!peer_) {
      if (!build()) return;
      start_media();
    }
    peer_->accept_offer(sdp);
  }

  void resend_answer() {
    if (!local_answer_.empty()) ctx_.signaling->send_description("answer", id_, local_answer_, false);
  }

  /// Private mode as the impolite side: offer, and resend until answered.
  void offer() {
    if (!build()) return;
    start_media();
    peer_->start_offer();
  }

  void accept_answer(const std::string& sdp) {
    if (answered_ || !peer_) return;
    answered_ = true;
    resend_timer_.cancel();
    peer_->accept_answer(sdp);
  }

  void add_candidate(int mline, const std::string& candidate) {
    if (peer_) peer_->add_candidate(static_cast<unsigned>(std::max(0, mline)), candidate);
  }

  bool failed() const { return failed_; }

 private:
  template <class F>
  auto on_loop(F f) {
    // GStreamer threads hand events to the loop; a viewer already gone drops them.
    return [weak = weak_from_this(), &io = ctx_.io, f](auto... args) {
      asio::post(io, [weak, f, args...]() mutable {
        if (auto self = weak.lock()) f(*self, std::move(args)...);
      });
    };
  }

  bool build() {
    try {
      peer_events ev;
      ev.local_description = on_loop([](viewer& v, const std::string& type, const std::string& sdp) { v.local_description(type, sdp); });
      ev.local_candidate = on_loop([](viewer& v, unsigned mline, const std::string& c) {
        v.ctx_.signaling->send_candidate(v.id_, c, std::to_string(mline), static_cast<int>(mline));
      });
      ev.data_open = on_loop([](viewer& v) { v.data_open(); });
      ev.data_message = on_loop([](viewer& v, const std::string& text) { v.data_message(text); });
      ev.connection_state = on_loop([](viewer& v, const std::string& state) { v.connection_state(state); });
      ev.error = on_loop([](viewer& v, const std::string& why) {
        core::log::event(*v.ctx_.log, spdlog::level::err, "pipeline_error", {{"viewer", v.id_}, {"error", why}});
        v.failed_ = true;
      });
      peer_ = std::make_unique<gst_peer>(ctx_.peer, std::move(ev));
      return true;
    } catch (const std::exception& e) {
      core::log::event(*ctx_.log, spdlog::level::err, "pipeline_failed", {{"viewer", id_}, {"error", e.what()}});
      failed_ = true;
      return false;
    }
  }

  void start_media() {
    started_ = clock_type::now();
    next_frame_ = started_;
    next_audio_ = started_;
    frame_tick();
    audio_tick();
    stats_tick();
  }

  void local_description(const std::string& type, const std::string& sdp) {
    ctx_.signaling->send_description(type, id_, sdp, false);
    if (type == "answer") local_answer_ = sdp;
    if (type != "offer") return;
    local_offer_ = sdp;
    resend_offer();
  }

  void resend_offer() {
    resend_timer_.expires_after(offer_resend);
    resend_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->closed_ || self->answered_) return;
      self->ctx_.signaling->send_description("offer", self->id_, self->local_offer_, false);
      self->resend_offer();
    });
  }

  void connection_state(const std::string& state) {
    core::log::event(*ctx_.log, spdlog::level::info, "viewer_state", {{"viewer", id_}, {"state", state}});
    if (state == "failed") failed_ = true;
  }

  void data_open() {
    if (std::exchange(data_open_, true)) return;  // webrtcbin may report the same opening twice
    if (ctx_.cfg.mas_url.empty()) send_status("warning", "No conversation service is configured; the avatar cannot answer.");
    set_caption("");
  }

  void send_json(const json& j) {
    if (peer_) peer_->send(j.dump(-1, ' ', false, json::error_handler_t::replace));
  }

  void send_status(std::string_view level, std::string_view message) {
    send_json({{"type", "status"}, {"level", level}, {"message", message}});
  }

  void set_caption(const std::string& text) {
    if (peer_) peer_->set_caption(text);
  }

  void data_message(const std::string& text) {
    auto j = core::json_scan::parse(text, 4);
    if (!j || !j->is_object() || j->value("type", "") != "chat" || !(*j)["text"].is_string()) return;
    auto said = (*j)["text"].get<std::string>();
    if (said.empty()) return;
    if (said.size() > max_chat_chars) said.resize(max_chat_chars);
    if (ctx_.cfg.mas_url.empty()) return send_status("error", "No conversation service is configured.");
    send_json({{"type", "thinking"}});
    asio::co_spawn(ctx_.io, converse(shared_from_this(), std::move(said)), asio::detached);
  }

  /// Queues a WAV for the avatar to speak (resampled to the stream's rate); false when it does not decode.
  bool enqueue_speech(const std::string& wav) {
    auto pcm = decode_wav(wav);
    if (!pcm) return false;
    auto samples = resample(pcm->samples, pcm->rate, ctx_.spec.audio_rate);
    if (speech_.size() + samples.size() > max_queued_samples) return false;
    speech_.insert(speech_.end(), samples.begin(), samples.end());
    return true;
  }

  /// sparc-mas could not answer: the page and the caption say so, the video goes on.
  void mas_unavailable(std::string_view why) {
    ++ctx_.stats.mas_failures;
    core::log::event(*ctx_.log, spdlog::level::warn, "mas_unavailable", {{"viewer", id_}, {"reason", why}});
    send_status("error", "The conversation service is unavailable right now; the video keeps running.");
    set_caption("(The conversation service is unavailable.)");
  }

  /// A /v1/chat response body to the page as its "reply"; returns the caregiver's text.
  std::string deliver_reply(const json& j) {
    ++ctx_.stats.chat_turns;
    std::string text = j.value("response_text", "");
    send_json({{"type", "reply"},
               {"text", text},
               {"coach_feedback", j.contains("coach_feedback") ? j["coach_feedback"] : json(nullptr)},
               {"ui_message", j.value("ui_message", "")},
               {"warning_count", j.value("warning_count", 0)},
               {"session_terminated", j.value("session_terminated", false)}});
    return text;
  }

  /// Captions `text` and speaks it whole through POST /v1/tts (the text is there already; speech is a bonus).
  static asio::awaitable<void> speak_whole(std::shared_ptr<viewer> self, net::http_url url, std::string text) {
    auto& ctx = self->ctx_;
    self->set_caption(text);
    self->send_json({{"type", "caption"}, {"text", text}});
    std::vector<std::pair<std::string, std::string>> headers;
    if (!ctx.cfg.mas_api_key.empty()) headers.emplace_back("X-API-Key", ctx.cfg.mas_api_key);
    const json tts{{"text", text}, {"session_id", self->id_}};
    auto audio = co_await net::fetch(ctx.io.get_executor(), url,
                                     net::http_request_text("POST", url.host + ":" + url.port, "/v1/tts", headers,
                                                            "application/json", tts.dump()),
                                     mas_timeout);
    if (!self->closed_ && audio && audio->status == 200) (void)self->enqueue_speech(audio->body);
  }

  /// The turn over sparc-mas's WS /ws/chat: each sentence is spoken as soon as sparc-mas has it, while the model
  /// is still generating the rest. False when the socket does not open (an older backend): the caller then asks
  /// POST /v1/chat. True once the socket was used, whatever came of it.
  static asio::awaitable<bool> converse_streaming(std::shared_ptr<viewer> self, const json& body, net::http_url url) {
    auto& ctx = self->ctx_;
    asio::ip::tcp::resolver resolver(ctx.io);
    auto [rec, endpoints] = co_await resolver.async_resolve(url.host, url.port, asio::as_tuple(asio::use_awaitable));
    if (rec || endpoints.empty()) co_return false;
    auto ws = std::make_shared<net::ws_client>(ctx.io.get_executor(), std::size_t{16} * 1024,
                                               std::hash<std::string>{}(self->id_));
    // Named, not braced inside the co_await: GCC 12 destroys such temporaries too early.
    const net::ws_url chat_url{url.host, url.port, "/ws/chat"};
    const auto endpoint = endpoints.begin()->endpoint();
    if (auto e = co_await ws->open(endpoint, chat_url)) co_return false;
    asio::steady_timer deadline(ctx.io, mas_timeout);
    deadline.async_wait([ws](const boost::system::error_code& ec) {
      if (!ec) ws->abort();
    });
    // Sentences' audio is fetched in order by one coroutine while the socket keeps reading.
    struct pending {
      std::deque<std::string> urls;
      std::string caption;
      bool ended = false;
      std::optional<json> reply;
      asio::steady_timer wake;
      explicit pending(asio::io_context& io) : wake(io, asio::steady_timer::time_point::max()) {}
    };
    auto p = std::make_shared<pending>(ctx.io);
    const std::string host = url.host + ":" + url.port;
    auto speaker = [](std::shared_ptr<viewer> v, std::shared_ptr<pending> q, net::http_url u,
                      std::string h) -> asio::awaitable<void> {
      for (;;) {
        while (q->urls.empty() && !q->ended) (void)co_await q->wake.async_wait(asio::as_tuple(asio::use_awaitable));
        if (q->urls.empty()) co_return;
        const auto path = std::move(q->urls.front());
        q->urls.pop_front();
        std::vector<std::pair<std::string, std::string>> headers;
        if (!v->ctx_.cfg.mas_api_key.empty()) headers.emplace_back("X-API-Key", v->ctx_.cfg.mas_api_key);
        auto audio = co_await net::fetch(v->ctx_.io.get_executor(), u, net::http_request_text("GET", h, path, headers),
                                         mas_timeout);
        if (v->closed_) co_return;
        if (audio && audio->status == 200) (void)v->enqueue_speech(audio->body);
      }
    };
    asio::co_spawn(ctx.io, speaker(self, p, url, host), asio::detached);
    json message = json::object();
    message["type"] = "chat";
    message["request"] = body;
    if (!ctx.cfg.mas_api_key.empty()) message["api_key"] = ctx.cfg.mas_api_key;
    (void)co_await ws->run([&](std::string_view text) {
      const auto e = json::parse(text, nullptr, false);
      if (!e.is_object() || self->closed_) return;
      const auto type = e.value("type", "");
      if (type == "status" && e.value("status", "") == "ready") {
        ws->send_text(message.dump());
      } else if (type == "sentence") {
        // The caption grows with the reply; the voice follows sentence by sentence.
        p->caption += (p->caption.empty() ? "" : " ") + e.value("text", "");
        self->set_caption(p->caption);
        self->send_json({{"type", "caption"}, {"text", p->caption}});
        if (e.contains("audio_url") && e["audio_url"].is_string()) p->urls.push_back(e["audio_url"].get<std::string>());
        p->wake.cancel();
      } else if (type == "reply") {
        p->reply = e;
        ws->close();
      }
    });
    deadline.cancel();
    p->ended = true;
    p->wake.cancel();
    if (self->closed_) co_return true;
    if (!p->reply || p->reply->value("status", 0) != 200 || !(*p->reply).contains("body") ||
        !(*p->reply)["body"].is_object()) {
      self->mas_unavailable(p->reply ? "status " + std::to_string(p->reply->value("status", 0)) : "no reply on /ws/chat");
      co_return true;
    }
    const auto text = self->deliver_reply((*p->reply)["body"]);
    if (text.empty() || text == p->caption) co_return true;
    // The reply is not what was streamed (a supervisor refusal, or a regenerated reply): show it whole, and speak
    // it when nothing was spoken yet.
    if (p->caption.empty()) {
      co_await speak_whole(self, url, text);
    } else {
      self->set_caption(text);
      self->send_json({{"type", "caption"}, {"text", text}});
    }
    co_return true;
  }

  static asio::awaitable<void> converse(std::shared_ptr<viewer> self, std::string said) {
    auto& ctx = self->ctx_;
    const auto url = net::parse_http_url(ctx.cfg.mas_url);
    if (!url) co_return;
    const std::string host = url->host + ":" + url->port;
    std::vector<std::pair<std::string, std::string>> headers;
    if (!ctx.cfg.mas_api_key.empty()) headers.emplace_back("X-API-Key", ctx.cfg.mas_api_key);
    const json body{{"session_id", self->id_},
                    {"user_message", said},
                    {"target_agent", "caregiver"},
                    {"system_prompt", "persona: " + ctx.cfg.persona},
                    {"include_legacy_audio_b64", false}};
    if (co_await converse_streaming(self, body, *url)) co_return;
    auto r = co_await net::fetch(ctx.io.get_executor(), *url,
                                 net::http_request_text("POST", host, "/v1/chat", headers, "application/json", body.dump()),
                                 mas_timeout);
    if (self->closed_) co_return;
    if (!r) co_return self->mas_unavailable(r.error().message());
    auto reply = core::json_scan::parse(r->body, 16);
    if (r->status != 200 || !reply || !reply->is_object())
      co_return self->mas_unavailable("status " + std::to_string(r->status));
    const auto text = self->deliver_reply(*reply);
    if (!text.empty()) co_await speak_whole(self, *url, text);
  }

  void frame_tick() {
    const auto period = std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(1.0 / ctx_.cfg.fps));
    next_frame_ += period;
    const auto now = clock_type::now();
    if (next_frame_ < now) next_frame_ = now;  // late: skip ahead rather than burst
    frame_timer_.expires_at(next_frame_);
    frame_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->closed_) return;
      self->render();
      self->frame_tick();
    });
  }

  void render() {
    if (!peer_) return;
    const auto t0 = clock_type::now();
    pose p;
    p.t = std::chrono::duration<double>(t0 - started_).count();
    p.mouth_open = mouth_.opening();
    const auto bytes = static_cast<std::size_t>(ctx_.cfg.width) * static_cast<std::size_t>(ctx_.cfg.height) * 4;
    peer_->push_video(bytes, [&](std::span<std::uint8_t> frame) {
      avatar_->render(p, frame);
      // The render time on the wall clock (ms, low 32 bits): a page on the same machine reads it from the
      // displayed frame and subtracts it from its own clock to get render->display latency.
      if (ctx_.cfg.frame_counter)
        stamp_counter(frame, ctx_.cfg.width, ctx_.cfg.height,
                      static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                     std::chrono::system_clock::now().time_since_epoch())
                                                     .count()));
    });
    ++frame_number_;
    ++ctx_.stats.frames;
    ctx_.stats.render_us += static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t0).count());
  }

  void audio_tick() {
    next_audio_ += audio_chunk;
    audio_timer_.expires_at(next_audio_);
    audio_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->closed_) return;
      self->push_audio();
      self->audio_tick();
    });
  }

  void push_audio() {
    if (!peer_) return;
    const auto n = static_cast<std::size_t>(ctx_.spec.audio_rate) * audio_chunk.count() / 1000;
    chunk_.assign(n, 0);
    const auto take = std::min(n, speech_.size());
    std::copy_n(speech_.begin(), take, chunk_.begin());
    speech_.erase(speech_.begin(), speech_.begin() + static_cast<std::ptrdiff_t>(take));
    if (take > 0) mouth_.feed(std::span<const std::int16_t>(chunk_.data(), take));
    else mouth_.decay_to_silence(std::chrono::duration<double>(audio_chunk).count());
    if (take == 0 && speaking_) set_caption("");  // the reply has been spoken
    speaking_ = take > 0;
    peer_->push_audio(chunk_, ctx_.spec.audio_rate);
  }

  void stats_tick() {
    stats_timer_.expires_after(stats_interval);
    stats_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->closed_ || !self->peer_) return;
      self->peer_->request_stats(self->on_loop([](viewer& v, peer_stats s) { v.adapt(s); }));
      self->stats_tick();
    });
  }

  void adapt(const peer_stats& s) {
    ctx_.stats.bytes_sent += s.bytes_sent > last_bytes_ ? s.bytes_sent - last_bytes_ : 0;
    last_bytes_ = s.bytes_sent;
    ctx_.stats.packets_lost += s.packets_lost > last_lost_ ? s.packets_lost - last_lost_ : 0;
    last_lost_ = s.packets_lost;
    // webrtcbin 1.22 has no congestion control: follow the loss the receiver reports.
    const auto next = adapt_bitrate(bitrate_kbps_, s.fraction_lost, ctx_.cfg.bitrate_kbps);
    if (next != bitrate_kbps_) {
      bitrate_kbps_ = next;
      const auto [property, value] = bitrate_setting(ctx_.spec.video, next);
      peer_->set_encoder_property(property, value);
    }
  }

 public:
  int bitrate_kbps() const { return bitrate_kbps_; }

 private:
  context& ctx_;
  std::string id_;
  std::unique_ptr<gst_peer> peer_;
  asio::steady_timer frame_timer_;
  asio::steady_timer audio_timer_;
  asio::steady_timer stats_timer_;
  asio::steady_timer resend_timer_;
  std::shared_ptr<const avatar_renderer> avatar_;
  mouth_follower mouth_;
  std::deque<std::int16_t> speech_;
  std::vector<std::int16_t> chunk_;
  clock_type::time_point started_;
  clock_type::time_point next_frame_;
  clock_type::time_point next_audio_;
  std::uint32_t frame_number_ = 0;
  std::string remote_offer_;
  std::string local_offer_;
  std::string local_answer_;
  bool answered_ = false;
  bool failed_ = false;
  bool speaking_ = false;
  bool data_open_ = false;
  bool closed_ = false;
  int bitrate_kbps_;
  std::uint64_t last_bytes_ = 0;
  std::uint64_t last_lost_ = 0;
  encode_stats last_encode_;  ///< the peer's totals already added to ctx_.stats
};

/// Routes signaling to viewers and answers /health and /metrics.
class service final : public net::http_handler {
 public:
  explicit service(context& ctx) : ctx_(ctx), sweep_(ctx.io) {}

  void on_signal(const signal_event& e) {
    if (stopping_) return;  // a reply still in flight at shutdown must not start a viewer
    switch (e.type) {
      case signal_event::kind::connect:
        if (ctx_.cfg.is_private() && e.connection_id == ctx_.cfg.connection_id && !e.polite) {
          // First on this id: we are the impolite side and offer (resent until the page is there to answer).
          replace(e.connection_id)->offer();
        }
        break;
      case signal_event::kind::offer: {
        if (ctx_.cfg.is_private() && e.connection_id != ctx_.cfg.connection_id) break;
        auto it = viewers_.find(e.connection_id);
        if (it != viewers_.end() && it->second->offer_sdp() == e.sdp) {
          it->second->resend_answer();  // the page resends until answered: our answer may have been lost
          break;
        }
        if (it != viewers_.end() && !it->second->failed()) {
          it->second->answer(e.sdp);  // renegotiation on the live connection; media keeps flowing
          break;
        }
        if (it == viewers_.end() && viewers_.size() >= ctx_.cfg.max_viewers) {
          core::log::event(*ctx_.log, spdlog::level::warn, "viewer_refused", {{"viewer", e.connection_id}, {"reason", "max viewers"}});
          break;  // the page tells its user no renderer is free
        }
        replace(e.connection_id)->answer(e.sdp);
        break;
      }
      case signal_event::kind::answer:
        if (auto it = viewers_.find(e.connection_id); it != viewers_.end()) it->second->accept_answer(e.sdp);
        break;
      case signal_event::kind::candidate:
        if (auto it = viewers_.find(e.connection_id); it != viewers_.end()) it->second->add_candidate(e.mline, e.candidate);
        break;
      case signal_event::kind::disconnect:
        if (auto it = viewers_.find(e.connection_id); it != viewers_.end()) {
          it->second->close();  // a conversation turn in flight may hold it a while longer
          viewers_.erase(it);
          core::log::event(*ctx_.log, spdlog::level::info, "viewer_left", {{"viewer", e.connection_id}});
          if (ctx_.cfg.is_private() && e.connection_id == ctx_.cfg.connection_id)
            ctx_.signaling->send_connect(ctx_.cfg.connection_id);  // be there when the page comes back
        }
        break;
      case signal_event::kind::error:
        core::log::event(*ctx_.log, spdlog::level::warn, "signaling_error", {{"message", e.message}});
        break;
    }
    ctx_.stats.viewers = viewers_.size();
  }

  void on_signal_state(bool up) {
    if (stopping_) return;
    ctx_.stats.signaling_up = up;
    // Media keeps flowing while signaling is away; a private-mode peer registers its id again when it is back.
    if (up && ctx_.cfg.is_private()) ctx_.signaling->send_connect(ctx_.cfg.connection_id);
  }

  /// Drops viewers whose pipeline failed, refreshes the fps and bitrate gauges, and collects encoder totals.
  void start_sweep() {
    sweep_.expires_after(1s);
    sweep_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;  // an expiry already queued when stop() cancelled still lands here
      std::erase_if(viewers_, [&](const auto& v) {
        if (!v.second->failed()) return false;
        core::log::event(*ctx_.log, spdlog::level::warn, "viewer_dropped", {{"viewer", v.first}});
        ctx_.signaling->send_disconnect(v.first);
        v.second->close();
        return true;
      });
      ctx_.stats.viewers = viewers_.size();
      ctx_.stats.fps = static_cast<double>(ctx_.stats.frames - last_frames_);
      last_frames_ = ctx_.stats.frames;
      int kbps = 0;
      for (const auto& [id, v] : viewers_) {
        kbps += v->bitrate_kbps();
        v->collect_encode_stats();
      }
      ctx_.stats.bitrate_kbps = kbps;
      start_sweep();
    });
  }

  void stop() {
    stopping_ = true;
    sweep_.cancel();
    for (auto& [id, v] : viewers_) v->close();
    viewers_.clear();
  }

  net::http_response handle(const net::http_request& req, std::string_view) override {
    net::http_response r;
    r.headers.emplace_back("Cache-Control", "no-store");
    if (req.path == "/health") {
      const auto& s = ctx_.stats;
      r.content_type = "application/json";
      r.body = json{{"status", s.signaling_up ? "ok" : "degraded"},
                    {"signaling", s.signaling_up ? "connected" : "reconnecting"},
                    {"viewers", s.viewers},
                    {"max_viewers", ctx_.cfg.max_viewers},
                    {"conversation", ctx_.cfg.mas_url.empty() ? "off" : "configured"}}
                   .dump();
      return r;
    }
    if (req.path == "/metrics") {
      const auto& s = ctx_.stats;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      std::string& b = r.body;
      const auto metric = [&](const char* name, const char* type, const char* help, auto value) {
        b += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
      };
      metric("sparc_stream_viewers", "gauge", "Viewers with a pipeline.", s.viewers);
      metric("sparc_stream_viewers_started_total", "counter", "Viewer pipelines built.", s.viewers_started);
      metric("sparc_stream_frames_total", "counter", "Frames rendered and pushed.", s.frames);
      metric("sparc_stream_fps", "gauge", "Frames pushed in the last second, all viewers.", s.fps);
      metric("sparc_stream_render_seconds_total", "counter", "Time spent rendering frames.",
             static_cast<double>(s.render_us) / 1e6);
      metric("sparc_stream_encoded_frames_total", "counter", "Frames out of the video encoder.", s.encoded_frames);
      metric("sparc_stream_encode_seconds_total", "counter", "Time frames spent in the video encoder.",
             static_cast<double>(s.encode_us) / 1e6);
      metric("sparc_stream_bitrate_kbps", "gauge", "Current encoder bitrate, summed over viewers.", s.bitrate_kbps);
      metric("sparc_stream_sent_bytes_total", "counter", "RTP bytes sent (outbound-rtp).", s.bytes_sent);
      metric("sparc_stream_packets_lost_total", "counter", "Packets the receivers reported lost.", s.packets_lost);
      metric("sparc_stream_chat_turns_total", "counter", "Chat messages answered by sparc-mas.", s.chat_turns);
      metric("sparc_stream_mas_failures_total", "counter", "Chat messages sparc-mas could not answer.", s.mas_failures);
      metric("sparc_stream_signaling_up", "gauge", "1 while connected to the signaling server.", s.signaling_up ? 1 : 0);
      return r;
    }
    r.status = 404;
    r.content_type = "text/plain";
    r.body = "not found\n";
    return r;
  }

  net::ws_handler* websocket(const net::http_request&, net::http_response& refusal) override {
    refusal = net::text_response(404, "no WebSocket here");
    return nullptr;
  }

 private:
  std::shared_ptr<viewer> replace(const std::string& id) {
    if (auto it = viewers_.find(id); it != viewers_.end()) it->second->close();  // its pipeline stops here
    auto v = std::make_shared<viewer>(ctx_, id);
    viewers_[id] = v;
    ++ctx_.stats.viewers_started;
    ctx_.stats.viewers = viewers_.size();
    core::log::event(*ctx_.log, spdlog::level::info, "viewer_joined", {{"viewer", id}});
    return v;
  }

  context& ctx_;
  std::map<std::string, std::shared_ptr<viewer>> viewers_;
  asio::steady_timer sweep_;
  std::uint64_t last_frames_ = 0;
  bool stopping_ = false;
};

/// ICE servers from the signaling server's /config (TURN credentials minted there), when it has any.
std::vector<ice_server> fetch_signal_ice(asio::io_context& io, const config& cfg, spdlog::logger& log) {
  std::vector<ice_server> out;
  const auto url_text = signal_config_url(cfg.signaling_url);
  const auto scheme_end = url_text.find("://");
  if (scheme_end == std::string::npos) return out;
  const auto path_at = url_text.find('/', scheme_end + 3);
  const auto url = net::parse_http_url(url_text);
  if (!url) return out;
  const std::string target = path_at == std::string::npos ? "/config" : url_text.substr(path_at);
  std::optional<boost::system::result<net::fetched>> result;
  asio::co_spawn(io, net::fetch(io.get_executor(), *url, net::http_request_text("GET", url->host + ":" + url->port, target, {}), 3s),
                 [&](const std::exception_ptr&, boost::system::result<net::fetched> r) { result = std::move(r); });
  io.run();
  io.restart();
  if (!result || !*result || (*result)->status != 200) {
    core::log::event(log, spdlog::level::warn, "signal_config_unavailable", {{"url", url_text}});
    return out;
  }
  auto j = core::json_scan::parse((*result)->body, 8);
  if (!j || !j->is_object() || !j->contains("iceServers") || !(*j)["iceServers"].is_array()) return out;
  for (const auto& s : (*j)["iceServers"]) {
    if (!s.is_object()) continue;
    ice_server ice;
    if (const auto u = s.find("urls"); u != s.end()) {
      if (u->is_string()) ice.urls.push_back(u->get<std::string>());
      else if (u->is_array())
        for (const auto& x : *u)
          if (x.is_string()) ice.urls.push_back(x.get<std::string>());
    }
    ice.username = s.value("username", "");
    ice.credential = s.value("credential", "");
    out.push_back(std::move(ice));
  }
  return out;
}

}  // namespace

int run(const config& cfg) {
  const auto level = core::log::parse_level(cfg.log_level).value_or(spdlog::level::info);
  core::log::init(cfg.log_format == "text" ? core::log::format::text : core::log::format::json, level);
  auto log = core::log::get("stream");
  for (const auto& w : cfg.warnings) core::log::event(*log, spdlog::level::warn, "startup_note", {{"note", w}});
  if (std::signal(SIGPIPE, SIG_IGN) == SIG_ERR) core::log::event(*log, spdlog::level::warn, "sigpipe_not_ignored");
  try {
    asio::io_context io(1);
    pipeline_spec spec;
    const auto* encoder = find_encoder(cfg.codec);
    if (!encoder) throw std::runtime_error("unknown codec " + cfg.codec);
    spec.video = encoder->id;
    spec.width = cfg.width;
    spec.height = cfg.height;
    spec.fps = cfg.fps;
    spec.bitrate_kbps = cfg.bitrate_kbps;
    const auto plugins = required_plugins(spec);
    if (const auto missing = gst_init_and_check(plugins); !missing.empty()) {
      std::string list;
      for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
      throw std::runtime_error("GStreamer plugins missing: " + list + " (install the packages in scripts/packages.txt)");
    }
    context ctx{io, cfg, spec, {}, nullptr, log,
                std::make_shared<const avatar_renderer>(cfg.width, cfg.height, look_for(cfg.persona)), {}};
    ctx.peer.description = describe(spec);
    ctx.peer.port_min = cfg.ice_port_min;
    ctx.peer.port_max = cfg.ice_port_max;
    ctx.peer.bind_address = cfg.ice_bind;
    for (const auto& s : cfg.ice_servers) add_ice(ctx.peer, s);
    if (cfg.ice_from_signal)
      for (const auto& s : fetch_signal_ice(io, cfg, *log)) add_ice(ctx.peer, s);

    auto signaling = cfg.use_websocket()
                         ? make_ws_signaling(io, cfg.signaling_url, 5s, log)
                         : make_http_signaling(io, cfg.signaling_url, std::chrono::milliseconds(cfg.polling_interval_ms), log);
    ctx.signaling = signaling.get();
    service svc(ctx);
    signaling->start({[&](const signal_event& e) { svc.on_signal(e); }, [&](bool up) { svc.on_signal_state(up); }});
    svc.start_sweep();

    net::server_limits limits;
    net::server server(io, limits, svc, nullptr, core::log::get("net"));
    const auto port = server.listen(cfg.bind, cfg.port);
    core::log::event(*log, spdlog::level::info, "listening",
                     {{"health", "http://" + cfg.bind + ":" + std::to_string(port) + "/health"},
                      {"signaling", cfg.signaling_url},
                      {"mode", cfg.mode},
                      {"codec", cfg.codec}});
    if (!cfg.ready_file.empty()) {
      std::ofstream(cfg.ready_file + ".tmp") << json{{"port", port}, {"pid", static_cast<long>(::getpid())}}.dump() << "\n";
      std::filesystem::rename(cfg.ready_file + ".tmp", cfg.ready_file);
    }
    // After SIGTERM everything winds down on its own (requests in flight have timeouts); the watchdog only makes
    // sure a stop never takes longer than the grace period a container runtime gives before SIGKILL.
    std::mutex done_mutex;
    std::condition_variable done_cv;
    bool done = false;
    std::atomic<bool> forced{false};
    std::optional<std::jthread> watchdog;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      core::log::event(*log, spdlog::level::info, "stopping");
      svc.stop();
      signaling->stop();
      server.shutdown();
      watchdog.emplace([&] {
        std::unique_lock lock(done_mutex);
        if (done_cv.wait_for(lock, shutdown_grace, [&] { return done; })) return;
        core::log::event(*log, spdlog::level::err, "shutdown_timeout", {{"grace_ms", shutdown_grace.count()}});
        forced = true;
        io.stop();
      });
    });
    io.run();
    {
      const std::lock_guard lock(done_mutex);
      done = true;
    }
    done_cv.notify_all();
    watchdog.reset();
    if (forced) return 3;  // stopped, but something did not wind down: worth a look
    core::log::event(*log, spdlog::level::info, "stopped");
    return 0;
  } catch (const std::exception& e) {
    core::log::event(*log, spdlog::level::err, "fatal", {{"error", e.what()}});
    return 1;
  }
}

}  // namespace stream
