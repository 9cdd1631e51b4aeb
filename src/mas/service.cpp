#include "mas/service.hpp"

#include "core/encoding.hpp"
#include "core/ids.hpp"
#include "core/json_scan.hpp"
#include "core/log.hpp"
#include "mas/agents/coach.hpp"
#include "mas/engines/openai.hpp"
#include "mas/engines/scripted.hpp"
#include "mas/speech/espeak.hpp"
#include "mas/speech/pocketsphinx.hpp"
#include "mas/speech/riva.hpp"
#include "mas/speech/sentences.hpp"
#include "mas/store/audit.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace mas {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t transcript_turns = 24;           ///< history the engines see, as the original kept
constexpr std::size_t kb_passages = 3;                  ///< retrieved passages per caregiver prompt
constexpr std::size_t kb_chars = 1200;                  ///< their budget: about 300 tokens of a 4k context
constexpr auto prefetch_ttl = std::chrono::minutes(15);  ///< a prefetch the next turn did not use is dropped
constexpr std::size_t max_prefetched = 10000;           ///< one per live session at most
constexpr std::size_t max_chat_sockets = 1024;          ///< WS /ws/chat: one per renderer or page
constexpr std::int64_t max_turns_per_session = 20000;  ///< stored utterances; a training conversation has dozens
constexpr std::int64_t transcript_page = 200;          ///< turns per GET /v1/sessions/{id} page
constexpr std::size_t legacy_audio_b64_bytes = std::size_t{512} * 1024;  ///< the original's cap on inline base64 audio
constexpr std::size_t max_clip_bytes = std::size_t{2} * 1024 * 1024;  ///< one reply; a minute of 22 kHz mono is 2.6 MB
constexpr std::size_t rate_limiter_keys = 100000;                     ///< keys and sessions tracked for rate limits
constexpr int breaker_failures = 5;  ///< consecutive engine failures that open the circuit
constexpr auto breaker_cooldown = 10s;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

engines::role role_of(api::agent a) {
  switch (a) {
    case api::agent::coach:
      return engines::role::coach;
    case api::agent::supervisor:
      return engines::role::supervisor;
    case api::agent::caregiver:
      break;
  }
  return engines::role::caregiver;
}

/// The route template of a path, for metrics (never the raw path: ids would grow the label set).
std::string_view route_of(std::string_view path) {
  if (path.starts_with("/v1/sessions/")) return "/v1/sessions/{id}";
  if (path.starts_with("/v1/audio/")) return "/v1/audio/{id}";
  for (const std::string_view known : {"/health", "/metrics", "/openapi.json", "/v1/chat", "/v1/tts", "/v1/sessions"})
    if (path == known) return known;
  return "other";
}

/// Unicode code points in valid UTF-8 (the unit every "characters" limit of the API counts).
std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

/// At most `max` code points of `s`, never splitting a character.
std::string utf8_prefix(std::string_view s, std::size_t max) {
  std::size_t points = 0;
  for (std::size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && points++ == max) return std::string(s.substr(0, i));
  return std::string(s);
}

std::string retry_seconds(std::chrono::milliseconds after) {
  return std::to_string(std::max<std::int64_t>(1, (after.count() + 999) / 1000));
}

/// "NAME;dur=MS" with three decimals, from integer microseconds (no locale, no floating point).
std::string timing(std::string_view name, std::int64_t us) {
  std::string value = std::string(name) + ";dur=" + std::to_string(us / 1000) + '.';
  const auto frac = std::to_string(1000 + us % 1000);
  value.append(frac, 1, 3);
  return value;
}

/// Server-Timing: `app`, the whole time in sparc-mas; with `engine_us`, also `engine`, the time spent waiting for
/// the text engine, so a client can tell sparc-mas's own share from the model server's.
/// `queue`, part of `engine`, is the wait for a connection slot to the model server.
void add_server_timing(net::http_response& r, std::chrono::steady_clock::time_point started,
                       std::int64_t engine_us = -1, std::int64_t queue_us = -1) {
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
  auto value = timing("app", us);
  if (engine_us >= 0) value += ", " + timing("engine", engine_us);
  if (queue_us >= 0) value += ", " + timing("queue", queue_us);
  r.headers.emplace_back("Server-Timing", std::move(value));
}

}  // namespace

/// One chat turn from admission to reply. Fields are written by one thread at a time: the loop, then (with chat
/// audio) the speech worker, then the loop again after the commit.
struct service::turn_context {
  std::chrono::steady_clock::time_point started;
  const net::http_request* request = nullptr;  ///< valid until `respond` is called
  std::optional<net::responder> respond;
  caller who;
  api::chat_request in;
  std::string fingerprint;
  api::chat_response out;
  std::string reply_agent = "supervisor";
  std::function<core::result<void>(store::database&)> write;
  std::string voice;
  // Carried from the supervisor's decision to the engine's answer.
  agents::decision decision;
  agents::phase phase = agents::phase::unknown;
  engines::turn engine_turn;
  std::string stored_reply;     ///< what the store keeps: the reply, or the coach's raw output when grading failed
  std::string output_decision;  ///< the audit entry for a regenerated or replaced caregiver reply
  std::string reply_meta;
  std::string first_issue;  ///< set while the caregiver's reply is being generated a second time
  std::chrono::steady_clock::time_point engine_started;
  std::chrono::microseconds engine_time{-1};  ///< waiting for the engine, all tries; -1 when it was not asked
  std::chrono::microseconds engine_queue{-1};  ///< of that, waiting for a connection slot to a model server
  // WS /ws/chat turns: events to the socket, and the reply's sentences as they are generated.
  service::event_sink events;
  std::shared_ptr<speech::sentence_splitter> splitter;  ///< fed on the engine's thread, flushed on the loop
  int sentences = 0;            ///< announced so far
  bool sentences_stopped = false;  ///< a sentence failed the output check: the reply comes whole, later
};

/// The sockets of WS /ws/chat, on the loop like everything else.
class service::chat_socket final : public net::ws_handler {
 public:
  explicit chat_socket(service& s) : svc_(s) {}
  void on_open(net::ws_connection& c, const net::http_request& upgrade) override {
    state st;
    st.c = &c;
    if (const auto key = upgrade.header("x-api-key")) st.key = std::string(*key);
    sockets_[c.id()] = st;
    c.send_text(json{{"type", "status"}, {"status", "ready"}}.dump());
  }
  void on_message(net::ws_connection& c, net::ws::opcode, std::string_view payload) override {
    svc_.chat_message(c, payload);
  }
  void on_close(net::ws_connection& c) override { sockets_.erase(c.id()); }

  struct state {
    net::ws_connection* c = nullptr;
    std::string key;    ///< from the upgrade's X-API-Key, or an "api_key" field
    bool busy = false;  ///< one turn at a time per socket
  };
  std::unordered_map<std::uint64_t, state> sockets_;

 private:
  service& svc_;
};

service::service(asio::io_context& io, const config& cfg, std::map<std::string, agents::persona, std::less<>> personas,
                 std::unique_ptr<store::commit_batcher> batcher, store::database reader,
                 std::unique_ptr<speech::speech_engine> tts, std::shared_ptr<spdlog::logger> log,
                 std::unique_ptr<engines::llm_engine> engine, std::unique_ptr<speech::asr_engine> asr,
                 std::unique_ptr<kb::knowledge_base> kb, std::function<core::result<void>()> speech_probe)
    : io_(io),
      cfg_(cfg),
      personas_(std::move(personas)),
      batcher_(std::move(batcher)),
      reader_(std::move(reader)),
      log_(std::move(log)),
      engine_(engine ? std::move(engine) : std::make_unique<engines::scripted_engine>()),
      breaker_(breaker_failures, breaker_cooldown),
      tts_(std::move(tts)),
      asr_(std::move(asr)),
      audio_ws_(std::make_unique<audio_socket>(
          io, asr_.get(),
          [this](std::string_view key) { return find_key(key) != nullptr; },
          !cfg.api_keys.empty(), log_)),
      chat_ws_(std::make_unique<chat_socket>(*this)),
      kb_(std::move(kb)),
      clips_(std::chrono::seconds(cfg.audio_ttl_s), cfg.audio_cache_mb * 1024 * 1024, max_clip_bytes),
      key_limiter_(cfg.rate_per_key, cfg.rate_per_key * 2, rate_limiter_keys),
      session_limiter_(cfg.rate_per_session, cfg.rate_per_session * 2, rate_limiter_keys),
      admission_(cfg.max_inflight, cfg.max_queue),
      purge_timer_(io),
      evict_timer_(io),
      checkpoint_timer_(io),
      speech_probe_(std::move(speech_probe)),
      speech_probe_timer_(io) {}

service::~service() = default;

void service::start_timers() {
  schedule_purge(5s);  // soon after start, then every purge interval
  schedule_eviction();
  schedule_checkpoint();
  if (speech_probe_) schedule_speech_probe();
}

