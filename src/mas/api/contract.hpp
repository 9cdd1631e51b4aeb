#pragma once
#include "core/error.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// The Unity client's HTTP contract (v2 backend, reference section 1.1) as value types. JSON exists only in
/// decode_* and encode_*.
namespace mas::api {

/// Field bounds of the v2 contract; requests over them are refused with 422 (or 413 for the body).
namespace limits {
inline constexpr std::size_t session_id = 128;
inline constexpr std::size_t user_message = 10000;
inline constexpr std::size_t audio_data = 2000000;  ///< accepted and ignored, as in the original
inline constexpr std::size_t routing = 32;          ///< target_agent, agent_mode, mode
inline constexpr std::size_t system_prompt = 12000;
inline constexpr std::size_t phase_context = 8000;
inline constexpr std::size_t message_history_json = 50000;
inline constexpr std::size_t context_refresh_reason = 200;
inline constexpr std::size_t rag_prefetch_query = 12000;
/// Every field at its bound plus JSON overhead; the HTTP layer refuses larger bodies with 413.
inline constexpr std::size_t chat_body_bytes = 2200000;
inline constexpr std::size_t json_depth = 16;
inline constexpr std::size_t session_label = 64;  ///< persona, scenario, training_type of POST /v1/sessions
inline constexpr std::size_t session_body_bytes = 4096;
}  // namespace limits

enum class agent { caregiver, coach, supervisor };
std::string_view to_string(agent a) noexcept;

/// The original's routing rule: a value containing "coach" is the coach, "supervisor" the supervisor,
/// everything else (including "caregiver" and "parent") the caregiver.
agent route(std::string_view value) noexcept;

struct chat_request {
  std::string session_id;
  std::string user_message;  ///< user_message, or the legacy user_transcript when that is empty
  agent target = agent::caregiver;
  bool routing_given = false;  ///< one of target_agent, agent_mode, mode was non-empty
  std::string system_prompt;
  std::string phase_context;
  std::string message_history_json;
  std::string context_refresh_reason;
  bool rag_prefetch_only = false;
  std::string rag_prefetch_query;
  bool include_legacy_audio_b64 = true;
  bool has_audio_data = false;
};

/// One reason a request was refused, named by field (for the 422 body).
struct field_error {
  std::string field;
  std::string message;
};

/// Decodes a POST /v1/chat body. Unknown fields are ignored (as the original did); null means absent.
/// On failure returns errc::malformed (not JSON / not an object) or errc::invalid_argument (with `errors`).
core::result<chat_request> decode_chat_request(std::string_view body, std::vector<field_error>* errors = nullptr);

struct animation_cues {
  std::string emotion = "neutral";
  std::string gesture = "speaking";
};

struct chat_response {
  std::string response_text;
  std::optional<std::string> audio_url;
  std::optional<std::string> caregiver_audio_b64;
  animation_cues cues;
  std::optional<std::string> coach_feedback;
  nlohmann::ordered_json coach_feedback_meta = nlohmann::ordered_json::object();
  agent active_agent = agent::caregiver;
  // The supervisor's decision (our addition to the contract).
  std::string ui_message;
  int warning_count = 0;
  bool session_terminated = false;
};

/// The value the Unity client reads in `api_contract_version`.
inline constexpr std::string_view contract_version = "v1";

/// Encodes the v2 response fields (caregiver_text mirrors response_text, as the client expects).
std::string encode_chat_response(const chat_response& r);

/// The JSON error body every failure carries: {"error":{"code","message"[,"fields":[...]]}}.
std::string encode_error(std::string_view code, std::string_view message, const std::vector<field_error>& fields = {});

/// POST /v1/sessions: every field optional (a server-chosen id, the default persona).
struct session_create_request {
  std::string session_id;
  std::string persona;  ///< a persona id ("maya-pena") or name ("Maya Pena")
  std::string scenario;
  std::string training_type;
};

/// Decodes a POST /v1/sessions body; an empty body means every default. Errors as decode_chat_request.
core::result<session_create_request> decode_session_create(std::string_view body, std::vector<field_error>* errors = nullptr);

/// One stored utterance as GET /v1/sessions/{id} shows it.
struct transcript_turn {
  std::int64_t seq = 0;
  std::string agent;
  std::string text;
  std::int64_t created_at_ms = 0;
};

/// A session as the API shows it to its owner.
struct session_view {
  std::string session_id;
  std::string persona;
  std::string persona_name;
  std::string scenario;
  std::string training_type;
  std::string phase;
  int warning_count = 0;
  bool session_terminated = false;
  bool flagged_for_review = false;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::optional<std::int64_t> ended_at_ms;
  std::optional<std::vector<transcript_turn>> turns;  ///< only GET shows the transcript
};

std::string encode_session(const session_view& v);

/// True for ids the contract accepts: 1-128 characters of [A-Za-z0-9_-].
bool valid_session_id(std::string_view id) noexcept;

}  // namespace mas::api
