#pragma once
#include "core/error.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace mas::agents {

/// One C-LEAR grade, exactly as the coach contract defines it.
struct coach_grade {
  double score = 0;  ///< 1, 0.5 or 0; nothing else
  std::string summary;
  std::vector<std::string> evidence;
  std::vector<std::string> keep_doing;
  std::vector<std::string> try_next_time;
  std::string notes;
};

/// Parses an engine's coach output strictly: one JSON object with every contract key, score exactly 1, 0.5
/// or 0, string lists. No repair, no bucketing and no defaults: a grade is never invented. On failure `why`
/// names the first problem (the caller reports "grading failed" and keeps the raw output for audit).
core::result<coach_grade> parse_coach_contract(std::string_view text, std::string* why = nullptr);

nlohmann::ordered_json to_json(const coach_grade& g);

}  // namespace mas::agents
