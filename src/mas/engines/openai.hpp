#pragma once
// The OpenAI-compatible engine: POST {base}/v1/chat/completions on a model server (vLLM, llama.cpp's server, TGI),
// one model or LoRA adapter name per agent, streamed (server-sent events) or not. Requests run on the engine's own
// thread, at most `max_concurrency` at a time with a FIFO queue behind them, each under deadlines for connect,
// first token, stalls and the whole turn; a missed deadline closes the connection, which makes the server abort
// the generation. Only failures that cannot have produced output (refused connections, 429, 503) are retried.
#include "mas/engines/engine.hpp"
#include "mas/engines/prompt.hpp"

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>

namespace mas::engines {

/// Sampling for one agent's requests.
struct sampling {
  double temperature = 0.7;
  double top_p = 0.95;
  std::size_t max_tokens = 200;
};

struct openai_config {
  std::string base_url;  ///< http://host:port or http://host:port/v1 (https is not spoken: a TLS proxy fronts it)
  std::string api_key;   ///< sent as "Authorization: Bearer"; read from a file by the caller
  std::map<role, std::string> models;  ///< model or LoRA adapter name per agent (vLLM serves adapters as models)
  std::map<role, sampling> sampling_by_agent;
  bool stream = true;
  /// How the coach asks for JSON: "json_schema" (the C-LEAR schema; vLLM, llama.cpp), "json_object", "none".
  std::string coach_format = "json_schema";
  std::size_t context_tokens = 4096;  ///< the model's context; history is trimmed to fit
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds first_token_timeout{15000};  ///< from sending the request to the first text
  std::chrono::milliseconds stall_timeout{10000};        ///< between two pieces of a stream
  std::size_t max_concurrency = 8;  ///< requests open to the model server at once
  std::size_t max_queue = 512;      ///< requests waiting for a slot; beyond it a turn fails at once
  int retries = 2;                  ///< for refused connections, 429 and 503 only
  std::chrono::milliseconds retry_backoff{250};  ///< doubled per retry, capped by the turn's deadline
  std::chrono::milliseconds models_poll{10000};  ///< GET /v1/models for /health; 0: never
  std::size_t max_response_bytes = std::size_t{4} << 20;
};

/// Counters for /metrics (read from any thread).
struct openai_stats {
  std::uint64_t requests = 0;
  std::uint64_t retries = 0;
  std::uint64_t failures = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t rejected_queue_full = 0;
  std::size_t active = 0;
  std::size_t queued = 0;
};

class openai_engine final : public llm_engine {
 public:
  /// Starts the engine's thread (and the /v1/models poll). Throws std::invalid_argument for a base URL it cannot
  /// use, so a misconfiguration stops the service at start-up.
  explicit openai_engine(openai_config cfg);
  ~openai_engine() override;
  openai_engine(const openai_engine&) = delete;
  openai_engine& operator=(const openai_engine&) = delete;

  std::string_view name() const noexcept override { return "openai"; }
  bool is_model() const noexcept override { return true; }
  /// Blocks the calling thread until the generation ends (tests, tools); the service uses generate_async.
  core::result<generation> generate(const turn& t, const token_sink& sink = {}) override;
  void generate_async(turn t, token_sink sink, completion done) override;
  engine_health health() const override;
  openai_stats stats() const;

  /// The request body for `t` (exposed for tests and the docs).
  std::string request_body(const turn& t) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The text of a non-streamed completion ("choices[0].message.content"), or malformed.
core::result<std::string> completion_text(std::string_view body);
/// The text piece of one streamed chunk ("choices[0].delta.content", possibly empty), or malformed; `finished`
/// is set when the chunk carries a finish_reason.
core::result<std::string> chunk_text(std::string_view data, bool* finished = nullptr);

}  // namespace mas::engines
