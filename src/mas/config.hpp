#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mas {

/// Settings of sparc-mas; every one has a flag and a SPARC_MAS_* variable (see --help).
struct config {
  std::string bind = "127.0.0.1";
  std::uint16_t port = 8000;
  std::string db = "sparc-mas.db";
  std::string kb = "sparc-kb.db";  ///< the caregiver's knowledge base index, written by `sparc-mas kb import`
  std::string data_dir;       ///< personas live in <data_dir>/personas
  std::string api_keys_file;  ///< one key per line; empty: no auth (allowed only on loopback)
  std::vector<std::string> cors_origins;
  std::string ready_file;
  std::string log_level = "info";
  std::string log_format = "json";
  std::size_t max_sessions = 10000;
  std::string profile = "development";  ///< "production" refuses engines whose output is not a model's
  // Admission and fairness (0 disables a rate limit).
  double rate_per_key = 50;                 ///< requests per second per API key (burst: twice that)
  double rate_per_session = 5;              ///< chat turns per second per session (burst: twice that)
  std::size_t max_inflight = 64;            ///< turns being generated or committed at once
  std::size_t max_queue = 256;              ///< turns waiting for a slot; beyond this 503
  std::uint32_t engine_timeout_ms = 30000;  ///< one generation; slower counts as an engine failure
  // The text engine: the embedded scripted one, or an OpenAI-compatible model server (vLLM, llama.cpp, TGI).
  std::string engine = "scripted";  ///< "scripted" or "openai"
  std::string llm_url;              ///< http://host:port[/v1]
  std::string llm_api_key_file;     ///< a bearer token for the model server, if it wants one
  std::string llm_api_key;          ///< loaded from llm_api_key_file
  std::string llm_model;            ///< the model every agent uses unless an adapter is named for it
  std::vector<std::string> llm_adapters;  ///< "agent=name" (caregiver, coach, supervisor): vLLM LoRA adapters
  bool llm_stream = true;
  std::string llm_coach_format = "json_schema";  ///< json_schema, json_object or none
  std::size_t llm_context_tokens = 4096;
  std::size_t llm_max_tokens = 160;  ///< the caregiver's reply; the coach gets 3 times that for its JSON
  double llm_temperature = 0.7;      ///< the caregiver's; the coach and supervisor grade at 0.2 and 0
  std::uint32_t llm_connect_timeout_ms = 2000;
  std::uint32_t llm_first_token_timeout_ms = 15000;
  std::uint32_t llm_stall_timeout_ms = 10000;
  std::size_t llm_max_concurrency = 8;  ///< requests open to the model server at once; the rest queue, FIFO
  std::size_t llm_max_queue = 512;
  int llm_retries = 2;  ///< refused connections, 429 and 503 only
  /// The model as the supervisor's second opinion after the rules allowed an input: "off", "flag" (mark the
  /// session for review) or "block" (count it as the violation the model names). Never the only gate.
  std::string supervisor_model = "off";
  // Speech engines: synthesis (espeak-ng embedded, or Riva) and recognition for WS /ws/audio.
  std::string tts = "espeak";  ///< "espeak" or "riva"
  std::string asr = "none";    ///< "none", "pocketsphinx" (embedded, offline) or "riva"
  std::string riva_url = "127.0.0.1:50051";  ///< host:port of the Riva gRPC server
  bool riva_tls = false;
  std::string riva_ca_file;                   ///< PEM roots for riva_tls; empty: the system's
  std::vector<std::string> riva_voices;       ///< "persona=voice" overrides of the persona files' riva_voice
  int riva_sample_rate = 22050;
  std::uint32_t riva_deadline_ms = 10000;
  // Speech in chat replies and the clip cache behind /v1/audio/{id}.
  std::string chat_audio = "none";  ///< "none" (the client calls /v1/tts) or "url" (audio_url, legacy base64)
  std::uint32_t audio_ttl_s = 300;
  std::size_t audio_cache_mb = 64;
  // Retention of ended sessions.
  std::uint32_t retention_days = 30;
  std::uint32_t purge_interval_s = 3600;
  std::uint32_t session_idle_s = 3600;  ///< live sessions idle this long leave memory (they stay in the store)

  /// An API key and the id recorded as a session's owner (a hash prefix, never the key).
  struct api_key {
    std::string key;
    std::string id;
  };
  std::vector<api_key> api_keys;  ///< loaded from api_keys_file
};

/// What the command line asks for: run the service, verify the audit chain, import the knowledge base, or exit with
/// a code.
struct cli_result {
  std::optional<config> cfg;
  bool audit_verify = false;
  int exit_code = 0;
  std::optional<std::string> kb_import;  ///< `kb import DIR`: index DIR's fact sheets into cfg->kb
};

cli_result parse_command_line(int argc, const char* const* argv);

/// True for addresses only this machine can reach (127.0.0.0/8, ::1).
bool is_loopback(const std::string& address);

}  // namespace mas