void service::schedule_speech_probe() {
  // Riva loads its models for minutes after start: check every second until it serves, then every 5 s.
  speech_probe_timer_.expires_after(speech_server_ == 1 ? 5s : (speech_server_ == 0 ? 0s : 1s));
  speech_probe_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    asio::post(probe_pool_, [this] {
      const bool ok = static_cast<bool>(speech_probe_());
      asio::post(io_, [this, ok] {
        if ((speech_server_ == 1) != ok)
          core::log::event(*log_, ok ? spdlog::level::info : spdlog::level::warn, "speech_server",
                           {{"serving", ok}});
        speech_server_ = ok ? 1 : 2;
        schedule_speech_probe();
      });
    });
  });
}

std::string service::voice_of(const agents::persona& p) const {
  if (!tts_ || tts_->name() != "riva") return p.voice;
  for (const auto& v : cfg_.riva_voices) {  // "persona=voice", by id or name
    const auto eq = v.find('=');
    const auto who = std::string_view(v).substr(0, eq);
    if (who == p.id || core::ascii_lower(who) == core::ascii_lower(p.name)) return v.substr(eq + 1);
  }
  return p.riva_voice;
}

void service::stop() {
  audio_ws_->stop();
  speech_probe_timer_.cancel();
  probe_pool_.join();
  purge_timer_.cancel();
  evict_timer_.cancel();
  checkpoint_timer_.cancel();
  speech_pool_.join();
  maintenance_pool_.join();
  batcher_->stop();
}

// ---- plumbing ---------------------------------------------------------------------------------------------------

void service::add_cors(const net::http_request& req, net::http_response& r) const {
  const auto origin = req.header("origin");
  if (!origin) return;
  for (const auto& allowed : cfg_.cors_origins)
    if (*origin == allowed) {
      r.headers.emplace_back("Access-Control-Allow-Origin", allowed);
      r.headers.emplace_back("Access-Control-Expose-Headers", "Retry-After, Location, Link, Server-Timing");
      r.headers.emplace_back("Timing-Allow-Origin", allowed);
      r.headers.emplace_back("Vary", "Origin");
      return;
    }
}

net::http_response service::json_response(const net::http_request& req, std::string body) const {
  net::http_response r;
  r.content_type = "application/json; charset=utf-8";
  r.body = std::move(body);
  r.headers.emplace_back("Cache-Control", "no-store");
  add_cors(req, r);
  return r;
}

net::http_response service::error_body(const net::http_request& req, int status, std::string_view code,
                                       std::string_view message) const {
  auto r = json_response(req, api::encode_error(code, message));
  r.status = status;
  return r;
}

net::http_response service::error(const net::http_request& req, int status, std::string_view code,
                                  std::string_view message) {
  metrics_.count_error(code);
  return error_body(req, status, code, message);
}

net::http_response service::refused_body(const net::http_request& req, boost::system::error_code why,
                                         const std::vector<api::field_error>& fields) {
  const bool malformed = why == core::errc::malformed;
  const bool too_large = why == core::errc::too_large;
  const auto code = too_large ? "too_large" : (malformed ? "malformed" : "validation_failed");
  metrics_.count_error(code);
  const auto message = too_large ? "the body is too large" : (malformed ? "the body is not a JSON object" : "invalid fields");
  auto r = json_response(req, api::encode_error(code, message, fields));
  r.status = too_large ? 413 : (malformed ? 400 : 422);
  return r;
}

net::http_response service::method_not_allowed(const net::http_request& req, std::string_view allow) {
  auto r = error(req, 405, "method_not_allowed", "use " + std::string(allow));
  r.headers.emplace_back("Allow", allow);
  return r;
}

net::http_response service::retry_later(const net::http_request& req, int status, std::string_view code,
                                        std::string_view message, std::chrono::milliseconds after) {
  auto r = error(req, status, code, message);
  r.headers.emplace_back("Retry-After", retry_seconds(after));
  return r;
}

const config::api_key* service::find_key(std::string_view key) const {
  const config::api_key* found = nullptr;
  for (const auto& k : cfg_.api_keys)  // no early exit: every key is compared in constant time
    if (core::constant_time_equal(key, k.key)) found = &k;
  return found;
}

std::optional<service::caller> service::authenticate(const net::http_request& req) const {
  if (cfg_.api_keys.empty()) return caller{"local"};
  const auto key = req.header("x-api-key");
  if (!key) return std::nullopt;
  const auto* found = find_key(*key);
  if (!found) return std::nullopt;
  return caller{found->id};
}

const agents::persona* service::find_persona(std::string_view id_or_name) const {
  if (const auto it = personas_.find(id_or_name); it != personas_.end()) return &it->second;
  const auto wanted = core::ascii_lower(id_or_name);
  for (const auto& [id, p] : personas_)
    if (core::ascii_lower(p.name) == wanted) return &p;
  return nullptr;
}

const agents::persona& service::pick_persona(std::string_view system_prompt) const {
  // The Unity client names the persona in its system prompt; Anne is Skills Practice 1, the default.
  const auto text = core::ascii_lower(system_prompt);
  if (text.find("maya") != std::string::npos && personas_.contains("maya-pena")) return personas_.at("maya-pena");
  if (const auto it = personas_.find("anne-palmer"); it != personas_.end()) return it->second;
  return personas_.begin()->second;
}

// ---- dispatch ---------------------------------------------------------------------------------------------------

net::http_response service::handle(const net::http_request& req, std::string_view) {
  if (req.method == "OPTIONS") {
    net::http_response r;
    r.status = 204;
    add_cors(req, r);
    r.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
    r.headers.emplace_back("Access-Control-Allow-Headers", "Content-Type, X-API-Key, Authorization");
    r.headers.emplace_back("Access-Control-Max-Age", "600");
    return r;
  }
  if (req.path == "/health") {
    if (req.method != "GET" && req.method != "HEAD") return method_not_allowed(req, "GET, HEAD");
    return health(req);
  }
  return error(req, 404, "not_found", "no such route");
}

void service::handle_async(const net::http_request& req, std::string_view ip, net::responder respond) {
  const auto started = clock::now();
  const auto route = route_of(req.path);
  metrics_.count_request(route);
  const auto reply = [&](net::http_response r) {
    add_server_timing(r, started);
    respond(std::move(r));
  };
  if (req.method == "OPTIONS" || route == "/health" || route == "other") return reply(handle(req, ip));

  const auto who = authenticate(req);
  if (!who) return reply(error(req, 401, "unauthorized", "missing or invalid X-API-Key"));
  if (const auto wait = key_limiter_.acquire(who->key_id, started); wait.count() > 0)
    return reply(retry_later(req, 429, "rate_limited", "too many requests for this API key", wait));

  const auto method_is = [&](std::string_view m) { return req.method == m || (m == "GET" && req.method == "HEAD"); };
  if (route == "/v1/chat") {
    if (!method_is("POST")) return reply(method_not_allowed(req, "POST"));
    return chat(req, *who, std::move(respond));
  }
  if (route == "/v1/tts") {
    if (!method_is("POST")) return reply(method_not_allowed(req, "POST"));
    return tts(req, *who, std::move(respond));
  }
  if (route == "/v1/sessions") {
    if (!method_is("POST")) return reply(method_not_allowed(req, "POST"));
    return create_session(req, *who, std::move(respond));
  }
  if (route == "/v1/sessions/{id}") {
    const auto id = std::string_view(req.path).substr(std::string_view("/v1/sessions/").size());
    if (method_is("GET")) return reply(get_session(req, *who, id));
    if (method_is("DELETE")) return delete_session(req, *who, id, std::move(respond));
    return reply(method_not_allowed(req, "GET, HEAD, DELETE"));
  }
  if (route == "/v1/audio/{id}") {
    if (!method_is("GET")) return reply(method_not_allowed(req, "GET, HEAD"));
    return reply(audio(req, std::string_view(req.path).substr(std::string_view("/v1/audio/").size())));
  }
  if (route == "/metrics") {
    if (!method_is("GET")) return reply(method_not_allowed(req, "GET, HEAD"));
    return reply(metrics_page(req));
  }
  if (!method_is("GET")) return reply(method_not_allowed(req, "GET, HEAD"));
  reply(openapi(req));
}

net::ws_handler* service::websocket(const net::http_request& req, net::http_response& refusal) {
  if (req.path != "/ws/audio" && req.path != "/ws/chat") {
    refusal = error(req, 404, "not_found", "the WebSocket routes are /ws/audio and /ws/chat");
    return nullptr;
  }
  // A browser page may open it only from an allowed origin (the same list as CORS); other clients send no Origin.
  if (const auto origin = req.header("origin");
      origin && std::find(cfg_.cors_origins.begin(), cfg_.cors_origins.end(), *origin) == cfg_.cors_origins.end()) {
    refusal = error(req, 403, "origin_not_allowed", "this Origin may not open /ws/audio (see --cors-origin)");
    return nullptr;
  }
  if (req.path == "/ws/chat") {
    if (chat_ws_->sockets_.size() >= max_chat_sockets) {
      refusal = retry_later(req, 503, "overloaded", "too many chat sockets open; retry", 5s);
      return nullptr;
    }
    metrics_.count_request("/ws/chat");
    return chat_ws_.get();
  }
  if (audio_ws_->open_sockets() >= audio_limits::max_sockets) {
    refusal = retry_later(req, 503, "overloaded", "too many audio sockets open; retry", 5s);
    return nullptr;
  }
  metrics_.count_request("/ws/audio");
  return audio_ws_.get();
}

