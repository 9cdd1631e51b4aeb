#pragma once
#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include <memory>
#include <string_view>

namespace core::log {

enum class format { json, text };

/// Configures the sinks for every component logger; called once by a main.
void init(format fmt, spdlog::level::level_enum level);

/// The named logger of one component ("signal", "net", ...), created on first use.
std::shared_ptr<spdlog::logger> get(const std::string& component);

/// Logs one structured event: a short machine-readable name plus fields. Never pass transcript text or secrets.
void event(spdlog::logger& logger, spdlog::level::level_enum level, std::string_view name,
           const nlohmann::json& fields = nlohmann::json::object());

/// Parses "trace|debug|info|warn|error|off"; unknown text yields std::nullopt.
std::optional<spdlog::level::level_enum> parse_level(std::string_view text);

}  // namespace core::log
