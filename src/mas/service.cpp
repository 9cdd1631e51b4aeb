#include "mas/service.hpp"

#include "core/encoding.hpp"
#include "core/log.hpp"
#include "mas/agents/coach.hpp"
#include "mas/api/contract.hpp"
#include "mas/speech/espeak.hpp"
#include "mas/store/audit.hpp"
#include "core/json_scan.hpp"

#include <boost/asio/signal_set.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unistd.h>

namespace mas {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;

namespace {

constexpr std::size_t transcript_turns = 24;  ///< history the engines see, as the original kept

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

engines::role role_of(api::agent a) {
  switch (a) {
    case api::agent::coach: return engines::role::coach;
    case api::agent::supervisor: return engines::role::supervisor;
    case api::agent::caregiver: break;
  }
  return engines::role::caregiver;
}

}  // namespace

service::service(const config& cfg, std::map<std::string, agents::persona, std::less<>> personas,
                 std::unique_ptr<store::commit_batcher> batcher, std::unique_ptr<speech::speech_engine> tts,
                 std::shared_ptr<spdlog::logger> log)
    : cfg_(cfg), personas_(std::move(personas)), batcher_(std::move(batcher)), log_(std::move(log)), tts_(std::move(tts)) {}

void service::stop() {
  speech_pool_.join();
  batcher_->stop();
}

void service::add_cors(const net::http_request& req, net::http_response& r) const {
  const auto origin = req.header("origin");
  if (!origin) return;
  for (const auto& allowed : cfg_.cors_origins)
    if (*origin == allowed) {
      r.headers.emplace_back("Access-Control-Allow-Origin", allowed);
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

net::http_response service::error(const net::http_request& req, int status, std::string_view code, std::string_view message) const {
  auto r = json_response(req, api::encode_error(code, message));
  r.status = status;
  return r;
}

bool service::authorized(const net::http_request& req) const {
  if (cfg_.api_keys.empty()) return true;
  const auto key = req.header("x-api-key");
  if (!key) return false;
  bool match = false;
  for (const auto& k : cfg_.api_keys) match |= core::constant_time_equal(*key, k);  // no early exit
  return match;
}

const agents::persona& service::pick_persona(std::string_view system_prompt) const {
  // The Unity client names the persona in its system prompt; Anne is Skills Practice 1, the default.
  const auto text = core::ascii_lower(system_prompt);
  if (text.find("maya") != std::string::npos && personas_.contains("maya-pena")) return personas_.at("maya-pena");
  if (const auto it = personas_.find("anne-palmer"); it != personas_.end()) return it->second;
  return personas_.begin()->second;
}

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
    if (req.method != "GET" && req.method != "HEAD") return error(req, 405, "method_not_allowed", "use GET");
    const json body{{"status", "ok"},
                    {"ready", true},
                    {"auth", cfg_.api_keys.empty() ? "off (loopback only)" : "on"},
                    {"checks", {{"store", "ok"},
                                {"personas", personas_.size()},
                                {"engine", engine_.name()},
                                {"speech", tts_ ? std::string(tts_->name()) : std::string("unavailable")}}},
                    {"api_contract_version", api::contract_version}};
    return json_response(req, body.dump());
  }
  return error(req, 404, "not_found", "no such route");
}

void service::handle_async(const net::http_request& req, std::string_view ip, net::responder respond) {
  if (req.path == "/v1/chat" && req.method != "OPTIONS") {
    if (req.method != "POST") return respond(error(req, 405, "method_not_allowed", "use POST"));
    if (!authorized(req)) return respond(error(req, 401, "unauthorized", "missing or invalid X-API-Key"));
    return chat(req, std::move(respond));
  }
  if (req.path == "/v1/tts" && req.method != "OPTIONS") {
    if (req.method != "POST") return respond(error(req, 405, "method_not_allowed", "use POST"));
    if (!authorized(req)) return respond(error(req, 401, "unauthorized", "missing or invalid X-API-Key"));
    return tts(req, std::move(respond));
  }
  respond(handle(req, ip));
}

net::ws_handler* service::websocket(const net::http_request& req, net::http_response& refusal) {
  refusal = error(req, 404, "not_found", "no WebSocket route here yet");
  return nullptr;
}

void service::chat(const net::http_request& req, net::responder respond) {
  const auto started = std::chrono::steady_clock::now();
  if (const auto type = req.header("content-type"); type && core::ascii_lower(*type).find("json") == std::string::npos)
    return respond(error(req, 415, "unsupported_media_type", "send application/json"));
  std::vector<api::field_error> fields;
  auto decoded = api::decode_chat_request(req.body, &fields);
  if (!decoded) {
    const bool malformed = decoded.error() == core::errc::malformed;
    auto r = json_response(req, api::encode_error(malformed ? "malformed" : "validation_failed",
                                                  malformed ? "the body is not a JSON object" : "invalid fields", fields));
    r.status = decoded.error() == core::errc::too_large ? 413 : (malformed ? 400 : 422);
    return respond(std::move(r));
  }
  auto& in = *decoded;
  auto it = sessions_.find(in.session_id);
  if (it == sessions_.end()) {
    if (sessions_.size() >= cfg_.max_sessions) {
      auto r = error(req, 503, "capacity", "too many live sessions");
      r.headers.emplace_back("Retry-After", "30");
      return respond(std::move(r));
    }
    it = sessions_.emplace(in.session_id, session_state{}).first;
    it->second.persona_id = pick_persona(in.system_prompt).id;
  }
  auto& session = it->second;
  const auto& persona = personas_.at(session.persona_id);

  // Supervisor first: every input, before any agent sees it.
  const auto decision = agents::decide_input(session.safety, in.user_message);
  api::chat_response out;
  out.active_agent = api::agent::supervisor;
  out.ui_message = decision.ui_message;
  out.warning_count = session.safety.violations;
  out.session_terminated = session.safety.terminated;
  out.coach_feedback_meta = {{"safe", decision.route_to_agents}, {"reason", decision.rule.empty() ? "safe" : decision.rule}};
  if (decision.special_handling == "crisis_protocol") out.response_text = std::string(agents::crisis_message());

  std::string reply_agent = "supervisor";
  if (decision.route_to_agents && in.target != api::agent::supervisor) {
    engines::turn t;
    t.agent = role_of(in.target);
    t.persona = &persona;
    t.phase = agents::parse_phase(in.phase_context);
    t.transcript = session.transcript;
    t.clinician_text = in.user_message;
    t.special_handling = decision.special_handling;
    t.seed = static_cast<std::uint64_t>(session.seq);
    auto gen = engine_.generate(t);
    if (!gen) return respond(error(req, 503, "engine_unavailable", "the text engine failed"));
    if (in.target == api::agent::coach) {
      out.active_agent = api::agent::coach;
      reply_agent = "coach";
      std::string why;
      if (const auto grade = agents::parse_coach_contract(gen->text, &why)) {
        out.response_text = gen->text;
        out.coach_feedback = grade->summary.substr(0, 500);
        out.coach_feedback_meta = {{"safe", true}, {"status", "graded"}, {"engine", gen->engine}, {"graded_by", gen->graded_by}};
      } else {
        // No invented score: the failure is explicit and the raw output is kept in the store.
        out.coach_feedback_meta = {{"safe", false}, {"status", "grading_failed"}, {"reason", why}, {"engine", gen->engine}};
      }
    } else {
      out.active_agent = api::agent::caregiver;
      reply_agent = "caregiver";
      std::string text = gen->text;
      if (agents::check_output(text).issue != agents::output_issue::none) {
        t.seed += 1;  // regenerate once, then fall back to a safe line in character
        auto again = engine_.generate(t);
        text = again && agents::check_output(again->text).issue == agents::output_issue::none
                   ? again->text
                   : std::string(agents::safe_fallback(persona.name));
      }
      out.response_text = text;
      session.transcript.push_back({"clinician", in.user_message});
      session.transcript.push_back({"caregiver", text});
      while (session.transcript.size() > transcript_turns) session.transcript.erase(session.transcript.begin());
    }
  }

  // Durable before acknowledged: the turn, the reply and the decision commit together, then we answer.
  const auto ts = now_ms();
  const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  store::turn_record user{in.session_id, ++session.seq, "user", in.user_message, ts, 0, "{}"};
  store::turn_record reply{in.session_id, ++session.seq, reply_agent, out.response_text, ts, latency,
                           json{{"rule", decision.rule}}.dump()};
  store::session_record row;
  row.id = in.session_id;
  row.persona = persona.id;
  row.training_type = persona.training_type;
  row.phase = std::string(agents::to_string(agents::parse_phase(in.phase_context)));
  row.violations = session.safety.violations;
  row.terminated = session.safety.terminated;
  row.flagged = session.safety.flagged_for_review;
  row.created_at_ms = ts;
  row.updated_at_ms = ts;
  const std::string verdict = decision.terminate_session ? "terminate" : (decision.counts_as_violation ? "warn" : "allow");
  auto write = [user, reply, row, verdict, judged = in.user_message](store::database& db) -> core::result<void> {
    if (!db.session(row.id)) {
      if (auto r = db.create_session(row); !r) return r;
    } else if (auto r = db.update_session(row); !r) {
      return r;
    }
    if (auto r = store::record_turn(db, user); !r) return r;
    if (auto r = store::record_turn(db, reply); !r) return r;
    store::audit_log audit(db);
    if (auto r = audit.append_decision({row.id, "supervisor", verdict, judged, 0, user.created_at_ms}); !r) return r.error();
    return {};
  };
  auto body = api::encode_chat_response(out);
  auto ok = json_response(req, std::move(body));
  auto unavailable = error(req, 503, "store_unavailable", "the turn could not be stored; retry");
  unavailable.headers.emplace_back("Retry-After", "1");
  auto responder = std::make_shared<net::responder>(std::move(respond));
  auto submitted = batcher_->submit(std::move(write), [responder, ok, unavailable](core::result<void> r) {
    (*responder)(r ? ok : unavailable);  // runs on the store's writer thread; the responder posts back
  });
  if (!submitted) {
    // The queue is full (back-pressure) or the store stopped: the completion will never run, so answer here.
    core::log::event(*log_, spdlog::level::warn, "store_queue_full");
    (*responder)(std::move(unavailable));
  }
}

void service::tts(const net::http_request& req, net::responder respond) {
  constexpr std::size_t max_text = 4000;  // one sentence or chunk per call, as the client sends it
  constexpr int max_queued = 16;          // synthesis requests waiting for the worker
  const auto fail = [&](int status, std::string_view code, std::string_view message) {
    respond(error(req, status, code, message));
  };
  if (!tts_) return fail(503, "speech_unavailable", "no speech engine is available");
  auto parsed = core::json_scan::parse(req.body, 8);
  if (!parsed || !parsed->is_object()) return fail(400, "malformed", "the body is not a JSON object");
  auto& body = *parsed;
  const auto text = body.value("text", nlohmann::json()).is_string() ? body["text"].get<std::string>() : std::string();
  if (text.empty() || text.size() > max_text) return fail(422, "validation_failed", "text must be 1-4000 characters");
  std::string voice = "en-us";
  if (const auto v = body.find("voice"); v != body.end() && !v->is_null()) {
    if (!v->is_string() || v->get_ref<const std::string&>().empty() || v->get_ref<const std::string&>().size() > 64)
      return fail(422, "validation_failed", "voice must be a string of at most 64 characters");
    voice = v->get<std::string>();
  } else if (const auto s = body.find("session_id"); s != body.end() && s->is_string()) {
    // The session's persona speaks with its own voice.
    if (const auto it = sessions_.find(s->get<std::string>()); it != sessions_.end())
      voice = personas_.at(it->second.persona_id).voice;
  }
  if (++speech_queued_ > max_queued) {
    --speech_queued_;
    auto r = error(req, 429, "busy", "too many speech requests in flight");
    r.headers.emplace_back("Retry-After", "1");
    return respond(std::move(r));
  }
  auto ok_headers = json_response(req, {}).headers;  // CORS and no-store, computed on the loop thread
  boost::asio::post(speech_pool_, [this, text, voice, ok_headers, respond = std::move(respond),
                                    unknown = error(req, 422, "unknown_voice", "no such voice"),
                                    failed = error(req, 503, "speech_failed", "speech synthesis failed")]() mutable {
    auto audio = tts_->synthesize(text, voice);
    --speech_queued_;
    if (!audio) return respond(audio.error() == core::errc::invalid_argument ? std::move(unknown) : std::move(failed));
    net::http_response r;
    r.content_type = "audio/wav";
    r.headers = std::move(ok_headers);
    r.body = speech::to_wav(*audio);
    respond(std::move(r));
  });
}

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
    std::cout << "ok: " << report->records << " records, head seq " << report->head.seq << " hash " << report->head.hash << "\n";
    return 0;
  }
  std::cout << "FAILED at record " << report->first_bad_seq << ": " << store::describe(report->fault) << "\n";
  return 1;
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
    auto db = store::database::open(cfg.db, &why);
    if (!db) throw std::runtime_error("store: " + why);
    auto batcher = std::make_unique<store::commit_batcher>(std::move(*db));
    asio::io_context io(1);
    std::unique_ptr<speech::speech_engine> tts;
    try {
      tts = std::make_unique<speech::espeak_engine>();
    } catch (const std::exception& e) {
      core::log::event(*log, spdlog::level::warn, "speech_unavailable", {{"error", e.what()}});
    }
    service svc(cfg, std::move(*personas), std::move(batcher), std::move(tts), log);
    net::server_limits limits;
    limits.http.max_body_bytes = api::limits::chat_body_bytes;
    limits.ws_ping_interval = std::chrono::milliseconds(0);
    net::server server(io, limits, svc, nullptr, core::log::get("net"));
    const auto port = server.listen(cfg.bind, cfg.port);
    core::log::event(*log, spdlog::level::info, "listening",
                     {{"url", "http://" + cfg.bind + ":" + std::to_string(port)}, {"auth", !cfg.api_keys.empty()}});
    if (!cfg.ready_file.empty()) {
      std::ofstream(cfg.ready_file + ".tmp") << json{{"port", port}, {"pid", static_cast<long>(::getpid())}}.dump() << "\n";
      std::filesystem::rename(cfg.ready_file + ".tmp", cfg.ready_file);
    }
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (!ec) server.shutdown();
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