// ---- sessions ---------------------------------------------------------------------------------------------------

service::session_state* service::find_session(const net::http_request& req, const caller& who, const std::string& id,
                                              net::http_response& refusal) {
  const auto not_found = [&] {
    refusal = error(req, 404, "session_not_found", "no such session");  // also for another key's session
    return nullptr;
  };
  if (const auto it = sessions_.find(id); it != sessions_.end()) {
    if (it->second.owner != who.key_id) return not_found();
    if (it->second.ended) {
      refusal = error(req, 409, "session_ended", "the session has ended");
      return nullptr;
    }
    it->second.last_used = clock::now();
    return &it->second;
  }
  auto row = reader_.session(id);
  if (!row) {
    if (row.error() == core::errc::not_found) return not_found();
    refusal = retry_later(req, 503, "store_unavailable", "the session could not be read; retry", 1s);
    return nullptr;
  }
  if (row->owner != who.key_id) return not_found();
  if (row->ended_at_ms) {
    refusal = error(req, 409, "session_ended", "the session has ended");
    return nullptr;
  }
  if (sessions_.size() >= cfg_.max_sessions) {
    refusal = retry_later(req, 503, "capacity", "too many live sessions", 30s);
    return nullptr;
  }
  // Back into memory from the store: the counters, the persona and the recent transcript.
  auto recent = reader_.latest_turns(id, static_cast<std::int64_t>(transcript_turns) * 2);
  auto last = reader_.latest_turns(id, 1);
  if (!recent || !last) {
    refusal = retry_later(req, 503, "store_unavailable", "the session could not be read; retry", 1s);
    return nullptr;
  }
  session_state s;
  s.owner = row->owner;
  s.persona_id = personas_.contains(row->persona) ? row->persona : pick_persona("").id;
  s.scenario = row->scenario;
  s.training_type = row->training_type;
  s.phase = agents::parse_phase(row->phase);
  s.safety = {static_cast<int>(row->violations), row->terminated, row->flagged};
  s.seq = last->empty() ? 0 : last->back().seq;
  s.created_at_ms = row->created_at_ms;
  s.last_used = clock::now();
  for (auto& t : *recent) {
    if (t.agent == "user")
      s.transcript.push_back({"clinician", std::move(t.text)});
    else if (t.agent == "caregiver")
      s.transcript.push_back({"caregiver", std::move(t.text)});
  }
  while (s.transcript.size() > transcript_turns) s.transcript.erase(s.transcript.begin());
  return &sessions_.emplace(id, std::move(s)).first->second;
}

void service::create_session(const net::http_request& req, const caller& who, net::responder respond) {
  const auto started = clock::now();
  auto reply = [started, respond = std::make_shared<net::responder>(std::move(respond))](net::http_response r) {
    add_server_timing(r, started);
    (*respond)(std::move(r));
  };
  if (const auto type = req.header("content-type");
      !req.body.empty() && type && core::ascii_lower(*type).find("json") == std::string::npos)
    return reply(error(req, 415, "unsupported_media_type", "send application/json"));
  std::vector<api::field_error> fields;
  auto decoded = api::decode_session_create(req.body, &fields);
  if (!decoded) {
    return reply(refused_body(req, decoded.error(), fields));
  }
  const agents::persona* persona = decoded->persona.empty() ? &pick_persona("") : find_persona(decoded->persona);
  if (!persona) {
    metrics_.count_error("validation_failed");
    auto r =
        json_response(req, api::encode_error("validation_failed", "invalid fields", {{"persona", "no such persona"}}));
    r.status = 422;
    return reply(std::move(r));
  }
  std::string id = decoded->session_id.empty() ? core::uuid_v4() : decoded->session_id;
  if (sessions_.contains(id) || reader_.session(id))
    return reply(error(req, 409, "session_exists", "a session with this id exists"));
  if (sessions_.size() >= cfg_.max_sessions)
    return reply(retry_later(req, 503, "capacity", "too many live sessions", 30s));

  store::session_record row;
  row.id = id;
  row.owner = who.key_id;
  row.persona = persona->id;
  row.scenario = decoded->scenario;
  row.training_type = decoded->training_type.empty() ? persona->training_type : decoded->training_type;
  row.phase = std::string(agents::to_string(agents::phase::unknown));
  row.created_at_ms = row.updated_at_ms = now_ms();

  session_state s;
  s.owner = row.owner;
  s.persona_id = row.persona;
  s.scenario = row.scenario;
  s.training_type = row.training_type;
  s.created_at_ms = row.created_at_ms;
  s.pending_writes = 1;
  s.last_used = clock::now();
  sessions_.emplace(id, std::move(s));

  api::session_view view;
  view.session_id = id;
  view.persona = persona->id;
  view.persona_name = persona->name;
  view.scenario = row.scenario;
  view.training_type = row.training_type;
  view.phase = row.phase;
  view.created_at_ms = view.updated_at_ms = row.created_at_ms;
  auto created = json_response(req, api::encode_session(view));
  created.status = 201;
  created.headers.emplace_back("Location", "/v1/sessions/" + id);
  auto failed = error_body(req, 503, "store_unavailable", "the session could not be stored; retry");
  failed.headers.emplace_back("Retry-After", "1");
  auto done = [this, id, reply, created = std::move(created),
               failed = std::move(failed)](core::result<void> r) mutable {
    asio::post(io_, [this, id, reply, r, created = std::move(created), failed = std::move(failed)]() mutable {
      if (const auto it = sessions_.find(id); it != sessions_.end()) {
        if (--it->second.pending_writes == 0 && !r) sessions_.erase(it);  // never stored: forget it
      }
      if (!r) metrics_.count_error("store_unavailable");
      reply(r ? std::move(created) : std::move(failed));
    });
  };
  auto write = [row](store::database& db) { return db.create_session(row); };
  if (!batcher_->submit(std::move(write), done)) {
    sessions_.erase(id);
    core::log::event(*log_, spdlog::level::warn, "store_queue_full");
    reply(retry_later(req, 503, "store_unavailable", "the store is busy; retry", 1s));
  }
}

net::http_response service::get_session(const net::http_request& req, const caller& who, std::string_view id) {
  if (!api::valid_session_id(id)) return error(req, 404, "session_not_found", "no such session");
  std::int64_t after = 0;
  if (const auto q = req.query_param("after_seq")) {
    const auto [end, ec] = std::from_chars(q->data(), q->data() + q->size(), after);
    if (ec != std::errc() || end != q->data() + q->size() || after < 0)
      return error(req, 400, "bad_query", "after_seq must be a non-negative integer");
  }
  auto row = reader_.session(id);
  if (!row && row.error() != core::errc::not_found)
    return retry_later(req, 503, "store_unavailable", "the session could not be read; retry", 1s);
  if (!row || row->owner != who.key_id) return error(req, 404, "session_not_found", "no such session");
  auto turns = reader_.turns_after(id, after, transcript_page + 1);
  if (!turns) return retry_later(req, 503, "store_unavailable", "the session could not be read; retry", 1s);
  const bool more = static_cast<std::int64_t>(turns->size()) > transcript_page;
  if (more) turns->pop_back();

  api::session_view v;
  v.session_id = row->id;
  v.persona = row->persona;
  if (const auto* p = find_persona(row->persona)) v.persona_name = p->name;
  v.scenario = row->scenario;
  v.training_type = row->training_type;
  v.phase = row->phase;
  v.warning_count = static_cast<int>(row->violations);
  v.session_terminated = row->terminated;
  v.flagged_for_review = row->flagged;
  v.created_at_ms = row->created_at_ms;
  v.updated_at_ms = row->updated_at_ms;
  v.ended_at_ms = row->ended_at_ms;
  auto& out = v.turns.emplace();
  for (auto& t : *turns) out.push_back({t.seq, std::move(t.agent), std::move(t.text), t.created_at_ms});
  auto r = json_response(req, api::encode_session(v));
  if (more)
    r.headers.emplace_back(
        "Link", "</v1/sessions/" + row->id + "?after_seq=" + std::to_string(out.back().seq) + ">; rel=\"next\"");
  return r;
}

