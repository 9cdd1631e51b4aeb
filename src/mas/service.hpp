#pragma once
#include "mas/agents/persona.hpp"
#include "mas/audio_socket.hpp"
#include "mas/agents/supervisor.hpp"
#include "mas/api/admission.hpp"
#include "mas/api/contract.hpp"
#include "mas/api/metrics.hpp"
#include "mas/api/rate_limit.hpp"
#include "mas/config.hpp"
#include "mas/engines/breaker.hpp"
#include "mas/engines/engine.hpp"
#include "mas/kb/kb.hpp"
#include "mas/speech/clip_cache.hpp"
#include "mas/speech/speech.hpp"
#include "mas/store/database.hpp"
#include "net/server.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

namespace mas {

/// Runs sparc-mas until SIGTERM or SIGINT; returns the exit code.
int run(const config& cfg);

/// The speech engines `cfg` asks for: synthesis, recognition (null: none) and, with Riva, its readiness probe.
struct speech_backends {
  std::unique_ptr<speech::speech_engine> tts;  ///< null when espeak-ng cannot start
  std::unique_ptr<speech::asr_engine> asr;
  std::function<core::result<void>()> probe;
};
speech_backends make_speech(const config& cfg);

/// The text engine `cfg` asks for: the scripted engine, or the OpenAI-compatible client (which throws on a URL it
/// cannot use, so a misconfiguration stops the start).
std::unique_ptr<engines::llm_engine> make_engine(const config& cfg);

/// `sparc-mas audit verify`: walks the chain in cfg.db; 0 when intact, 1 when not (the first bad record is named).
int audit_verify(const config& cfg);

/// The HTTP service: the Unity contract (/v1/chat), server-side sessions, speech, health and metrics, with auth,
/// CORS, rate limits and admission control, over net::server. Everything here runs on the one event-loop thread
/// except speech synthesis (a worker), the store's writer thread and the retention purge (a maintenance worker);
/// their results come back to the loop by post. A turn or session change is answered only after the store
/// committed it.
class service final : public net::http_handler {
 public:
  /// `tts` may be null (speech unavailable: /v1/tts answers 503 and /health says so). `reader` is a second
  /// connection to the store for reads on the loop thread (WAL lets it read while the writer commits). `engine`
  /// null means the embedded scripted engine; `asr` null means WS /ws/audio answers ASR_UNAVAILABLE; `kb` null
  /// means the caregiver gets no retrieved passages. `speech_probe`, when given, is a blocking readiness check of
  /// a speech server (Riva), run every few seconds off the loop and reported by /health.
  service(boost::asio::io_context& io, const config& cfg, std::map<std::string, agents::persona, std::less<>> personas,
          std::unique_ptr<store::commit_batcher> batcher, store::database reader,
          std::unique_ptr<speech::speech_engine> tts, std::shared_ptr<spdlog::logger> log,
          std::unique_ptr<engines::llm_engine> engine = nullptr, std::unique_ptr<speech::asr_engine> asr = nullptr,
          std::unique_ptr<kb::knowledge_base> kb = nullptr, std::function<core::result<void>()> speech_probe = {});
  ~service() override;
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  net::http_response handle(const net::http_request& request, std::string_view remote_ip) override;
  void handle_async(const net::http_request& request, std::string_view remote_ip, net::responder respond) override;
  net::ws_handler* websocket(const net::http_request& request, net::http_response& refusal) override;

  /// Starts the periodic work: the retention purge and the eviction of idle sessions from memory.
  void start_timers();
  /// Stops the timers, finishes speech and maintenance, commits what is queued and stops the store's writer.
  void stop();

 private:
  using clock = std::chrono::steady_clock;

  /// A live session in memory; the store holds the same state, so an evicted session comes back on its next turn.
  struct session_state {
    std::string owner;  ///< id of the API key that created it
    std::string persona_id;
    std::string scenario;
    std::string training_type;
    agents::phase phase = agents::phase::unknown;  ///< the latest C-LEAR phase the client named
    agents::violation_state safety;
    std::vector<engines::transcript_entry> transcript;  ///< the last turns, oldest first
    std::int64_t seq = 0;                               ///< turns stored so far
    std::int64_t created_at_ms = 0;
    bool ended = false;
    int pending_writes = 0;              ///< submitted to the store, not yet committed
    std::vector<std::string> in_flight;  ///< fingerprints of turns being answered (duplicate detection)
    clock::time_point last_used;
  };

  /// What one chat turn carries from admission to its reply.
  struct turn_context;

  /// Who is calling: the API key's id, or "local" when auth is off.
  struct caller {
    std::string key_id;
  };

  /// WS /ws/chat: the /v1/chat contract over a socket, with each sentence of the caregiver's reply spoken and
  /// announced as soon as it is generated.
  class chat_socket;
  friend class chat_socket;
  /// Sends one event to the socket that asked for a turn (on the loop).
  using event_sink = std::function<void(const nlohmann::json&)>;

