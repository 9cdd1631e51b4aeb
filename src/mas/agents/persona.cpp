#include "mas/agents/persona.hpp"

#include "core/encoding.hpp"

#include <toml++/toml.h>

#include <algorithm>

namespace mas::agents {

namespace {

// Situations every persona must cover, so the caregiver never runs out of words.
constexpr std::string_view required_lines[] = {"greeting", "counsel", "listen", "reveal", "vague", "accept",
                                               "decline", "thanks", "deflect_medical", "stay_in_character"};

}  // namespace

std::string_view to_string(phase p) noexcept {
  switch (p) {
    case phase::counsel: return "counsel";
    case phase::listen: return "listen";
    case phase::empathize: return "empathize";
    case phase::answer_recommend: return "answer_recommend";
    case phase::unknown: return "unknown";
  }
  return "unknown";
}

phase parse_phase(std::string_view text) noexcept {
  std::string t = core::ascii_lower(text);
  if (const auto at = t.find("phase_type="); at != std::string::npos) {
    const auto end = t.find_first_of(";\n", at);
    t = t.substr(at + 11, end == std::string::npos ? std::string::npos : end - at - 11);
  }
  if (t.find("answer") != std::string::npos || t.find("recommend") != std::string::npos) return phase::answer_recommend;
  if (t.find("empath") != std::string::npos) return phase::empathize;
  if (t.find("listen") != std::string::npos) return phase::listen;
  if (t.find("counsel") != std::string::npos) return phase::counsel;
  return phase::unknown;
}

std::string persona::line(std::string_view situation, std::uint64_t seed) const {
  const auto it = lines.find(situation);
  if (it == lines.end() || it->second.empty()) return {};
  std::string out = it->second[seed % it->second.size()];
  const auto fill = [&](std::string_view key, const std::string& value) {
    for (auto at = out.find(key); at != std::string::npos; at = out.find(key, at + value.size())) out.replace(at, key.size(), value);
  };
  fill("{child}", child_name);
  fill("{age}", std::to_string(child_age));
  return out;
}

core::result<persona> load_persona(const std::filesystem::path& file, std::string* why) {
  const auto fail = [&](const std::string& message, std::int64_t line = 0) -> core::result<persona> {
    if (why) *why = file.filename().string() + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + message;
    return core::make_error_code(core::errc::invalid_argument);
  };
  toml::table t;
  try {
    t = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return fail(std::string(e.description()), e.source().begin.line);
  }
  persona p;
  const auto text = [&](std::string_view key, std::string& out) {
    const auto node = t.at_path(key);
    if (!node.is_string()) return false;
    out = *node.value<std::string>();
    return !out.empty();
  };
  if (!text("id", p.id)) return fail("'id' must be a non-empty string");
  if (!text("name", p.name)) return fail("'name' must be a non-empty string");
  if (!text("training_type", p.training_type)) return fail("'training_type' must be a non-empty string");
  text("voice", p.voice);
  text("riva_voice", p.riva_voice);
  if (!text("child.name", p.child_name)) return fail("'child.name' must be a non-empty string");
  if (!text("child.relation", p.child_relation)) return fail("'child.relation' must be a non-empty string");
  const auto age = t.at_path("child.age").value<std::int64_t>();
  if (!age || *age < 1 || *age > 17) return fail("'child.age' must be an integer from 1 to 17");
  p.child_age = static_cast<int>(*age);
  text("style.temperament", p.temperament);
  if (!text("concern.summary", p.concern)) return fail("'concern.summary' must be a non-empty string");
  if (const auto* cues = t.at_path("concern.addressed_by").as_array()) {
    for (const auto& cue : *cues)
      if (const auto s = cue.value<std::string>()) p.concern_addressed_by.push_back(core::ascii_lower(*s));
  }
  if (p.concern_addressed_by.empty()) return fail("'concern.addressed_by' must list at least one cue");
  const auto* lines = t["lines"].as_table();
  if (!lines) return fail("missing [lines] table");
  for (const auto& [key, node] : *lines) {
    const auto* arr = node.as_array();
    if (!arr) return fail("lines." + std::string(key.str()) + " must be an array of strings", node.source().begin.line);
    auto& out = p.lines[std::string(key.str())];
    for (const auto& item : *arr) {
      const auto s = item.value<std::string>();
      if (!s || s->empty()) return fail("lines." + std::string(key.str()) + " must hold non-empty strings", item.source().begin.line);
      out.push_back(*s);
    }
  }
  for (const auto situation : required_lines)
    if (p.lines.find(situation) == p.lines.end() || p.lines.find(situation)->second.empty())
      return fail("lines." + std::string(situation) + " is missing");
  return p;
}

core::result<std::map<std::string, persona, std::less<>>> load_personas(const std::filesystem::path& dir, std::string* why) {
  std::map<std::string, persona, std::less<>> out;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.path().extension() == ".toml") files.push_back(entry.path());
  if (ec) {
    if (why) *why = dir.string() + ": " + ec.message();
    return core::make_error_code(core::errc::not_found);
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto p = load_persona(f, why);
    if (!p) return p.error();
    if (out.contains(p->id)) {
      if (why) *why = f.filename().string() + ": duplicate persona id '" + p->id + "'";
      return core::make_error_code(core::errc::conflict);
    }
    auto id = p->id;
    out.emplace(std::move(id), std::move(*p));
  }
  if (out.empty()) {
    if (why) *why = dir.string() + ": no persona files";
    return core::make_error_code(core::errc::not_found);
  }
  return out;
}

}  // namespace mas::agents