void service::delete_session(const net::http_request& req, const caller& who, std::string_view id_view,
                             net::responder respond) {
  const auto started = clock::now();
  auto reply = [started, respond = std::make_shared<net::responder>(std::move(respond))](net::http_response r) {
    add_server_timing(r, started);
    (*respond)(std::move(r));
  };
  const std::string id(id_view);
  if (!api::valid_session_id(id)) return reply(error(req, 404, "session_not_found", "no such session"));
  auto row = reader_.session(id);
  const auto live = sessions_.find(id);
  const bool live_mine = live != sessions_.end() && live->second.owner == who.key_id;
  if (!row && !live_mine) {
    if (row.error() == core::errc::not_found) return reply(error(req, 404, "session_not_found", "no such session"));
    return reply(retry_later(req, 503, "store_unavailable", "the session could not be read; retry", 1s));
  }
  if (row && row->owner != who.key_id) return reply(error(req, 404, "session_not_found", "no such session"));
  if (!row && row.error() == core::errc::not_found && live->second.pending_writes == 0 &&
      live->second.in_flight.empty()) {
    sessions_.erase(live);  // in memory only (nothing was ever stored): there is nothing to end
    return reply(error(req, 404, "session_not_found", "no such session"));
  }
  api::session_view view;
  view.session_id = id;
  if (row && row->ended_at_ms) {  // ending twice is harmless: answer with the first ending
    view.ended_at_ms = row->ended_at_ms;
    auto r = json_response(req, json{{"session_id", id}, {"ended", true}, {"ended_at_ms", *row->ended_at_ms}}.dump());
    return reply(std::move(r));
  }
  const auto ended_at = now_ms();
  if (live_mine) {
    live->second.ended = true;  // later turns get 409; turns already admitted finish
    ++live->second.pending_writes;
  }
  auto ok = json_response(req, json{{"session_id", id}, {"ended", true}, {"ended_at_ms", ended_at}}.dump());
  auto failed = error_body(req, 503, "store_unavailable", "the session could not be updated; retry");
  failed.headers.emplace_back("Retry-After", "1");
  auto done = [this, id, live_mine, reply, ok = std::move(ok),
               failed = std::move(failed)](core::result<void> r) mutable {
    asio::post(io_, [this, id, live_mine, reply, r, ok = std::move(ok), failed = std::move(failed)]() mutable {
      if (const auto it = sessions_.find(id); live_mine && it != sessions_.end()) {
        --it->second.pending_writes;
        if (!r) it->second.ended = false;
      }
      if (!r) metrics_.count_error("store_unavailable");
      reply(r ? std::move(ok) : std::move(failed));
    });
  };
  // The ending is written after every turn already queued for this session (the writer keeps submission order).
  auto write = [id, ended_at](store::database& db) -> core::result<void> {
    auto s = db.session(id);
    if (!s) return s.error();
    if (s->ended_at_ms) return {};
    s->ended_at_ms = ended_at;
    s->updated_at_ms = ended_at;
    return db.update_session(*s);
  };
  if (!batcher_->submit(std::move(write), done)) {
    if (live_mine) {
      live->second.ended = false;
      --live->second.pending_writes;
    }
    reply(retry_later(req, 503, "store_unavailable", "the store is busy; retry", 1s));
  }
}

// ---- chat -------------------------------------------------------------------------------------------------------

void service::chat(const net::http_request& req, const caller& who, net::responder respond, event_sink events) {
  auto ctx = std::make_shared<turn_context>();
  ctx->started = clock::now();
  ctx->events = std::move(events);
  ctx->request = &req;
  ctx->respond.emplace(std::move(respond));
  ctx->who = who;
  const auto refuse = [&](net::http_response r) {
    add_server_timing(r, ctx->started);
    (*ctx->respond)(std::move(r));
  };
  if (const auto type = req.header("content-type"); type && core::ascii_lower(*type).find("json") == std::string::npos)
    return refuse(error(req, 415, "unsupported_media_type", "send application/json"));
  std::vector<api::field_error> fields;
  auto decoded = api::decode_chat_request(req.body, &fields);
  if (!decoded) {
    return refuse(refused_body(req, decoded.error(), fields));
  }
  ctx->in = std::move(*decoded);
  const auto& id = ctx->in.session_id;

  session_state* session = nullptr;
  net::http_response refusal;
  const bool known = sessions_.contains(id) || reader_.session(id);
  if (ctx->in.rag_prefetch_only) {
    // The Unity client warms retrieval before the clinician finishes speaking; nothing is generated or stored
    // (retrieval comes with the model backend), so the answer is the empty reply the original gave. A new id
    // starts nothing: its first real turn does.
    if (known && !(session = find_session(req, who, id, refusal))) return refuse(std::move(refusal));
    api::chat_response empty;
    empty.active_agent = ctx->in.target;
    if (session) {
      empty.warning_count = session->safety.violations;
      empty.session_terminated = session->safety.terminated;
    }
    // Retrieval runs now and its passages wait for this session's next caregiver turn (once, for 15 minutes).
    std::size_t found = 0;
    if (kb_) {
      const auto& in = ctx->in;
      const std::string_view query = !in.rag_prefetch_query.empty() ? std::string_view(in.rag_prefetch_query)
                                     : !in.user_message.empty()      ? std::string_view(in.user_message)
                                                                     : std::string_view(in.phase_context);
      const auto& persona = session ? personas_.at(session->persona_id) : pick_persona(in.system_prompt);
      if (auto passages = kb_->search(query, persona.id, kb_passages, kb_chars); passages && !passages->empty()) {
        found = passages->size();
        const auto now = clock::now();
        if (prefetched_.size() >= max_prefetched)
          std::erase_if(prefetched_, [&](const auto& p) { return now - p.second.at > prefetch_ttl; });
        if (prefetched_.size() >= max_prefetched) prefetched_.erase(prefetched_.begin());
        prefetched_[who.key_id + '\n' + id] = {kb::format_for_prompt(*passages), now};
      }
    }
    empty.coach_feedback_meta = {{"rag_prefetch", true}, {"passages", found}};
    return refuse(json_response(req, api::encode_chat_response(empty)));
  }
  if (known) {
    session = find_session(req, who, id, refusal);
    if (!session) return refuse(std::move(refusal));
  } else {
    // The Unity client never creates sessions: a new id starts one, with the persona its system prompt names.
    if (sessions_.size() >= cfg_.max_sessions)
      return refuse(retry_later(req, 503, "capacity", "too many live sessions", 30s));
    session_state s;
    s.owner = who.key_id;
    const auto& persona = pick_persona(ctx->in.system_prompt);
    s.persona_id = persona.id;
    s.training_type = persona.training_type;
    s.created_at_ms = now_ms();
    s.last_used = clock::now();
    session = &sessions_.emplace(id, std::move(s)).first->second;
  }
  if (session->seq + 2 > max_turns_per_session)
    return refuse(error(req, 409, "session_full", "the session holds the maximum number of turns; start a new one"));
  if (const auto wait = session_limiter_.acquire(id, ctx->started); wait.count() > 0)
    return refuse(retry_later(req, 429, "rate_limited", "too many turns for this session", wait));

  // The same turn twice while the first is still being answered (a client retrying on a timeout): refuse the copy
  // and let the original finish; its reply is stored and shows up in the transcript.
  ctx->fingerprint = std::string(api::to_string(ctx->in.target)) + ':' +
                     std::to_string(std::hash<std::string_view>{}(ctx->in.user_message));
  if (std::find(session->in_flight.begin(), session->in_flight.end(), ctx->fingerprint) != session->in_flight.end())
    return refuse(error(req, 409, "duplicate_turn", "the same turn is already being answered; do not resend it"));
  session->in_flight.push_back(ctx->fingerprint);

  if (!admission_.enter([this, ctx] { run_turn(ctx); })) {
    auto& flights = session->in_flight;
    flights.erase(std::find(flights.begin(), flights.end(), ctx->fingerprint));
    if (session->seq == 0 && session->pending_writes == 0 && flights.empty()) sessions_.erase(id);  // never started
    return refuse(retry_later(req, 503, "overloaded", "too many turns in progress; retry", 1s));
  }
}

void service::run_turn(const std::shared_ptr<turn_context>& ctx) {
  const auto& req = *ctx->request;
  const auto& in = ctx->in;
  const auto it = sessions_.find(in.session_id);
  if (it == sessions_.end() || it->second.ended)
    return finish_turn(ctx, error(req, 409, "session_ended", "the session has ended"));
  auto& session = it->second;
  const auto& persona = personas_.at(session.persona_id);
  const auto now = clock::now();
  if (!breaker_.allow(now))
    return finish_turn(ctx, retry_later(req, 503, "engine_unavailable", "the text engine is failing; retry later",
                                        breaker_.retry_after(now)));
  const auto phase = in.phase_context.empty() ? session.phase : agents::parse_phase(in.phase_context);

  // Supervisor first: every input, before any agent sees it.
  const auto decision = agents::decide_input(session.safety, in.user_message);
  apply_decision(ctx, session, decision);
  ctx->phase = phase;
  if (decision.route_to_agents && in.target != api::agent::supervisor) {
    auto& t = ctx->engine_turn;
    t.agent = role_of(in.target);
    t.persona = &persona;
    t.phase = phase;
    t.transcript = session.transcript;
    t.clinician_text = in.user_message;
    t.special_handling = decision.special_handling;
    t.seed = static_cast<std::uint64_t>(session.seq);
    t.deadline = now + std::chrono::milliseconds(cfg_.engine_timeout_ms);
    // Only a model reads the passages; the scripted engine's lines are fixed.
    if (t.agent == engines::role::caregiver && engine_->is_model())
      t.knowledge = knowledge_for(session.owner, in.session_id, persona, in.user_message);
    if (cfg_.supervisor_model != "off" && engine_->is_model()) return second_opinion(ctx);
    return generate(ctx);
  }
  ctx->stored_reply = ctx->out.response_text;
  complete_turn(ctx, session);
}

