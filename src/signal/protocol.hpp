#pragma once
#include "core/error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

/// Unity Render Streaming signaling messages as value types; JSON only at this boundary.
namespace signaling {

struct connect_msg {
  std::optional<std::string> connection_id;
};
struct disconnect_msg {
  std::optional<std::string> connection_id;
};
/// `sdp_json` is the SDP as the client wrote it: a JSON string literal, quotes included. It is relayed
/// byte for byte, never unescaped and escaped again.
struct offer_msg {
  std::string connection_id;
  std::string sdp_json;
};
struct answer_msg {
  std::string connection_id;
  std::string sdp_json;
};
/// Candidate fields are the raw JSON text of each value, relayed verbatim in value and JSON type
/// (browsers swap sdpMid/sdpMLineIndex); absent fields stay absent.
struct candidate_msg {
  std::string connection_id;
  std::optional<std::string> candidate;
  std::optional<std::string> sdp_mline_index;
  std::optional<std::string> sdp_mid;
};
/// Extension: a render instance announces itself as a streamer ({"type":"register","role":"streamer"}).
struct register_msg {
  std::string name;
};
/// A well-formed message whose type we do not handle; ignored silently.
struct ignored_msg {
  std::string type;
};

using client_message =
    std::variant<connect_msg, disconnect_msg, offer_msg, answer_msg, candidate_msg, register_msg, ignored_msg>;

/// Decodes one WebSocket message (validated as JSON in one pass, no tree is built). Never throws;
/// `why` receives a short reason on failure.
core::result<client_message> decode_client(std::string_view text, std::string* why = nullptr);

/// Parses JSON with a nesting bound; nullopt (and `why`) when malformed or too deep.
std::optional<nlohmann::json> parse_bounded(std::string_view text, std::string* why = nullptr);

// Server-to-client WebSocket frames, byte-compatible with the reference (key order included).
std::string encode_connect_ack(const std::optional<std::string>& connection_id, bool polite);
std::string encode_disconnect(const std::optional<std::string>& connection_id);
std::string encode_error(std::string_view message);
/// An error with a machine-readable code (extension; unmodified clients read only "message").
std::string encode_error(std::string_view message, std::string_view code);
std::string encode_registered(std::string_view name);
std::string encode_offer(std::string_view from, std::string_view sdp_json, std::int64_t datetime, bool polite);
std::string encode_answer(std::string_view from, std::string_view sdp_json, std::int64_t datetime);
std::string encode_candidate(std::string_view from, const candidate_msg& c, std::int64_t datetime);

/// Reads a connection id field: absent -> nullopt; must be a non-empty bounded string otherwise.
core::result<std::optional<std::string>> read_connection_id(const nlohmann::json& object, std::string* why);

}  // namespace signaling
