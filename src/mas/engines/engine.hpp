#pragma once
#include "core/error.hpp"
#include "mas/agents/persona.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

/// Text engines behind the agents. The scripted engine is the embedded default; an OpenAI-compatible
/// engine (one model or LoRA adapter per agent) implements the same interface later.
namespace mas::engines {

enum class role { caregiver, coach, supervisor };

struct transcript_entry {
  std::string speaker;  ///< "clinician" or "caregiver"
  std::string text;
};

/// Everything an engine may use for one turn.
struct turn {
  role agent = role::caregiver;
  const agents::persona* persona = nullptr;  ///< required for the caregiver and the coach
  agents::phase phase = agents::phase::unknown;
  std::vector<transcript_entry> transcript;  ///< earlier turns, oldest first
  std::string clinician_text;                ///< this turn's input
  std::string special_handling;              ///< from the supervisor: "deflect_medical_advice", "stay_in_character"
  std::string model;                         ///< per-agent model or adapter name (ignored by the scripted engine)
  std::string knowledge;                     ///< caregiver: retrieved passages for the system prompt (may be empty)
  std::uint64_t seed = 0;                    ///< makes line choice reproducible
  /// When the reply is due; an engine that can stop early (a streaming HTTP call) gives up at this point.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct generation {
  std::string text;
  std::string engine;     ///< "scripted", or the model server's name; recorded with research data
  std::string graded_by;  ///< coach only: "rules" or "model"
  std::string model;      ///< the model or adapter that answered (empty for the scripted engine)
  std::chrono::microseconds queued{0};       ///< waiting for a connection slot to the model server
  std::chrono::microseconds first_token{0};  ///< from the request's start to the first text
  int attempts = 1;                          ///< 1 plus the retries it took
};

/// Receives text as it is produced (whole sentences or tokens), so speech can start early.
using token_sink = std::function<void(std::string_view)>;
/// Receives the outcome of generate_async exactly once.
using completion = std::function<void(core::result<generation>)>;

/// What an engine knows about its model server, for /health.
struct engine_health {
  bool ready = true;
  std::string detail;                       ///< why not ready, or "ok"
  std::vector<std::string> models;          ///< what the server lists (GET /v1/models), adapters included
  std::vector<std::string> missing_models;  ///< configured per agent but not listed
};

class llm_engine {
 public:
  virtual ~llm_engine() = default;
  virtual std::string_view name() const noexcept = 0;
  /// Produces the agent's reply; `sink`, when given, sees the text in pieces before the call returns.
  virtual core::result<generation> generate(const turn& t, const token_sink& sink = {}) = 0;
  /// Starts a generation without blocking the caller. `done` runs exactly once, on the engine's thread or (for an
  /// engine that answers at once) on the caller's; `sink` runs on the engine's thread. The default answers at once.
  // By value: an engine that answers later keeps them. NOLINTNEXTLINE(performance-unnecessary-value-param)
  virtual void generate_async(turn t, token_sink sink, completion done) { done(generate(t, sink)); }
  /// The model server's readiness; an embedded engine is always ready.
  virtual engine_health health() const { return {true, "ok", {}, {}}; }
  /// Output that is not a model's (the scripted engine) must never be graded as research data in production.
  virtual bool is_model() const noexcept { return false; }
};

}  // namespace mas::engines
