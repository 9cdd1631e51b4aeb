#include "core/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>

namespace core::log {
namespace {

std::atomic<format> g_format{format::text};
std::atomic<spdlog::level::level_enum> g_level{spdlog::level::info};
std::mutex g_mutex;

const char* pattern_for(format f) {
  return f == format::json ? R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n",%v})"
                           : "%Y-%m-%dT%H:%M:%S.%eZ %l [%n] %v";
}

}  // namespace

void init(format fmt, spdlog::level::level_enum level) {
  std::lock_guard lock(g_mutex);
  g_format = fmt;
  g_level = level;
  spdlog::drop_all();
}

std::shared_ptr<spdlog::logger> get(const std::string& component) {
  std::lock_guard lock(g_mutex);
  if (auto existing = spdlog::get(component)) return existing;
  auto logger = std::make_shared<spdlog::logger>(component, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern(pattern_for(g_format), spdlog::pattern_time_type::utc);
  logger->set_level(g_level);
  logger->flush_on(spdlog::level::info);
  spdlog::register_logger(logger);
  return logger;
}

void event(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view name,
           const nlohmann::json& fields) {
  if (!logger.should_log(level)) return;
  std::string line;
  if (g_format == format::json) {
    line = "\"event\":" + nlohmann::json(name).dump();
    if (fields.is_object()) {
      for (const auto& [k, v] : fields.items()) {
        line += ',';
        line += nlohmann::json(k).dump();
        line += ':';
        line += v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
    }
  } else {
    line = std::string(name);
    if (fields.is_object()) {
      for (const auto& [k, v] : fields.items()) {
        line += ' ';
        line += k;
        line += '=';
        line += v.is_string() ? v.get<std::string>() : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
    }
  }
  logger.log(level, "{}", line);
}

std::optional<spdlog::level::level_enum> parse_level(std::string_view text) {
  if (text == "trace") return spdlog::level::trace;
  if (text == "debug") return spdlog::level::debug;
  if (text == "info") return spdlog::level::info;
  if (text == "warn" || text == "warning") return spdlog::level::warn;
  if (text == "error") return spdlog::level::err;
  if (text == "off") return spdlog::level::off;
  return std::nullopt;
}

}  // namespace core::log
