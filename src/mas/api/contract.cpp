#include "mas/api/contract.hpp"

#include "core/encoding.hpp"
#include "core/json_scan.hpp"

namespace mas::api {

using json = nlohmann::json;

std::string_view to_string(agent a) noexcept {
  switch (a) {
    case agent::caregiver: return "caregiver";
    case agent::coach: return "coach";
    case agent::supervisor: return "supervisor";
  }
  return "caregiver";
}

agent route(std::string_view value) noexcept {
  const std::string lower = core::ascii_lower(value);
  if (lower.find("coach") != std::string::npos) return agent::coach;
  if (lower.find("supervisor") != std::string::npos) return agent::supervisor;
  return agent::caregiver;
}

bool valid_session_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > limits::session_id) return false;
  for (const char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

namespace {

class reader {
 public:
  reader(const json& obj, std::vector<field_error>& errors) : obj_(obj), errors_(errors) {}

  /// An optional string field bounded to `max` characters (code points); null or absent gives "".
  std::string text(const char* name, std::size_t max) {
    const auto it = obj_.find(name);
    if (it == obj_.end() || it->is_null()) return {};
    if (!it->is_string()) {
      errors_.push_back({name, "must be a string"});
      return {};
    }
    const auto& s = it->get_ref<const std::string&>();
    if (code_points(s) > max) {
      errors_.push_back({name, "must be at most " + std::to_string(max) + " characters"});
      return {};
    }
    return s;
  }

  /// A boolean field; like the original's lax parsing it also takes 0/1 and "true"/"false".
  bool flag(const char* name, bool fallback) {
    const auto it = obj_.find(name);
    if (it == obj_.end() || it->is_null()) return fallback;
    if (it->is_boolean()) return it->get<bool>();
    if (it->is_number_integer() && (it->get<long long>() == 0 || it->get<long long>() == 1)) return it->get<long long>() == 1;
    if (it->is_string()) {
      const auto& s = it->get_ref<const std::string&>();
      if (s == "true" || s == "1") return true;
      if (s == "false" || s == "0") return false;
    }
    errors_.push_back({name, "must be a boolean"});
    return fallback;
  }

  bool has(const char* name) const {
    const auto it = obj_.find(name);
    return it != obj_.end() && !it->is_null();
  }

 private:
  static std::size_t code_points(const std::string& s) {
    std::size_t n = 0;
    for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
  }

  const json& obj_;
  std::vector<field_error>& errors_;
};

}  // namespace

core::result<chat_request> decode_chat_request(std::string_view body, std::vector<field_error>* errors_out) {
  std::vector<field_error> errors;
  const auto fail = [&](core::errc e) {
    if (errors_out) *errors_out = std::move(errors);
    return core::make_error_code(e);
  };
  std::string why;
  if (body.size() > limits::chat_body_bytes) {
    errors.push_back({"body", "request body too large"});
    return fail(core::errc::too_large);
  }
  const auto parsed = core::json_scan::parse(body, limits::json_depth, &why);
  if (!parsed) {
    errors.push_back({"body", why});
    return fail(core::errc::malformed);
  }
  const json& j = *parsed;
  if (!j.is_object()) {
    errors.push_back({"body", "must be a JSON object"});
    return fail(core::errc::malformed);
  }

  reader r(j, errors);
  chat_request req;
  if (!r.has("session_id")) {
    errors.push_back({"session_id", "is required"});
  } else {
    req.session_id = r.text("session_id", limits::session_id);
    if (errors.empty() && !valid_session_id(req.session_id))
      errors.push_back({"session_id", "must be 1-128 characters of letters, digits, '_' or '-'"});
  }
  req.user_message = r.text("user_message", limits::user_message);
  const auto transcript = r.text("user_transcript", limits::user_message);
  if (req.user_message.empty()) req.user_message = transcript;
  for (const char* name : {"target_agent", "agent_mode", "mode"}) {
    const auto value = r.text(name, limits::routing);
    if (!value.empty() && !req.routing_given) {
      req.routing_given = true;
      req.target = route(value);
    }
  }
  req.system_prompt = r.text("system_prompt", limits::system_prompt);
  req.phase_context = r.text("phase_context", limits::phase_context);
  req.message_history_json = r.text("message_history_json", limits::message_history_json);
  req.context_refresh_reason = r.text("context_refresh_reason", limits::context_refresh_reason);
  req.rag_prefetch_only = r.flag("rag_prefetch_only", false);
  req.rag_prefetch_query = r.text("rag_prefetch_query", limits::rag_prefetch_query);
  req.include_legacy_audio_b64 = r.flag("include_legacy_audio_b64", true);
  req.has_audio_data = !r.text("audio_data", limits::audio_data).empty();
  if (!errors.empty()) return fail(core::errc::invalid_argument);
  return req;
}

core::result<session_create_request> decode_session_create(std::string_view body, std::vector<field_error>* errors_out) {
  std::vector<field_error> errors;
  const auto fail = [&](core::errc e) {
    if (errors_out) *errors_out = std::move(errors);
    return core::make_error_code(e);
  };
  session_create_request req;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return req;
  if (body.size() > limits::session_body_bytes) {
    errors.push_back({"body", "request body too large"});
    return fail(core::errc::too_large);
  }
  std::string why;
  const auto parsed = core::json_scan::parse(body, limits::json_depth, &why);
  if (!parsed || !parsed->is_object()) {
    errors.push_back({"body", parsed ? "must be a JSON object" : why});
    return fail(core::errc::malformed);
  }
  reader r(*parsed, errors);
  req.session_id = r.text("session_id", limits::session_id);
  if (errors.empty() && !req.session_id.empty() && !valid_session_id(req.session_id))
    errors.push_back({"session_id", "must be 1-128 characters of letters, digits, '_' or '-'"});
  req.persona = r.text("persona", limits::session_label);
  req.scenario = r.text("scenario", limits::session_label);
  req.training_type = r.text("training_type", limits::session_label);
  if (!errors.empty()) return fail(core::errc::invalid_argument);
  return req;
}

std::string encode_session(const session_view& v) {
  nlohmann::ordered_json j;
  j["session_id"] = v.session_id;
  j["persona"] = v.persona;
  j["persona_name"] = v.persona_name;
  j["scenario"] = v.scenario;
  j["training_type"] = v.training_type;
  j["phase"] = v.phase;
  j["warning_count"] = v.warning_count;
  j["session_terminated"] = v.session_terminated;
  j["flagged_for_review"] = v.flagged_for_review;
  j["ended"] = v.ended_at_ms.has_value();
  j["created_at_ms"] = v.created_at_ms;
  j["updated_at_ms"] = v.updated_at_ms;
  j["ended_at_ms"] = v.ended_at_ms ? json(*v.ended_at_ms) : json(nullptr);
  if (v.turns) {
    auto& turns = j["turns"] = nlohmann::ordered_json::array();
    for (const auto& t : *v.turns)
      turns.push_back({{"seq", t.seq}, {"agent", t.agent}, {"text", t.text}, {"created_at_ms", t.created_at_ms}});
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string encode_chat_response(const chat_response& r) {
  nlohmann::ordered_json j;
  j["response_text"] = r.response_text;
  j["caregiver_text"] = r.response_text;
  j["audio_url"] = r.audio_url ? json(*r.audio_url) : json(nullptr);
  j["caregiver_audio_b64"] = r.caregiver_audio_b64 ? json(*r.caregiver_audio_b64) : json(nullptr);
  j["caregiver_animation_cues"] = {{"emotion", r.cues.emotion}, {"gesture", r.cues.gesture}};
  j["coach_feedback"] = r.coach_feedback ? json(*r.coach_feedback) : json(nullptr);
  j["coach_feedback_meta"] = r.coach_feedback_meta;
  j["active_agent"] = to_string(r.active_agent);
  j["api_contract_version"] = contract_version;
  j["ui_message"] = r.ui_message;
  j["warning_count"] = r.warning_count;
  j["session_terminated"] = r.session_terminated;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string encode_error(std::string_view code, std::string_view message, const std::vector<field_error>& fields) {
  std::string out = R"({"error":{"code":)";
  core::append_json_string(out, code);
  out += R"(,"message":)";
  core::append_json_string(out, message);
  if (!fields.empty()) {
    out += R"(,"fields":[)";
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (i) out += ',';
      out += R"({"field":)";
      core::append_json_string(out, fields[i].field);
      out += R"(,"message":)";
      core::append_json_string(out, fields[i].message);
      out += '}';
    }
    out += ']';
  }
  out += "}}";
  return out;
}

}  // namespace mas::api