void service::apply_decision(const std::shared_ptr<turn_context>& ctx, const session_state& session,
                             const agents::decision& d) {
  metrics_.count_decision(agents::to_string(d.cls));
  auto& out = ctx->out;
  out.active_agent = api::agent::supervisor;
  out.ui_message = d.ui_message;
  out.warning_count = session.safety.violations;
  out.session_terminated = session.safety.terminated;
  out.coach_feedback_meta = {{"safe", d.route_to_agents}, {"reason", d.rule.empty() ? "safe" : d.rule}};
  if (d.special_handling == "crisis_protocol") out.response_text = std::string(agents::crisis_message());
  ctx->decision = d;
  ctx->reply_meta = json{{"rule", d.rule}}.dump();
}

void service::second_opinion(const std::shared_ptr<turn_context>& ctx) {
  engines::turn s;
  s.agent = engines::role::supervisor;
  s.clinician_text = ctx->in.user_message;
  s.deadline = std::min(ctx->engine_turn.deadline, clock::now() + 5s);  // a classification, not a conversation
  engine_->generate_async(std::move(s), {}, [this, ctx](core::result<engines::generation> gen) {
    asio::post(io_, [this, ctx, gen = std::move(gen)]() mutable { on_second_opinion(ctx, std::move(gen)); });
  });
}

void service::on_second_opinion(const std::shared_ptr<turn_context>& ctx, core::result<engines::generation> gen) {
  const auto it = sessions_.find(ctx->in.session_id);
  if (it == sessions_.end() || it->second.ended)
    return finish_turn(ctx, error(*ctx->request, 409, "session_ended", "the session has ended"));
  auto& session = it->second;
  // The rules already allowed this input: a model that fails or answers nonsense changes nothing.
  std::optional<json> verdict;
  if (gen) verdict = core::json_scan::parse(gen->text, 4);
  if (!verdict || !verdict->is_object() || !verdict->contains("safe") || !(*verdict)["safe"].is_boolean()) {
    metrics_.count_decision("model_no_opinion");
    return generate(ctx);
  }
  if ((*verdict)["safe"].get<bool>()) return generate(ctx);
  const auto category = verdict->contains("category") && (*verdict)["category"].is_string()
                            ? (*verdict)["category"].get<std::string>()
                            : std::string("unsafe");
  const auto cls = agents::class_of_category(category);
  metrics_.count_decision("model_" + std::string(cls == agents::input_class::safe ? "unsafe" : agents::to_string(cls)));
  if (cfg_.supervisor_model == "flag" || cls == agents::input_class::safe) {
    // A second opinion worth a human look, not worth stopping the conversation.
    session.safety.flagged_for_review = true;
    ctx->reply_meta = json{{"rule", ctx->decision.rule}, {"model_flag", category}}.dump();
    return generate(ctx);
  }
  apply_decision(ctx, session, agents::decide(session.safety, {cls, "model." + category}));
  ctx->stored_reply = ctx->out.response_text;
  complete_turn(ctx, session);
}

std::string service::knowledge_for(const std::string& owner, const std::string& session_id,
                                   const agents::persona& persona, std::string_view query) {
  if (!kb_) return {};
  if (const auto it = prefetched_.find(owner + '\n' + session_id); it != prefetched_.end()) {
    auto text = std::move(it->second.text);
    const bool fresh = clock::now() - it->second.at <= prefetch_ttl;
    prefetched_.erase(it);
    if (fresh) return text;
  }
  auto passages = kb_->search(query, persona.id, kb_passages, kb_chars);
  return passages && !passages->empty() ? kb::format_for_prompt(*passages) : std::string();
}

void service::generate(const std::shared_ptr<turn_context>& ctx) {
  // The engine may answer on its own thread (a model server) or at once (the scripted engine): either way the
  // answer continues on the loop, which owns the sessions.
  ctx->engine_started = clock::now();
  engines::token_sink sink;
  if (ctx->events && tts_ && ctx->engine_turn.agent == engines::role::caregiver && ctx->first_issue.empty()) {
    // The reply's sentences go to speech as they complete (the sink runs on the engine's thread).
    ctx->splitter = std::make_shared<speech::sentence_splitter>();
    sink = [this, ctx, splitter = ctx->splitter](std::string_view piece) {
      for (auto& s : splitter->feed(piece))
        asio::post(io_, [this, ctx, s = std::move(s)]() mutable { speak_sentence(ctx, std::move(s)); });
    };
  }
  engine_->generate_async(ctx->engine_turn, std::move(sink), [this, ctx](core::result<engines::generation> gen) {
    asio::post(io_, [this, ctx, gen = std::move(gen)]() mutable { on_generated(ctx, std::move(gen)); });
  });
}

void service::on_generated(const std::shared_ptr<turn_context>& ctx, core::result<engines::generation> gen) {
  const auto& req = *ctx->request;
  const auto& in = ctx->in;
  auto& t = ctx->engine_turn;
  if (engine_->is_model()) {  // Server-Timing then tells the model server's share from sparc-mas's own
    const auto spent = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - ctx->engine_started);
    ctx->engine_time = std::max(ctx->engine_time, std::chrono::microseconds(0)) + spent;
  }
  // An engine that overran the deadline counts as failed even if it answered, so a slow model server opens the
  // circuit instead of queueing every client behind it.
  if (gen && clock::now() > t.deadline) gen = core::make_error_code(core::errc::timed_out);
  if (gen) {
    breaker_.record_success();
    if (engine_->is_model()) {
      metrics_.observe_engine(gen->queued, gen->first_token);
      ctx->engine_queue = std::max(ctx->engine_queue, std::chrono::microseconds(0)) + gen->queued;
    }
  } else {
    breaker_.record_failure(clock::now());
  }
  const auto it = sessions_.find(in.session_id);
  if (it == sessions_.end() || it->second.ended)
    return finish_turn(ctx, error(req, 409, "session_ended", "the session has ended"));
  auto& session = it->second;
  const auto& persona = personas_.at(session.persona_id);
  auto& out = ctx->out;

  if (!ctx->first_issue.empty()) {
    // The second try after an unsafe reply: use it if it is clean, else a safe line in character.
    std::string text;
    if (gen && agents::check_output(gen->text).issue == agents::output_issue::none) {
      text = gen->text;
      ctx->output_decision = "regenerate:" + ctx->first_issue;
    } else {
      text = persona.line("fallback", static_cast<std::uint64_t>(session.seq));
      if (text.empty()) text = agents::safe_fallback(persona.child_name);
      ctx->output_decision = "fallback:" + ctx->first_issue;
    }
    return caregiver_reply(ctx, session, std::move(text));
  }
  if (!gen) {
    const bool timed_out = gen.error() == core::errc::timed_out;
    return finish_turn(ctx, retry_later(req, timed_out ? 504 : 503, timed_out ? "engine_timeout" : "engine_unavailable",
                                        timed_out ? "the text engine did not answer in time" : "the text engine failed",
                                        1s));
  }
  if (in.target == api::agent::coach) {
    out.active_agent = api::agent::coach;
    ctx->reply_agent = "coach";
    ctx->stored_reply = gen->text;
    std::string why;
    if (const auto grade = agents::parse_coach_contract(gen->text, &why)) {
      out.response_text = gen->text;
      out.coach_feedback = utf8_prefix(grade->summary, 500);
      out.coach_feedback_meta = {
          {"safe", true}, {"status", "graded"}, {"engine", gen->engine}, {"graded_by", gen->graded_by}};
    } else {
      // No invented score: the failure is explicit and the raw output is kept in the store.
      out.coach_feedback_meta = {
          {"safe", false}, {"status", "grading_failed"}, {"reason", why}, {"engine", gen->engine}};
    }
    ctx->reply_meta =
        json{{"rule", ctx->decision.rule}, {"coach_status", out.coach_feedback_meta["status"]}}.dump();
    return complete_turn(ctx, session);
  }
  if (const auto first = agents::check_output(gen->text); first.issue != agents::output_issue::none) {
    ctx->sentences_stopped = true;  // the reply that replaces it comes whole
    ctx->first_issue = std::string(agents::to_string(first.issue));
    metrics_.count_decision("output_" + ctx->first_issue);
    t.seed += 1;  // regenerate once, then fall back to a safe line in character
    return generate(ctx);
  }
  if (ctx->splitter)
    if (auto rest = ctx->splitter->flush()) speak_sentence(ctx, std::move(*rest));
  caregiver_reply(ctx, session, std::move(gen->text));
}