  // Routes.
  void chat(const net::http_request& request, const caller& who, net::responder respond, event_sink events = {});
  /// One message on WS /ws/chat: a turn request, answered with sentence events and then the reply.
  void chat_message(net::ws_connection& c, std::string_view payload);
  /// A sentence of the caregiver's reply: checked, spoken and announced (WS /ws/chat turns).
  void speak_sentence(const std::shared_ptr<turn_context>& ctx, std::string sentence);
  void run_turn(const std::shared_ptr<turn_context>& ctx);
  /// The supervisor's decision, as the reply and the audit record will carry it.
  void apply_decision(const std::shared_ptr<turn_context>& ctx, const session_state& session,
                      const agents::decision& d);
  /// Asks the model for its second opinion on an input the rules allowed (--supervisor-model).
  void second_opinion(const std::shared_ptr<turn_context>& ctx);
  void on_second_opinion(const std::shared_ptr<turn_context>& ctx, core::result<engines::generation> gen);
  /// Hands the turn to the engine; its answer comes back to on_generated on the loop.
  void generate(const std::shared_ptr<turn_context>& ctx);
  void on_generated(const std::shared_ptr<turn_context>& ctx, core::result<engines::generation> gen);
  /// The caregiver's checked reply joins the transcript, then the turn completes.
  void caregiver_reply(const std::shared_ptr<turn_context>& ctx, session_state& session, std::string text);
  /// Stores the turn (and speaks it first with --chat-audio url), then answers.
  void complete_turn(const std::shared_ptr<turn_context>& ctx, session_state& session);
  void commit_turn(const std::shared_ptr<turn_context>& ctx);
  void finish_turn(const std::shared_ptr<turn_context>& ctx, net::http_response response);
  void create_session(const net::http_request& request, const caller& who, net::responder respond);
  net::http_response get_session(const net::http_request& request, const caller& who, std::string_view id);
  void delete_session(const net::http_request& request, const caller& who, std::string_view id, net::responder respond);
  void tts(const net::http_request& request, const caller& who, net::responder respond);
  net::http_response audio(const net::http_request& request, std::string_view id);
  net::http_response health(const net::http_request& request);
  net::http_response metrics_page(const net::http_request& request);
  net::http_response openapi(const net::http_request& request) const;

  // Helpers.
  /// The live session `id` for `who`: from memory, or restored from the store. nullptr with `refusal` set when it
  /// does not exist for this caller (404, also for another key's session), has ended (409) or cannot be read (503).
  session_state* find_session(const net::http_request& request, const caller& who, const std::string& id,
                              net::http_response& refusal);
  std::optional<caller> authenticate(const net::http_request& request) const;
  /// The configured key equal to `key` (every key compared, in constant time), or nullptr.
  const config::api_key* find_key(std::string_view key) const;
  /// An error reply, counted in the metrics; error_body builds one without counting (for replies prepared in
  /// advance that may never be sent).
  net::http_response error(const net::http_request& request, int status, std::string_view code,
                           std::string_view message);
  net::http_response error_body(const net::http_request& request, int status, std::string_view code,
                                std::string_view message) const;
  net::http_response method_not_allowed(const net::http_request& request, std::string_view allow);
  /// 400, 413 or 422 for a request body its decoder refused, with the fields it named.
  net::http_response refused_body(const net::http_request& request, boost::system::error_code why,
                                  const std::vector<api::field_error>& fields);
  net::http_response retry_later(const net::http_request& request, int status, std::string_view code,
                                 std::string_view message, std::chrono::milliseconds after);
  net::http_response json_response(const net::http_request& request, std::string body) const;
  void add_cors(const net::http_request& request, net::http_response& response) const;
  const agents::persona* find_persona(std::string_view id_or_name) const;
  const agents::persona& pick_persona(std::string_view system_prompt) const;
  /// Passages for the caregiver's prompt: what a prefetch left for this session (once), else a search for `query`.
  std::string knowledge_for(const std::string& owner, const std::string& session_id, const agents::persona& persona,
                            std::string_view query);
  void evict_idle();
  void schedule_purge(std::chrono::seconds after);
  void schedule_eviction();
  void schedule_checkpoint();
  void schedule_speech_probe();
  /// The voice a persona speaks with on this speech engine.
  std::string voice_of(const agents::persona& p) const;
  /// The maintenance worker's own connection, opened on first use; touched only on that worker.
  store::database* maintenance_db();

  boost::asio::io_context& io_;
  const config& cfg_;
  std::map<std::string, agents::persona, std::less<>> personas_;
  std::unique_ptr<store::commit_batcher> batcher_;
  store::database reader_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<engines::llm_engine> engine_;
  engines::circuit_breaker breaker_;
  std::unordered_map<std::string, session_state> sessions_;
  std::unique_ptr<speech::speech_engine> tts_;
  std::unique_ptr<speech::asr_engine> asr_;
  std::unique_ptr<audio_socket> audio_ws_;  ///< WS /ws/audio; after asr_, which it uses
  std::unique_ptr<chat_socket> chat_ws_;    ///< WS /ws/chat
  std::unique_ptr<kb::knowledge_base> kb_;
  struct prefetched {
    std::string text;  ///< formatted passages for the next caregiver prompt
    clock::time_point at;
  };
  std::unordered_map<std::string, prefetched> prefetched_;  ///< by owner + session id; one-shot, bounded
  speech::clip_cache clips_;
  api::rate_limiter key_limiter_;
  api::rate_limiter session_limiter_;
  api::admission admission_;
  api::metrics metrics_;
  boost::asio::steady_timer purge_timer_;
  boost::asio::steady_timer evict_timer_;
  boost::asio::steady_timer checkpoint_timer_;
  std::unique_ptr<store::database> maintenance_db_;  ///< maintenance worker only
  boost::asio::thread_pool speech_pool_{1};       ///< synthesis blocks for tens of milliseconds: off the event loop
  boost::asio::thread_pool maintenance_pool_{1};  ///< the retention purge takes the store's write lock in chunks
  std::atomic<int> speech_queued_{0};
  std::atomic<bool> purge_running_{false};
  std::atomic<bool> checkpoint_running_{false};
  std::function<core::result<void>()> speech_probe_;
  boost::asio::steady_timer speech_probe_timer_;
  boost::asio::thread_pool probe_pool_{1};  ///< the probe blocks for up to its deadline
  std::atomic<int> speech_server_{0};       ///< 0 not checked yet, 1 serving, 2 not serving or unreachable
};

}  // namespace mas
