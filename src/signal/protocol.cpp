#include "signal/protocol.hpp"

#include "core/encoding.hpp"
#include "signal/limits.hpp"

namespace signaling {
namespace {

using core::errc;
using nlohmann::json;

core::result<client_message> fail(errc e, std::string* why, std::string_view reason) {
  if (why) *why = reason;
  return core::make_error_code(e);
}

// Rejects deep nesting before the JSON library sees the text.
bool depth_ok(std::string_view text) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > limits::max_json_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

// Appends "key":value inside an object, with a comma unless it is the first member.
void append_field(std::string& out, std::string_view key, const json& value) {
  if (out.back() != '{') out += ',';
  core::append_json_string(out, key);
  out += ':';
  out += value.dump(-1, ' ', false, json::error_handler_t::replace);
}

void start_relay(std::string& out, std::string_view type, std::string_view from) {
  out += R"({"from":)";
  core::append_json_string(out, from);
  out += R"(,"to":"","type":)";
  core::append_json_string(out, type);
  out += R"(,"data":{)";
}

}  // namespace

std::optional<json> parse_bounded(std::string_view text, std::string* why) {
  if (!depth_ok(text)) {
    if (why) *why = "JSON nested too deeply";
    return std::nullopt;
  }
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    if (why) *why = "not valid JSON";
    return std::nullopt;
  }
  return j;
}

core::result<std::optional<std::string>> read_connection_id(const json& obj, std::string* why) {
  const auto it = obj.find("connectionId");
  if (it == obj.end() || it->is_null()) return std::optional<std::string>{};
  if (!it->is_string()) {
    if (why) *why = "connectionId must be a string";
    return core::make_error_code(errc::wrong_type);
  }
  const auto& s = it->get_ref<const std::string&>();
  if (s.empty() || s.size() > limits::max_connection_id_bytes) {
    if (why) *why = "connectionId must be 1-256 characters";
    return core::make_error_code(errc::invalid_argument);
  }
  return std::optional<std::string>(s);
}

core::result<client_message> decode_client(std::string_view text, std::string* why) {
  auto parsed = parse_bounded(text, why);
  if (!parsed) return core::make_error_code(errc::malformed);
  const json& j = *parsed;
  if (!j.is_object()) return fail(errc::wrong_type, why, "message must be a JSON object");
  const auto type_it = j.find("type");
  if (type_it == j.end() || !type_it->is_string()) return fail(errc::missing_field, why, "message needs a string 'type'");
  const auto& type = type_it->get_ref<const std::string&>();

  if (type == "connect" || type == "disconnect") {
    auto id = read_connection_id(j, why);
    if (!id) return id.error();
    if (type == "connect") return client_message{connect_msg{std::move(*id)}};
    return client_message{disconnect_msg{std::move(*id)}};
  }
  if (type == "register") {
    const auto role = j.find("role");
    if (role == j.end() || *role != "streamer") return fail(errc::invalid_argument, why, "register needs role \"streamer\"");
    const auto name = j.find("name");
    if (name != j.end() && (!name->is_string() || name->get_ref<const std::string&>().size() > limits::max_connection_id_bytes))
      return fail(errc::wrong_type, why, "register name must be a string of at most 256 characters");
    return client_message{register_msg{name == j.end() ? std::string() : name->get<std::string>()}};
  }
  if (type != "offer" && type != "answer" && type != "candidate") return client_message{ignored_msg{type}};

  const auto data_it = j.find("data");
  if (data_it == j.end() || !data_it->is_object()) return fail(errc::missing_field, why, type + " needs a 'data' object");
  const json& data = *data_it;
  auto id = read_connection_id(data, why);
  if (!id) return id.error();
  if (!*id) return fail(errc::missing_field, why, type + " needs data.connectionId");

  if (type == "candidate") {
    candidate_msg c{std::move(**id), {}, {}, {}};
    if (auto it = data.find("candidate"); it != data.end()) c.candidate = *it;
    if (auto it = data.find("sdpMLineIndex"); it != data.end()) c.sdp_mline_index = *it;
    if (auto it = data.find("sdpMid"); it != data.end()) c.sdp_mid = *it;
    return client_message{std::move(c)};
  }
  const auto sdp_it = data.find("sdp");
  if (sdp_it == data.end() || !sdp_it->is_string()) return fail(errc::wrong_type, why, type + " needs a string data.sdp");
  if (type == "offer") return client_message{offer_msg{std::move(**id), sdp_it->get<std::string>()}};
  return client_message{answer_msg{std::move(**id), sdp_it->get<std::string>()}};
}

std::string encode_connect_ack(const std::optional<std::string>& id, bool polite) {
  std::string out = R"({"type":"connect")";
  if (id) {
    out += R"(,"connectionId":)";
    core::append_json_string(out, *id);
  }
  out += polite ? R"(,"polite":true})" : R"(,"polite":false})";
  return out;
}

std::string encode_disconnect(const std::optional<std::string>& id) {
  std::string out = R"({"type":"disconnect")";
  if (id) {
    out += R"(,"connectionId":)";
    core::append_json_string(out, *id);
  }
  out += '}';
  return out;
}

std::string encode_error(std::string_view message) {
  std::string out = R"({"type":"error","message":)";
  core::append_json_string(out, message);
  out += '}';
  return out;
}

std::string encode_error(std::string_view message, std::string_view code) {
  std::string out = R"({"type":"error","message":)";
  core::append_json_string(out, message);
  out += R"(,"code":)";
  core::append_json_string(out, code);
  out += '}';
  return out;
}

std::string encode_registered(std::string_view name) {
  std::string out = R"({"type":"registered","role":"streamer","name":)";
  core::append_json_string(out, name);
  out += '}';
  return out;
}

std::string encode_offer(std::string_view from, std::string_view sdp, std::int64_t datetime, bool polite) {
  std::string out;
  out.reserve(sdp.size() + 128);
  start_relay(out, "offer", from);
  out += R"("sdp":)";
  core::append_json_string(out, sdp);
  out += R"(,"datetime":)";
  out += std::to_string(datetime);
  out += polite ? R"(,"polite":true}})" : R"(,"polite":false}})";
  return out;
}

std::string encode_answer(std::string_view from, std::string_view sdp, std::int64_t datetime) {
  std::string out;
  out.reserve(sdp.size() + 128);
  start_relay(out, "answer", from);
  out += R"("sdp":)";
  core::append_json_string(out, sdp);
  out += R"(,"datetime":)";
  out += std::to_string(datetime);
  out += "}}";
  return out;
}

std::string encode_candidate(std::string_view from, const candidate_msg& c, std::int64_t datetime) {
  std::string out;
  out.reserve(256);
  start_relay(out, "candidate", from);
  // Absent fields stay absent, as the reference's JSON.stringify drops undefined values.
  if (c.candidate) append_field(out, "candidate", *c.candidate);
  if (c.sdp_mline_index) append_field(out, "sdpMLineIndex", *c.sdp_mline_index);
  if (c.sdp_mid) append_field(out, "sdpMid", *c.sdp_mid);
  append_field(out, "datetime", datetime);
  out += "}}";
  return out;
}

}  // namespace signaling
