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
  auto* audit = app.add_subcommand("audit", "Audit log tools");
  auto* verify = audit->add_subcommand("verify", "Walk the hash chain of --db and name the first bad record");
  audit->require_subcommand(1);
  audit->fallthrough();
  verify->fallthrough();  // --db may follow the subcommand
  app.set_version_flag("--version", "sparc-mas 0.1.0");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return {std::nullopt, false, code == 0 ? 0 : 2};
  }
  try {
    if (!c.api_keys_file.empty()) c.api_keys = read_keys(c.api_keys_file);
    if (c.api_keys.empty() && !is_loopback(c.bind) && !verify->parsed())
      throw std::runtime_error("refusing to listen on " + c.bind +
                               " without --api-keys-file (auth may be off only on loopback)");
    if (c.profile == "production" && !verify->parsed()) {
      if (c.api_keys.empty()) throw std::runtime_error("the production profile requires --api-keys-file");
      // The only engine in this build is the scripted one: its coach grades by rules, which research data must
      // never mistake for model grading.
      throw std::runtime_error(
          "the production profile refuses to start the coach on the scripted engine (graded_by: rules); "
          "configure a model engine");
    }
    for (const auto& o : c.cors_origins)
      if (o == "*") throw std::runtime_error("--cors-origin '*' is not allowed; list the origins");
  } catch (const std::exception& e) {
    std::cerr << "sparc-mas: " << e.what() << "\n";
    return {std::nullopt, false, 2};
  }
  return {std::move(c), verify->parsed(), 0};
}

}  // namespace mas
