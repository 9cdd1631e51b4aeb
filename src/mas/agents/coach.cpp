#include "mas/agents/coach.hpp"

#include "core/json_scan.hpp"

namespace mas::agents {

using json = nlohmann::json;

core::result<coach_grade> parse_coach_contract(std::string_view text, std::string* why) {
  const auto fail = [&](std::string reason) -> core::result<coach_grade> {
    if (why) *why = std::move(reason);
    return core::make_error_code(core::errc::invalid_argument);
  };
  std::string scan_why;
  const auto parsed = core::json_scan::parse(text, 8, &scan_why);
  if (!parsed) return fail("coach output is not JSON: " + scan_why);
  const json& j = *parsed;
  if (!j.is_object()) return fail("coach output must be one JSON object");
  for (const char* key : {"score", "summary", "evidence", "keepDoing", "tryNextTime", "notes"})
    if (!j.contains(key)) return fail(std::string("coach output lacks '") + key + "'");
  coach_grade g;
  const auto& score = j["score"];
  if (!score.is_number()) return fail("score must be a number");
  g.score = score.get<double>();
  if (g.score != 1.0 && g.score != 0.5 && g.score != 0.0) return fail("score must be exactly 1, 0.5 or 0");
  if (!j["summary"].is_string() || j["summary"].get_ref<const std::string&>().empty())
    return fail("summary must be a non-empty string");
  g.summary = j["summary"].get<std::string>();
  if (!j["notes"].is_string()) return fail("notes must be a string");
  g.notes = j["notes"].get<std::string>();
  const auto list = [&](const char* key, std::vector<std::string>& out) {
    const auto& arr = j[key];
    if (!arr.is_array()) return false;
    for (const auto& item : arr) {
      if (!item.is_string()) return false;
      out.push_back(item.get<std::string>());
    }
    return true;
  };
  if (!list("evidence", g.evidence)) return fail("evidence must be a list of strings");
  if (!list("keepDoing", g.keep_doing)) return fail("keepDoing must be a list of strings");
  if (!list("tryNextTime", g.try_next_time)) return fail("tryNextTime must be a list of strings");
  return g;
}

nlohmann::ordered_json to_json(const coach_grade& g) {
  return {{"score", g.score},       {"summary", g.summary},           {"evidence", g.evidence},
          {"keepDoing", g.keep_doing}, {"tryNextTime", g.try_next_time}, {"notes", g.notes}};
}

}  // namespace mas::agents
