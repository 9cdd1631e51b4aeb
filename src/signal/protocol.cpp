#include "signal/protocol.hpp"

#include "core/encoding.hpp"
#include "core/json_scan.hpp"
#include "signal/limits.hpp"

namespace signaling {
namespace {

using core::errc;
using nlohmann::json;

core::result<client_message> fail(errc e, std::string* why, std::string_view reason) {
  if (why) *why = reason;
  return core::make_error_code(e);
}

// Appends "key":<raw JSON> inside an object, with a comma unless it is the first member.
void append_field(std::string& out, std::string_view key, std::string_view raw_value) {
  if (out.back() != '{') out += ',';
  core::append_json_string(out, key);
  out += ':';
  out += raw_value;
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
  return core::json_scan::parse(text, limits::max_json_depth, why);
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
  namespace js = core::json_scan;
  const auto top = js::validate(text, limits::max_json_depth, why);
  if (!top) return core::make_error_code(errc::malformed);
  if (top->type != js::kind::object) return fail(errc::wrong_type, why, "message must be a JSON object");
  const auto fields = js::members(*top);
  const auto type_v = js::find(fields, "type");
  if (!type_v || type_v->type != js::kind::string) return fail(errc::missing_field, why, "message needs a string 'type'");
  const auto type = js::unescape(type_v->raw).value_or("");

  const auto read_id = [&](const std::vector<js::member>& obj) -> core::result<std::optional<std::string>> {
    const auto v = js::find(obj, "connectionId");
    if (!v || v->type == js::kind::null) return std::optional<std::string>{};
    if (v->type != js::kind::string) return fail(errc::wrong_type, why, "connectionId must be a string").error();
    auto id = js::unescape(v->raw);
    if (!id || id->empty() || id->size() > limits::max_connection_id_bytes)
      return fail(errc::invalid_argument, why, "connectionId must be 1-256 characters").error();
    return std::optional<std::string>(std::move(*id));
  };

  if (type == "connect" || type == "disconnect") {
    auto id = read_id(fields);
    if (!id) return id.error();
    if (type == "connect") return client_message{connect_msg{std::move(*id)}};
    return client_message{disconnect_msg{std::move(*id)}};
  }
  if (type == "register") {
    const auto role = js::find(fields, "role");
    if (!role || js::unescape(role->raw) != "streamer") return fail(errc::invalid_argument, why, "register needs role \"streamer\"");
    const auto name = js::find(fields, "name");
    std::string n;
    if (name) {
      auto decoded = name->type == js::kind::string ? js::unescape(name->raw) : std::nullopt;
      if (!decoded || decoded->size() > limits::max_connection_id_bytes)
        return fail(errc::wrong_type, why, "register name must be a string of at most 256 characters");
      n = std::move(*decoded);
    }
    return client_message{register_msg{std::move(n)}};
  }
  if (type != "offer" && type != "answer" && type != "candidate") return client_message{ignored_msg{type}};

  const auto data_v = js::find(fields, "data");
  if (!data_v || data_v->type != js::kind::object) return fail(errc::missing_field, why, type + " needs a 'data' object");
  const auto data = js::members(*data_v);
  auto id = read_id(data);
  if (!id) return id.error();
  if (!*id) return fail(errc::missing_field, why, type + " needs data.connectionId");

  if (type == "candidate") {
    candidate_msg c{std::move(**id), {}, {}, {}};
    if (auto v = js::find(data, "candidate")) c.candidate = std::string(v->raw);
    if (auto v = js::find(data, "sdpMLineIndex")) c.sdp_mline_index = std::string(v->raw);
    if (auto v = js::find(data, "sdpMid")) c.sdp_mid = std::string(v->raw);
    return client_message{std::move(c)};
  }
  const auto sdp = js::find(data, "sdp");
  if (!sdp || sdp->type != js::kind::string) return fail(errc::wrong_type, why, type + " needs a string data.sdp");
  if (type == "offer") return client_message{offer_msg{std::move(**id), std::string(sdp->raw)}};
  return client_message{answer_msg{std::move(**id), std::string(sdp->raw)}};
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

std::string encode_offer(std::string_view from, std::string_view sdp_json, std::int64_t datetime, bool polite) {
  std::string out;
  out.reserve(sdp_json.size() + 128);
  start_relay(out, "offer", from);
  out += R"("sdp":)";
  out += sdp_json;
  out += R"(,"datetime":)";
  out += std::to_string(datetime);
  out += polite ? R"(,"polite":true}})" : R"(,"polite":false}})";
  return out;
}

std::string encode_answer(std::string_view from, std::string_view sdp_json, std::int64_t datetime) {
  std::string out;
  out.reserve(sdp_json.size() + 128);
  start_relay(out, "answer", from);
  out += R"("sdp":)";
  out += sdp_json;
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
  append_field(out, "datetime", std::to_string(datetime));
  out += "}}";
  return out;
}

}  // namespace signaling