void service::chat_message(net::ws_connection& c, std::string_view payload) {
  auto& sockets = chat_ws_->sockets_;
  const auto it = sockets.find(c.id());
  if (it == sockets.end()) return;
  auto& st = it->second;
  const auto fail = [&](int status, std::string_view code, std::string_view message) {
    c.send_text(json{{"type", "reply"}, {"status", status}, {"body", {{"error", {{"code", code}, {"message", message}}}}}}
                    .dump());
  };
  const auto m = core::json_scan::parse(payload, 8);
  if (!m || !m->is_object() || m->value("type", "") != "chat" || !m->contains("request") ||
      !(*m)["request"].is_object())
    return fail(400, "malformed", "send {\"type\":\"chat\",\"request\":{...the POST /v1/chat body...}}");
  if (st.busy) return fail(409, "busy", "one turn at a time on a socket: wait for the reply");
  if (m->contains("api_key") && (*m)["api_key"].is_string()) st.key = (*m)["api_key"].get<std::string>();
  // The same path as POST /v1/chat: a request of our own, kept alive until its reply.
  auto req = std::make_shared<net::http_request>();
  req->method = "POST";
  req->target = req->path = "/v1/chat";
  req->headers = {{"content-type", "application/json"}};
  if (!st.key.empty()) req->headers.emplace_back("x-api-key", st.key);
  req->body = (*m)["request"].dump();
  const auto who = authenticate(*req);
  if (!who) return fail(401, "unauthorized", "missing or invalid API key (X-API-Key on the upgrade, or api_key)");
  if (const auto wait = key_limiter_.acquire(who->key_id, clock::now()); wait.count() > 0)
    return fail(429, "rate_limited", "too many requests for this API key");
  metrics_.count_request("/v1/chat");
  st.busy = true;
  const auto id = c.id();
  auto sink = [this, id](const json& event) {
    if (const auto s = chat_ws_->sockets_.find(id); s != chat_ws_->sockets_.end()) s->second.c->send_text(event.dump());
  };
  net::responder respond(
      boost::asio::any_completion_handler<void(net::http_response)>([this, id, req](net::http_response r) {
        const auto s = chat_ws_->sockets_.find(id);
        if (s == chat_ws_->sockets_.end()) return;
        s->second.busy = false;
        auto body = json::parse(r.body, nullptr, false);
        s->second.c->send_text(
            json{{"type", "reply"}, {"status", r.status}, {"body", body.is_discarded() ? json(r.body) : body}}.dump());
      }),
      io_.get_executor());
  chat(*req, *who, std::move(respond), std::move(sink));
}

void service::speak_sentence(const std::shared_ptr<turn_context>& ctx, std::string sentence) {
  if (ctx->sentences_stopped || !ctx->events) return;
  // Each sentence passes the same output check as the whole reply before anyone hears it.
  if (agents::check_output(sentence).issue != agents::output_issue::none) {
    ctx->sentences_stopped = true;
    return;
  }
  const auto it = sessions_.find(ctx->in.session_id);
  if (it == sessions_.end()) return;
  const auto voice = voice_of(personas_.at(it->second.persona_id));
  const int index = ctx->sentences++;
  ++speech_queued_;
  asio::post(speech_pool_, [this, ctx, sentence = std::move(sentence), voice, index] {
    std::string url;
    if (auto audio = tts_->synthesize(sentence, voice))
      if (auto clip = clips_.put(speech::to_wav(*audio), clock::now())) url = "/v1/audio/" + *clip;
    --speech_queued_;
    const auto at_ms = std::chrono::duration<double, std::milli>(clock::now() - ctx->started).count();
    asio::post(io_, [ctx, sentence, url, index, at_ms] {
      ctx->events(json{{"type", "sentence"},
                       {"index", index},
                       {"text", sentence},
                       {"audio_url", url.empty() ? json(nullptr) : json(url)},
                       {"elapsed_ms", std::round(at_ms * 1000) / 1000}});
    });
  });
}

void service::caregiver_reply(const std::shared_ptr<turn_context>& ctx, session_state& session, std::string text) {
  auto& out = ctx->out;
  out.active_agent = api::agent::caregiver;
  ctx->reply_agent = "caregiver";
  out.response_text = text;
  ctx->stored_reply = text;
  session.transcript.push_back({"clinician", ctx->in.user_message});
  session.transcript.push_back({"caregiver", std::move(text)});
  while (session.transcript.size() > transcript_turns) session.transcript.erase(session.transcript.begin());
  complete_turn(ctx, session);
}

void service::complete_turn(const std::shared_ptr<turn_context>& ctx, session_state& session) {
  const auto& in = ctx->in;
  auto& out = ctx->out;
  const auto& decision = ctx->decision;
  const auto& persona = personas_.at(session.persona_id);
  out.warning_count = session.safety.violations;
  out.session_terminated = session.safety.terminated;
  session.phase = ctx->phase;  // only now: a failed generation leaves the session as it was

  // Durable before acknowledged: the turn, the reply and the decisions commit together, then we answer.
  const auto ts = now_ms();
  const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - ctx->started).count();
  store::turn_record user{in.session_id, ++session.seq, "user", in.user_message, ts, 0, "{}"};
  store::turn_record reply{in.session_id, ++session.seq,        ctx->reply_agent, std::move(ctx->stored_reply), ts,
                           latency,       std::move(ctx->reply_meta)};
  store::session_record row;
  row.id = in.session_id;
  row.owner = session.owner;
  row.persona = persona.id;
  row.scenario = session.scenario;
  row.training_type = session.training_type;
  row.phase = std::string(agents::to_string(session.phase));
  row.violations = session.safety.violations;
  row.terminated = session.safety.terminated;
  row.flagged = session.safety.flagged_for_review;
  row.created_at_ms = session.created_at_ms;
  row.updated_at_ms = ts;
  const std::string verdict =
      decision.cls == agents::input_class::crisis
          ? "crisis"
          : (decision.terminate_session ? "terminate" : (decision.counts_as_violation ? "warn" : "allow"));
  const std::string input_decision = verdict + ":" + std::string(agents::to_string(decision.cls));
  ++session.pending_writes;
  ctx->write = [user = std::move(user), reply = std::move(reply), row = std::move(row), input_decision,
                output_decision = ctx->output_decision](store::database& db) -> core::result<void> {
    if (auto existing = db.session(row.id); !existing) {
      if (auto r = db.create_session(row); !r) return r;
    } else if (auto r = db.update_session(row); !r) {
      return r;
    }
    if (auto r = store::record_turn(db, user); !r) return r;
    if (auto r = store::record_turn(db, reply); !r) return r;
    store::audit_log audit(db);
    if (auto r = audit.append_decision({row.id, "user", input_decision, user.text, 0, user.created_at_ms}); !r)
      return r.error();
    if (!output_decision.empty())
      if (auto r = audit.append_decision({row.id, reply.agent, output_decision, reply.text, 0, reply.created_at_ms});
          !r)
        return r.error();
    return {};
  };

  if (ctx->events && ctx->sentences > 0) {
    // After the sentences queued for speech, so the socket hears every sentence before the reply.
    asio::post(speech_pool_, [this, ctx] { commit_turn(ctx); });
    return;
  }
  if (cfg_.chat_audio == "url" && ctx->reply_agent == "caregiver" && tts_ && !out.response_text.empty()) {
    // Speak the reply on the speech worker, then commit from there: the loop stays free meanwhile.
    ctx->voice = voice_of(persona);
    ++speech_queued_;
    asio::post(speech_pool_, [this, ctx] {
      if (auto audio = tts_->synthesize(ctx->out.response_text, ctx->voice)) {
        auto wav = speech::to_wav(*audio);
        if (ctx->in.include_legacy_audio_b64 && wav.size() <= legacy_audio_b64_bytes)
          ctx->out.caregiver_audio_b64 = core::base64_encode(wav);
        if (auto clip = clips_.put(std::move(wav), clock::now())) ctx->out.audio_url = "/v1/audio/" + *clip;
      }
      --speech_queued_;
      commit_turn(ctx);
    });
    return;
  }
  commit_turn(ctx);
}

void service::commit_turn(const std::shared_ptr<turn_context>& ctx) {
  // May run on the speech worker: touch only `ctx` and thread-safe members here.
  auto done = [this, ctx](core::result<void> r) {
    asio::post(io_, [this, ctx, r] {
      const auto it = sessions_.find(ctx->in.session_id);
      if (it != sessions_.end()) {
        --it->second.pending_writes;
        if (!r && it->second.pending_writes == 0 && it->second.in_flight.size() <= 1)
          sessions_.erase(it);  // memory ran ahead of the store: reload the session from the store on its next turn
      }
      if (r) {
        metrics_.observe_turn(ctx->reply_agent,
                              std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - ctx->started));
        finish_turn(ctx, json_response(*ctx->request, api::encode_chat_response(ctx->out)));
      } else {
        finish_turn(ctx,
                    retry_later(*ctx->request, 503, "store_unavailable", "the turn could not be stored; retry", 1s));
      }
    });
  };
  if (!batcher_->submit(std::move(ctx->write), done)) {
    // The queue is full (back-pressure) or the store stopped: the completion will never run, so answer here.
    core::log::event(*log_, spdlog::level::warn, "store_queue_full");
    done(core::make_error_code(core::errc::unavailable));
  }
}

