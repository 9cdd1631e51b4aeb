#include "mas/config.hpp"

#include "core/paths.hpp"

#include "mas/store/audit.hpp"

#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>

#ifndef SPARC_DATA_DIR
#define SPARC_DATA_DIR "data"
#endif

namespace mas {

bool is_loopback(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address == "::1" || address == "localhost";
}

namespace {

std::vector<config::api_key> read_keys(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read API keys file " + path);
  std::vector<config::api_key> keys;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    if (line.size() < 16) throw std::runtime_error("API keys in " + path + " must be at least 16 characters");
    // The owner id stored with sessions: enough of the key's hash to tell keys apart, useless for guessing it.
    keys.push_back({line, "key-" + store::sha256_hex(line).substr(0, 12)});
  }
  if (keys.empty()) throw std::runtime_error("API keys file " + path + " holds no key");
  return keys;
}

}  // namespace

cli_result parse_command_line(int argc, const char* const* argv) {
  config c;
  c.data_dir = core::shipped_dir(SPARC_DATA_DIR, "data");
  CLI::App app{
      "sparc-mas: the SPARC-P multi-agent backend (supervisor, caregiver, coach) behind the Unity client's\n"
      "HTTP contract, with a durable SQLite store and a hash-chained audit log.",
      "sparc-mas"};
  app.get_formatter()->column_width(32);
  app.option_defaults()->always_capture_default();
  const auto env = [](CLI::Option* o, const char* name) { return o->envname(name); };
  env(app.add_option("--bind", c.bind, "Listen address"), "SPARC_MAS_BIND");
  env(app.add_option("-p,--port", c.port, "Listen port (0 picks a free one; see --ready-file)"), "SPARC_MAS_PORT");
  env(app.add_option("--db", c.db, "SQLite database file (created and migrated on start)"), "SPARC_MAS_DB");
  env(app.add_option("--kb", c.kb, "Knowledge base index file (written by `sparc-mas kb import DIR`)"),
      "SPARC_MAS_KB");
  env(app.add_option("--data-dir", c.data_dir, "Directory with personas/*.toml"), "SPARC_MAS_DATA_DIR");
  env(app.add_option("--api-keys-file", c.api_keys_file,
                     "File with one API key per line (X-API-Key); without it auth is off, allowed only on loopback"),
      "SPARC_MAS_API_KEYS_FILE");
  env(app.add_option("--cors-origin", c.cors_origins, "Origin allowed to call the API from a browser (repeatable)"),
      "SPARC_MAS_CORS_ORIGIN");
  env(app.add_option("--ready-file", c.ready_file, "Write {\"port\",\"pid\"} here once listening"),
      "SPARC_MAS_READY_FILE");
  env(app.add_option("--log-level", c.log_level, "trace, debug, info, warn or error"), "SPARC_MAS_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  env(app.add_option("--log-format", c.log_format, "json or text"), "SPARC_MAS_LOG_FORMAT")
      ->check(CLI::IsMember({"json", "text"}));
  env(app.add_option("--max-sessions", c.max_sessions, "Live sessions held in memory"), "SPARC_MAS_MAX_SESSIONS")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
  env(app.add_option("--profile", c.profile,
                     "development, or production (requires API keys; refuses to grade with the scripted engine)"),
      "SPARC_MAS_PROFILE")
      ->check(CLI::IsMember({"development", "production"}));
  env(app.add_option("--rate-per-key", c.rate_per_key, "Requests per second per API key, burst twice that (0: off)"),
      "SPARC_MAS_RATE_PER_KEY")
      ->check(CLI::Range(0.0, 1e6));
  env(app.add_option("--rate-per-session", c.rate_per_session,
                     "Chat turns per second per session, burst twice that (0: off)"),
      "SPARC_MAS_RATE_PER_SESSION")
      ->check(CLI::Range(0.0, 1e6));
  env(app.add_option("--max-inflight", c.max_inflight, "Turns generated or committed at once"),
      "SPARC_MAS_MAX_INFLIGHT")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000}));
  env(app.add_option("--max-queue", c.max_queue, "Turns waiting for a slot before 503"), "SPARC_MAS_MAX_QUEUE")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1000000}));
  env(app.add_option("--engine-timeout-ms", c.engine_timeout_ms, "One generation; slower counts as an engine failure"),
      "SPARC_MAS_ENGINE_TIMEOUT_MS")
      ->check(CLI::Range(1, 600000));
  env(app.add_option("--chat-audio", c.chat_audio,
                     "none (clients call /v1/tts) or url (chat replies carry audio_url and, when asked, base64 audio)"),
      "SPARC_MAS_CHAT_AUDIO")
      ->check(CLI::IsMember({"none", "url"}));
  env(app.add_option("--audio-ttl-s", c.audio_ttl_s, "How long /v1/audio/{id} keeps a clip"), "SPARC_MAS_AUDIO_TTL_S")
      ->check(CLI::Range(1, 86400));
  env(app.add_option("--audio-cache-mb", c.audio_cache_mb, "Memory for cached clips"), "SPARC_MAS_AUDIO_CACHE_MB")
      ->check(CLI::Range(std::size_t{1}, std::size_t{4096}));
  env(app.add_option("--retention-days", c.retention_days,
                     "Days an ended session (or one untouched that long) and its transcript are kept"),
      "SPARC_MAS_RETENTION_DAYS")
      ->check(CLI::Range(1, 36500));
  env(app.add_option("--purge-interval-s", c.purge_interval_s, "How often the retention purge runs"),
      "SPARC_MAS_PURGE_INTERVAL_S")
      ->check(CLI::Range(1, 604800));
  env(app.add_option("--session-idle-s", c.session_idle_s,
                     "Live sessions idle this long leave memory (they stay in the store and come back on use)"),
      "SPARC_MAS_SESSION_IDLE_S")
      ->check(CLI::Range(1, 604800));
  env(app.add_option("--engine", c.engine,
                     "Text engine: scripted (embedded, deterministic) or openai (an OpenAI-compatible model server)"),
      "SPARC_MAS_ENGINE")
      ->check(CLI::IsMember({"scripted", "openai"}));
  env(app.add_option("--llm-url", c.llm_url, "Model server base URL, http://host:port[/v1] (with --engine openai)"),
      "SPARC_MAS_LLM_URL");
  env(app.add_option("--llm-api-key-file", c.llm_api_key_file, "File holding the model server's bearer token"),
      "SPARC_MAS_LLM_API_KEY_FILE");
  env(app.add_option("--llm-model", c.llm_model, "Model name every agent uses unless --llm-adapter names one"),
      "SPARC_MAS_LLM_MODEL");
  env(app.add_option("--llm-adapter", c.llm_adapters,
                     "AGENT=NAME: the LoRA adapter (a model name on vLLM) for caregiver, coach or supervisor "
                     "(repeatable)"),
      "SPARC_MAS_LLM_ADAPTER");
  env(app.add_option("--llm-stream", c.llm_stream, "Stream completions (server-sent events)"), "SPARC_MAS_LLM_STREAM");
  env(app.add_option("--llm-coach-format", c.llm_coach_format,
                     "How the coach asks for JSON: json_schema (the C-LEAR schema), json_object or none"),
      "SPARC_MAS_LLM_COACH_FORMAT")
      ->check(CLI::IsMember({"json_schema", "json_object", "none"}));
  env(app.add_option("--llm-context-tokens", c.llm_context_tokens,
                     "The model's context; the oldest turns are left out to fit"),
      "SPARC_MAS_LLM_CONTEXT_TOKENS")
      ->check(CLI::Range(std::size_t{256}, std::size_t{1048576}));
  env(app.add_option("--llm-max-tokens", c.llm_max_tokens, "Longest caregiver reply; the coach gets three times it"),
      "SPARC_MAS_LLM_MAX_TOKENS")
      ->check(CLI::Range(std::size_t{8}, std::size_t{8192}));
  env(app.add_option("--llm-temperature", c.llm_temperature, "The caregiver's sampling temperature"),
      "SPARC_MAS_LLM_TEMPERATURE")
      ->check(CLI::Range(0.0, 2.0));
  env(app.add_option("--llm-connect-timeout-ms", c.llm_connect_timeout_ms, "Connecting to the model server"),
      "SPARC_MAS_LLM_CONNECT_TIMEOUT_MS")
      ->check(CLI::Range(1, 600000));
  env(app.add_option("--llm-first-token-timeout-ms", c.llm_first_token_timeout_ms,
                     "From the request to the first generated text"),
      "SPARC_MAS_LLM_FIRST_TOKEN_TIMEOUT_MS")
      ->check(CLI::Range(1, 600000));
  env(app.add_option("--llm-stall-timeout-ms", c.llm_stall_timeout_ms, "Longest pause inside a streamed reply"),
      "SPARC_MAS_LLM_STALL_TIMEOUT_MS")
      ->check(CLI::Range(1, 600000));
  env(app.add_option("--llm-max-concurrency", c.llm_max_concurrency,
                     "Requests open to the model server at once; the rest wait in a FIFO queue"),
      "SPARC_MAS_LLM_MAX_CONCURRENCY")
      ->check(CLI::Range(std::size_t{1}, std::size_t{4096}));
  env(app.add_option("--llm-max-queue", c.llm_max_queue, "Requests waiting for the model server before a turn fails"),
      "SPARC_MAS_LLM_MAX_QUEUE")
      ->check(CLI::Range(std::size_t{0}, std::size_t{1000000}));
  env(app.add_option("--llm-retries", c.llm_retries, "Retries of refused connections, 429 and 503 (with backoff)"),
      "SPARC_MAS_LLM_RETRIES")
      ->check(CLI::Range(0, 10));
  env(app.add_option("--tts", c.tts, "Speech synthesis: espeak (embedded espeak-ng) or riva (NVIDIA Riva over gRPC)"),
      "SPARC_MAS_TTS")
      ->check(CLI::IsMember({"espeak", "riva"}));
  env(app.add_option("--asr", c.asr,
                     "Speech recognition for WS /ws/audio: none, pocketsphinx (embedded, offline, ~95 MB per "
                     "recognizer) or riva"),
      "SPARC_MAS_ASR")
      ->check(CLI::IsMember({"none", "pocketsphinx", "riva"}));
  env(app.add_option("--riva-url", c.riva_url, "Riva gRPC server, host:port"), "SPARC_MAS_RIVA_URL");
  env(app.add_option("--riva-tls", c.riva_tls, "Speak TLS to Riva"), "SPARC_MAS_RIVA_TLS");
  env(app.add_option("--riva-ca-file", c.riva_ca_file, "PEM roots to verify Riva's certificate (with --riva-tls)"),
      "SPARC_MAS_RIVA_CA_FILE");
  env(app.add_option("--riva-voice", c.riva_voices,
                     "PERSONA=VOICE: the Riva voice of a persona, over its file's riva_voice (repeatable)"),
      "SPARC_MAS_RIVA_VOICE");
  env(app.add_option("--riva-sample-rate", c.riva_sample_rate, "Sample rate asked of Riva's synthesis"),
      "SPARC_MAS_RIVA_SAMPLE_RATE")
      ->check(CLI::Range(8000, 48000));
  env(app.add_option("--riva-deadline-ms", c.riva_deadline_ms, "Deadline of one Riva synthesis call"),
      "SPARC_MAS_RIVA_DEADLINE_MS")
      ->check(CLI::Range(1, 600000));
  env(app.add_option("--supervisor-model", c.supervisor_model,
                     "After the rules allow an input, ask the model too (--engine openai): off, flag (mark the session "
                     "for review) or block (count it as the violation the model names)"),
      "SPARC_MAS_SUPERVISOR_MODEL")
      ->check(CLI::IsMember({"off", "flag", "block"}));
  auto* audit = app.add_subcommand("audit", "Audit log tools");
  auto* verify = audit->add_subcommand("verify", "Walk the hash chain of --db and name the first bad record");
  audit->require_subcommand(1);
  audit->fallthrough();
  verify->fallthrough();  // --db may follow the subcommand
  std::string kb_dir;
  auto* kb_cmd = app.add_subcommand("kb", "Knowledge base tools");
  auto* kb_import =
      kb_cmd->add_subcommand("import", "Index the fact sheets DIR/*.md into --kb, replacing its contents");
  kb_import->add_option("DIR", kb_dir, "Directory of fact sheets (data/kb in the source tree)")->required();
  kb_cmd->require_subcommand(1);
  kb_cmd->fallthrough();
  kb_import->fallthrough();  // --kb may follow the subcommand
  app.set_version_flag("--version", "sparc-mas 0.1.0");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return {std::nullopt, false, code == 0 ? 0 : 2, std::nullopt};
  }
  // An import reads sheets and writes one file: none of the service's settings below concern it.
  if (kb_import->parsed()) return {std::move(c), false, 0, std::move(kb_dir)};
  try {
    if (!c.api_keys_file.empty()) c.api_keys = read_keys(c.api_keys_file);
    if (c.api_keys.empty() && !is_loopback(c.bind) && !verify->parsed())
      throw std::runtime_error("refusing to listen on " + c.bind +
                               " without --api-keys-file (auth may be off only on loopback)");
    if (c.supervisor_model != "off" && c.engine != "openai")
      throw std::runtime_error("--supervisor-model " + c.supervisor_model + " needs --engine openai");
    if (c.engine == "openai" && !verify->parsed()) {
      if (c.llm_url.empty()) throw std::runtime_error("--engine openai needs --llm-url");
      if (!c.llm_url.starts_with("http://"))
        throw std::runtime_error("--llm-url must be http://host:port[/v1] (put a TLS proxy in front for https)");
      for (const auto& a : c.llm_adapters) {
        const auto eq = a.find('=');
        const auto agent = a.substr(0, eq);
        if (eq == std::string::npos || eq + 1 == a.size() ||
            (agent != "caregiver" && agent != "coach" && agent != "supervisor"))
          throw std::runtime_error("--llm-adapter wants caregiver=NAME, coach=NAME or supervisor=NAME, not '" + a + "'");
      }
      if (c.llm_model.empty() && c.llm_adapters.empty())
        throw std::runtime_error("--engine openai needs --llm-model or --llm-adapter");
      if (!c.llm_api_key_file.empty()) {
        std::ifstream in(c.llm_api_key_file);
        if (!in || !std::getline(in, c.llm_api_key) || c.llm_api_key.empty())
          throw std::runtime_error("cannot read a token from --llm-api-key-file " + c.llm_api_key_file);
        while (!c.llm_api_key.empty() && (c.llm_api_key.back() == '\r' || c.llm_api_key.back() == ' '))
          c.llm_api_key.pop_back();
      }
    }
    if (c.riva_url.empty() || c.riva_url.find(':') == std::string::npos || c.riva_url.find("://") != std::string::npos)
      throw std::runtime_error("--riva-url must be host:port, not '" + c.riva_url + "'");
    for (const auto& v : c.riva_voices)
      if (v.find('=') == std::string::npos || v.front() == '=' || v.back() == '=')
        throw std::runtime_error("--riva-voice wants PERSONA=VOICE, not '" + v + "'");
    if (c.profile == "production" && !verify->parsed()) {
      if (c.api_keys.empty()) throw std::runtime_error("the production profile requires --api-keys-file");
      // The scripted coach grades by rules, which research data must never mistake for model grading.
      if (c.engine == "scripted")
        throw std::runtime_error(
            "the production profile refuses to start the coach on the scripted engine (graded_by: rules); "
            "use --engine openai");
    }
    for (const auto& o : c.cors_origins)
      if (o == "*") throw std::runtime_error("--cors-origin '*' is not allowed; list the origins");
  } catch (const std::exception& e) {
    std::cerr << "sparc-mas: " << e.what() << "\n";
    return {std::nullopt, false, 2, std::nullopt};
  }
  return {std::move(c), verify->parsed(), 0, std::nullopt};
}

}  // namespace mas