void service::finish_turn(const std::shared_ptr<turn_context>& ctx, net::http_response response) {
  if (const auto it = sessions_.find(ctx->in.session_id); it != sessions_.end()) {
    auto& flights = it->second.in_flight;
    if (const auto f = std::find(flights.begin(), flights.end(), ctx->fingerprint); f != flights.end())
      flights.erase(f);
  }
  add_server_timing(response, ctx->started, ctx->engine_time.count(), ctx->engine_queue.count());
  (*ctx->respond)(std::move(response));
  admission_.leave();  // may start the next queued turn right here
}

// ---- speech -----------------------------------------------------------------------------------------------------

void service::tts(const net::http_request& req, const caller& who, net::responder respond) {
  constexpr std::size_t max_text = 4000;  // one sentence or chunk per call, as the client sends it
  constexpr int max_queued = 16;          // synthesis requests waiting for the worker
  const auto started = clock::now();
  const auto fail = [&](net::http_response r) {
    add_server_timing(r, started);
    respond(std::move(r));
  };
  if (!tts_) return fail(retry_later(req, 503, "speech_unavailable", "no speech engine is available", 60s));
  if (const auto type = req.header("content-type"); type && core::ascii_lower(*type).find("json") == std::string::npos)
    return fail(error(req, 415, "unsupported_media_type", "send application/json"));
  auto parsed = core::json_scan::parse(req.body, 8);
  if (!parsed || !parsed->is_object()) return fail(error(req, 400, "malformed", "the body is not a JSON object"));
  auto& body = *parsed;
  const auto text = body.value("text", nlohmann::json()).is_string() ? body["text"].get<std::string>() : std::string();
  if (text.empty() || code_points(text) > max_text)
    return fail(error(req, 422, "validation_failed", "text must be 1-4000 characters"));
  std::string voice = tts_->name() == "riva" ? "" : "en-us";  // Riva: the server's first voice
  if (const auto v = body.find("voice"); v != body.end() && !v->is_null()) {
    if (!v->is_string() || v->get_ref<const std::string&>().empty() ||
        code_points(v->get_ref<const std::string&>()) > 64)
      return fail(error(req, 422, "validation_failed", "voice must be a string of at most 64 characters"));
    voice = v->get<std::string>();
  } else if (const auto s = body.find("session_id"); s != body.end() && s->is_string()) {
    // The caller's session speaks with its persona's voice.
    if (const auto it = sessions_.find(s->get<std::string>()); it != sessions_.end() && it->second.owner == who.key_id)
      voice = voice_of(personas_.at(it->second.persona_id));
  }
  if (++speech_queued_ > max_queued) {
    --speech_queued_;
    return fail(retry_later(req, 429, "busy", "too many speech requests in flight", 1s));
  }
  auto ok_headers = json_response(req, {}).headers;  // CORS and no-store, computed on the loop thread
  asio::post(speech_pool_, [this, text, voice, ok_headers, started, respond = std::move(respond),
                            unknown = error_body(req, 422, "unknown_voice", "no such voice"),
                            failed = error_body(req, 503, "speech_failed", "speech synthesis failed")]() mutable {
    auto audio = tts_->synthesize(text, voice);
    --speech_queued_;
    net::http_response r;
    if (!audio) {
      const bool bad_voice = audio.error() == core::errc::invalid_argument;
      r = bad_voice ? std::move(unknown) : std::move(failed);
      if (!bad_voice) r.headers.emplace_back("Retry-After", "1");
      asio::post(io_, [this, bad_voice] { metrics_.count_error(bad_voice ? "unknown_voice" : "speech_failed"); });
    } else {
      r.content_type = "audio/wav";
      r.headers = std::move(ok_headers);
      r.body = speech::to_wav(*audio);
    }
    add_server_timing(r, started);
    respond(std::move(r));
  });
}

net::http_response service::audio(const net::http_request& req, std::string_view id) {
  const auto clip = clips_.get(id, clock::now());
  if (!clip) return error(req, 404, "audio_not_found", "no such clip, or it expired");
  net::http_response r;
  r.content_type = "audio/wav";
  r.body = *clip;
  r.headers.emplace_back("Cache-Control", "private, max-age=60");
  add_cors(req, r);
  return r;
}

// ---- health, metrics, openapi -----------------------------------------------------------------------------------

net::http_response service::health(const net::http_request& req) {
  const bool store_ok = static_cast<bool>(reader_.schema_version());
  const auto circuit = breaker_.current(clock::now());
  const auto model = engine_->health();
  const bool ready = store_ok && circuit != engines::circuit_breaker::state::open && model.ready;
  json checks{{"store", store_ok ? "ok" : "unavailable"},
              {"personas", personas_.size()},
              {"engine", engine_->name()},
              {"engine_circuit", engines::to_string(circuit)},
              {"speech", tts_ ? std::string(tts_->name()) : std::string("unavailable")},
              {"recognizer", asr_ ? std::string(asr_->name()) : std::string("unavailable")}};
  if (speech_probe_)
    checks["speech_server"] = speech_server_ == 1 ? "serving" : speech_server_ == 0 ? "checking" : "unavailable";
  if (kb_) {
    if (const auto st = kb_->stats()) checks["knowledge_base"] = {{"documents", st->documents}, {"passages", st->passages}};
  } else {
    checks["knowledge_base"] = "unavailable";
  }
  if (engine_->is_model()) {
    // The model server's own readiness (GET /v1/models) and what it serves, adapters included.
    checks["model_server"] = {{"ready", model.ready}, {"detail", model.detail}, {"models", model.models}};
    if (!model.missing_models.empty()) checks["model_server"]["missing"] = model.missing_models;
  }
  // Speech is not needed to answer turns: without it the service is degraded, not unready.
  const bool speech_ok = tts_ && (!speech_probe_ || speech_server_ == 1);
  const json body{{"status", !ready ? "unavailable" : (speech_ok ? "ok" : "degraded")},
                  {"ready", ready},
                  {"auth", cfg_.api_keys.empty() ? "off (loopback only)" : "on"},
                  {"profile", cfg_.profile},
                  {"checks", std::move(checks)},
                  {"api_contract_version", api::contract_version}};
  auto r = json_response(req, body.dump());
  if (!ready) r.status = 503;
  return r;
}

net::http_response service::metrics_page(const net::http_request& req) {
  api::metrics::gauges g;
  g.live_sessions = sessions_.size();
  g.turns_active = admission_.active();
  g.turns_queued = admission_.queued();
  const auto stats = batcher_->counters();
  g.store_queue = stats.queued;
  g.audio_clips = clips_.clips();
  g.audio_bytes = clips_.bytes();
  g.engine_circuit_open = breaker_.current(clock::now()) == engines::circuit_breaker::state::open;
  g.model_server_ready = engine_->health().ready;
  net::http_response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics_.render(g);
  r.headers.emplace_back("Cache-Control", "no-store");
  add_cors(req, r);
  return r;
}

net::http_response service::openapi(const net::http_request& req) const {
  // Read per request: small, rare, and an edited document shows without a restart.
  std::ifstream in(std::filesystem::path(cfg_.data_dir) / "openapi.json", std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in || text.str().empty()) {
    auto r = json_response(req, api::encode_error("not_found", "the OpenAPI document is not installed"));
    r.status = 404;
    return r;
  }
  return json_response(req, text.str());
}

// ---- periodic work ----------------------------------------------------------------------------------------------

void service::evict_idle() {
  const auto now = clock::now();
  const auto idle = std::chrono::seconds(cfg_.session_idle_s);
  std::erase_if(sessions_, [&](const auto& entry) {
    const auto& s = entry.second;
    return s.pending_writes == 0 && s.in_flight.empty() && (s.ended || now - s.last_used > idle);
  });
}

void service::schedule_eviction() {
  evict_timer_.expires_after(std::min<std::chrono::seconds>(60s, std::chrono::seconds(cfg_.session_idle_s)));
  evict_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    evict_idle();
    schedule_eviction();
  });
}

store::database* service::maintenance_db() {
  if (!maintenance_db_) {
    std::string why;
    store::database::options opts;
    opts.checkpoint_pages = 0;  // this connection is the checkpointer
    auto db = store::database::open(cfg_.db, opts, &why);
    if (!db) {
      core::log::event(*log_, spdlog::level::warn, "maintenance_store_unavailable", {{"error", why}});
      return nullptr;
    }
    maintenance_db_ = std::make_unique<store::database>(std::move(*db));
  }
  return maintenance_db_.get();
}

void service::schedule_purge(std::chrono::seconds after) {
  purge_timer_.expires_after(after);
  purge_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    if (!purge_running_.exchange(true)) {
      asio::post(maintenance_pool_, [this] {
        // The purge takes the write lock in short chunks, interleaving with the batcher; the store logs what it
        // removed.
        if (auto* db = maintenance_db()) {
          if (auto n = db->purge_older_than(std::chrono::days(cfg_.retention_days), now_ms()); !n)
            core::log::event(*log_, spdlog::level::warn, "purge_failed", {{"error", n.error().message()}});
        }
        purge_running_ = false;
      });
    }
    schedule_purge(std::chrono::seconds(cfg_.purge_interval_s));
  });
}

void service::schedule_checkpoint() {
  // Copies the WAL into the database file in the background, so that when the writer checkpoints between batches
  // (which lets the WAL restart from its start) little is left for it to copy and sync.
  checkpoint_timer_.expires_after(50ms);
  checkpoint_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    if (!checkpoint_running_.exchange(true)) {
      asio::post(maintenance_pool_, [this] {
        if (auto* db = maintenance_db()) (void)db->checkpoint();  // a failure is logged by the store
        checkpoint_running_ = false;
      });
    }
    schedule_checkpoint();
  });
}

// ---- commands ---------------------------------------------------------------------------------------------------

int audit_verify(const config& cfg) {
  std::string why;
  if (!std::filesystem::exists(cfg.db)) {
    std::cerr << "sparc-mas audit verify: " << cfg.db << " does not exist\n";
    return 2;
  }
  auto db = store::database::open(cfg.db, &why);
  if (!db) {
    std::cerr << "sparc-mas audit verify: " << why << "\n";
    return 2;
  }
  store::audit_log audit(*db);
  const auto report = audit.verify();
  if (!report) {
    std::cerr << "sparc-mas audit verify: cannot read the audit log\n";
    return 2;
  }
  if (report->ok()) {
    std::cout << "ok: " << report->records << " records, head seq " << report->head.seq << " hash " << report->head.hash
              << "\n";
    return 0;
  }
  std::cout << "FAILED at record " << report->first_bad_seq << ": " << store::describe(report->fault) << "\n";
  return 1;
}

speech_backends make_speech(const config& cfg) {
  auto log = core::log::get("mas");
  speech_backends out;
  std::shared_ptr<grpc::Channel> channel;
  if (cfg.tts == "riva" || cfg.asr == "riva") {
    speech::riva_options o;
    o.address = cfg.riva_url;
    o.tls = cfg.riva_tls;
    o.ca_file = cfg.riva_ca_file;
    auto opened = speech::open_riva_channel(o);  // lazy: connects on first use and keeps reconnecting
    if (!opened) throw std::runtime_error("riva: cannot read --riva-ca-file " + cfg.riva_ca_file);
    channel = std::move(*opened);
    auto health = std::make_shared<speech::riva_health>(channel);
    out.probe = [health] { return health->check(); };
  }
  if (cfg.tts == "riva") {
    speech::riva_tts_options t;
    t.sample_rate = cfg.riva_sample_rate;
    t.deadline = std::chrono::milliseconds(cfg.riva_deadline_ms);
    out.tts = std::make_unique<speech::riva_tts>(channel, t);
  } else {
    try {
      out.tts = std::make_unique<speech::espeak_engine>();
    } catch (const std::exception& e) {
      core::log::event(*log, spdlog::level::warn, "speech_unavailable", {{"error", e.what()}});
    }
  }
  if (cfg.asr == "riva") out.asr = std::make_unique<speech::riva_asr>(channel);
  if (cfg.asr == "pocketsphinx") out.asr = std::make_unique<speech::pocketsphinx_engine>();  // throws: model missing
  return out;
}

std::unique_ptr<engines::llm_engine> make_engine(const config& cfg) {
  if (cfg.engine != "openai") return std::make_unique<engines::scripted_engine>();
  engines::openai_config o;
  o.base_url = cfg.llm_url;
  o.api_key = cfg.llm_api_key;
  for (const auto r : {engines::role::caregiver, engines::role::coach, engines::role::supervisor})
    o.models[r] = cfg.llm_model;
  for (const auto& a : cfg.llm_adapters) {  // "agent=name", checked by the command line
    const auto eq = a.find('=');
    const auto agent = a.substr(0, eq);
    o.models[agent == "coach" ? engines::role::coach
             : agent == "supervisor" ? engines::role::supervisor
                                     : engines::role::caregiver] = a.substr(eq + 1);
  }
  o.sampling_by_agent[engines::role::caregiver] = {cfg.llm_temperature, 0.95, cfg.llm_max_tokens};
  o.sampling_by_agent[engines::role::coach] = {0.2, 0.95, cfg.llm_max_tokens * 3};  // a grade, not a performance
  o.sampling_by_agent[engines::role::supervisor] = {0.0, 1.0, 64};
  o.stream = cfg.llm_stream;
  o.coach_format = cfg.llm_coach_format;
  o.context_tokens = cfg.llm_context_tokens;
  o.connect_timeout = std::chrono::milliseconds(cfg.llm_connect_timeout_ms);
  o.first_token_timeout = std::chrono::milliseconds(cfg.llm_first_token_timeout_ms);
  o.stall_timeout = std::chrono::milliseconds(cfg.llm_stall_timeout_ms);
  o.max_concurrency = cfg.llm_max_concurrency;
  o.max_queue = cfg.llm_max_queue;
  o.retries = cfg.llm_retries;
  return std::make_unique<engines::openai_engine>(std::move(o));
}

int run(const config& cfg) {
  const auto level = core::log::parse_level(cfg.log_level).value_or(spdlog::level::info);
  core::log::init(cfg.log_format == "text" ? core::log::format::text : core::log::format::json, level);
  auto log = core::log::get("mas");
  if (std::signal(SIGPIPE, SIG_IGN) == SIG_ERR) core::log::event(*log, spdlog::level::warn, "sigpipe_not_ignored");
  try {
    std::string why;
    auto personas = agents::load_personas(std::filesystem::path(cfg.data_dir) / "personas", &why);
    if (!personas) throw std::runtime_error("personas: " + why);
    store::database::options writer_opts;
    writer_opts.checkpoint_pages = 0;  // the batcher checkpoints between batches, see commit_batcher::options
    auto db = store::database::open(cfg.db, writer_opts, &why);
    if (!db) throw std::runtime_error("store: " + why);
    auto reader = store::database::open(cfg.db, &why);  // after the writer: the schema is migrated by now
    if (!reader) throw std::runtime_error("store: " + why);
    store::commit_batcher::options batch_opts;
    batch_opts.checkpoint_frames = 2000;  // about 8 MB of WAL; measured best of 500-4000 (docs/benchmarks.md)
    auto batcher = std::make_unique<store::commit_batcher>(std::move(*db), batch_opts);
    asio::io_context io(1);
    auto speech = make_speech(cfg);
    auto& tts = speech.tts;
    auto engine = make_engine(cfg);
    // The knowledge base: the imported index (sparc-mas kb import), else the shipped sheets indexed in memory.
    std::unique_ptr<kb::knowledge_base> knowledge;
    if (auto opened = kb::knowledge_base::open(cfg.kb, &why)) {
      knowledge = std::make_unique<kb::knowledge_base>(std::move(*opened));
    } else if (opened.error() == core::errc::not_found &&
               std::filesystem::is_directory(std::filesystem::path(cfg.data_dir) / "kb")) {
      if (auto built = kb::knowledge_base::from_dir(std::filesystem::path(cfg.data_dir) / "kb", &why))
        knowledge = std::make_unique<kb::knowledge_base>(std::move(*built));
      else
        core::log::event(*log, spdlog::level::warn, "kb_unavailable", {{"error", why}});
    } else {
      core::log::event(*log, spdlog::level::warn, "kb_unavailable", {{"error", why}});
    }
    core::log::event(*log, spdlog::level::info, "engine",
                     {{"engine", std::string(engine->name())}, {"url", cfg.llm_url}, {"model", cfg.llm_model}});
    service svc(io, cfg, std::move(*personas), std::move(batcher), std::move(*reader), std::move(tts), log,
                std::move(engine), std::move(speech.asr), std::move(knowledge), std::move(speech.probe));
    net::server_limits limits;
    limits.http.max_body_bytes = api::limits::chat_body_bytes;
    limits.ws_ping_interval = std::chrono::milliseconds(0);
    limits.json_errors = true;
    net::server server(io, limits, svc, nullptr, core::log::get("net"));
    const auto port = server.listen(cfg.bind, cfg.port);
    core::log::event(*log, spdlog::level::info, "listening",
                     {{"url", "http://" + cfg.bind + ":" + std::to_string(port)}, {"auth", !cfg.api_keys.empty()}});
    svc.start_timers();
    if (!cfg.ready_file.empty()) {
      std::ofstream(cfg.ready_file + ".tmp")
          << json{{"port", port}, {"pid", static_cast<long>(::getpid())}}.dump() << "\n";
      std::filesystem::rename(cfg.ready_file + ".tmp", cfg.ready_file);
    }
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      server.shutdown();
      svc.stop();  // timers cancelled, workers joined, queued writes committed; then io.run() runs out of work
    });
    io.run();
    svc.stop();
    core::log::event(*log, spdlog::level::info, "stopped");
    return 0;
  } catch (const std::exception& e) {
    core::log::event(*log, spdlog::level::err, "fatal", {{"error", e.what()}});
    return 1;
  }
}

}  // namespace mas
