#include "mas/api/contract.hpp"

#include <gtest/gtest.h>

namespace {

using namespace mas::api;
using nlohmann::json;

chat_request decode_ok(const std::string& body) {
  std::vector<field_error> errors;
  auto r = decode_chat_request(body, &errors);
  EXPECT_TRUE(r) << body << (errors.empty() ? "" : " -> " + errors[0].field + ": " + errors[0].message);
  return r ? *r : chat_request{};
}

std::vector<field_error> decode_errors(const std::string& body) {
  std::vector<field_error> errors;
  EXPECT_FALSE(decode_chat_request(body, &errors)) << body;
  return errors;
}

TEST(chat_request, decodes_every_v2_field) {
  const auto r = decode_ok(json{{"session_id", "20260101_120000_uid-1"},
                                {"user_message", "Hello"},
                                {"target_agent", "Coach"},
                                {"system_prompt", "persona"},
                                {"phase_context", "phase_type=LISTEN"},
                                {"message_history_json", "[]"},
                                {"context_refresh_reason", "window"},
                                {"rag_prefetch_only", false},
                                {"rag_prefetch_query", "q"},
                                {"include_legacy_audio_b64", false},
                                {"audio_data", "AAAA"},
                                {"unknown_field", 42}}
                               .dump());
  EXPECT_EQ(r.session_id, "20260101_120000_uid-1");
  EXPECT_EQ(r.user_message, "Hello");
  EXPECT_EQ(r.target, agent::coach);
  EXPECT_TRUE(r.routing_given);
  EXPECT_EQ(r.system_prompt, "persona");
  EXPECT_EQ(r.phase_context, "phase_type=LISTEN");
  EXPECT_EQ(r.message_history_json, "[]");
  EXPECT_EQ(r.context_refresh_reason, "window");
  EXPECT_FALSE(r.rag_prefetch_only);
  EXPECT_EQ(r.rag_prefetch_query, "q");
  EXPECT_FALSE(r.include_legacy_audio_b64);
  EXPECT_TRUE(r.has_audio_data);
}

TEST(chat_request, user_transcript_is_the_legacy_alias) {
  EXPECT_EQ(decode_ok(R"({"session_id":"s","user_transcript":"hi"})").user_message, "hi");
  EXPECT_EQ(decode_ok(R"({"session_id":"s","user_message":"","user_transcript":"hi"})").user_message, "hi");
  EXPECT_EQ(decode_ok(R"({"session_id":"s","user_message":"a","user_transcript":"b"})").user_message, "a");
  EXPECT_EQ(decode_ok(R"({"session_id":"s"})").user_message, "") << "an empty message is valid, as before";
}

TEST(chat_request, routing_takes_the_first_non_empty_field) {
  EXPECT_EQ(decode_ok(R"({"session_id":"s","target_agent":"","agent_mode":"supervisor","mode":"coach"})").target, agent::supervisor);
  EXPECT_EQ(decode_ok(R"({"session_id":"s","mode":"parent"})").target, agent::caregiver);
  EXPECT_EQ(decode_ok(R"({"session_id":"s","mode":"whatever"})").target, agent::caregiver);
  const auto none = decode_ok(R"({"session_id":"s"})");
  EXPECT_EQ(none.target, agent::caregiver);
  EXPECT_FALSE(none.routing_given);
}

TEST(chat_request, session_id_pattern_and_length) {
  EXPECT_EQ(decode_errors(R"({"user_message":"x"})")[0].field, "session_id");
  EXPECT_EQ(decode_errors(R"({"session_id":""})")[0].field, "session_id");
  EXPECT_EQ(decode_errors(R"({"session_id":"a b"})")[0].field, "session_id");
  EXPECT_EQ(decode_errors(R"({"session_id":"../etc"})")[0].field, "session_id");
  EXPECT_EQ(decode_errors(json{{"session_id", std::string(129, 'a')}}.dump())[0].field, "session_id");
  decode_ok(json{{"session_id", std::string(128, 'a')}}.dump());
  EXPECT_EQ(decode_errors(R"({"session_id":7})")[0].message, "must be a string");
}

TEST(chat_request, field_bounds_count_characters_not_bytes) {
  const std::string e_acute = "\xC3\xA9";
  std::string at_limit;
  for (std::size_t i = 0; i < limits::user_message; ++i) at_limit += e_acute;
  decode_ok(json{{"session_id", "s"}, {"user_message", at_limit}}.dump());
  EXPECT_EQ(decode_errors(json{{"session_id", "s"}, {"user_message", at_limit + "x"}}.dump())[0].field, "user_message");
  EXPECT_EQ(decode_errors(json{{"session_id", "s"}, {"mode", std::string(33, 'c')}}.dump())[0].field, "mode");
  EXPECT_EQ(decode_errors(json{{"session_id", "s"}, {"system_prompt", std::string(12001, 'p')}}.dump())[0].field, "system_prompt");
}

TEST(chat_request, booleans_are_lax_like_the_original) {
  EXPECT_TRUE(decode_ok(R"({"session_id":"s","rag_prefetch_only":"true"})").rag_prefetch_only);
  EXPECT_TRUE(decode_ok(R"({"session_id":"s","rag_prefetch_only":1})").rag_prefetch_only);
  EXPECT_TRUE(decode_ok(R"({"session_id":"s","include_legacy_audio_b64":null})").include_legacy_audio_b64);
  EXPECT_EQ(decode_errors(R"({"session_id":"s","rag_prefetch_only":"maybe"})")[0].field, "rag_prefetch_only");
}

TEST(chat_request, malformed_bodies_are_errors_not_crashes) {
  for (const char* body : {"", "not json", "[]", "null", "{", R"({"session_id":"s",})"}) {
    std::vector<field_error> errors;
    const auto r = decode_chat_request(body, &errors);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error(), core::errc::malformed) << body;
    EXPECT_FALSE(errors.empty());
  }
  const std::string deep = R"({"session_id":"s","x":)" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_EQ(decode_chat_request(deep).error(), core::errc::malformed);
  EXPECT_EQ(decode_chat_request(std::string(limits::chat_body_bytes + 1, ' ')).error(), core::errc::too_large);
}

TEST(chat_request, reports_every_bad_field) {
  const auto errors = decode_errors(R"({"session_id":"bad id","user_message":5,"mode":[]})");
  ASSERT_EQ(errors.size(), 3U);
}

TEST(chat_response, carries_the_v2_fields_and_the_supervisor_decision) {
  chat_response r;
  r.response_text = "Hello, doctor.";
  r.active_agent = agent::caregiver;
  r.coach_feedback_meta = {{"safe", true}, {"reason", "ok"}};
  r.ui_message = "PROFESSIONAL CONDUCT WARNING 1";
  r.warning_count = 1;
  const auto j = json::parse(encode_chat_response(r));
  for (const char* key : {"response_text", "caregiver_text", "audio_url", "caregiver_audio_b64", "caregiver_animation_cues",
                          "coach_feedback", "coach_feedback_meta", "active_agent", "api_contract_version", "ui_message",
                          "warning_count", "session_terminated"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["caregiver_text"], "Hello, doctor.");
  EXPECT_TRUE(j["audio_url"].is_null());
  EXPECT_EQ(j["caregiver_animation_cues"]["emotion"], "neutral");
  EXPECT_EQ(j["active_agent"], "caregiver");
  EXPECT_EQ(j["api_contract_version"], "v1");
  EXPECT_EQ(j["warning_count"], 1);
  EXPECT_FALSE(j["session_terminated"].get<bool>());
}

TEST(session_create, every_field_is_optional_and_bounded) {
  std::vector<field_error> errors;
  auto empty = decode_session_create("", &errors);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->session_id.empty());
  EXPECT_TRUE(empty->persona.empty());
  ASSERT_TRUE(decode_session_create("  \r\n"));
  auto full = decode_session_create(R"({"session_id":"s-1","persona":"Maya Pena","scenario":"clinic","training_type":"SP2","x":1})");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->session_id, "s-1");
  EXPECT_EQ(full->persona, "Maya Pena");
  EXPECT_EQ(full->scenario, "clinic");
  EXPECT_EQ(full->training_type, "SP2");

  EXPECT_EQ(decode_session_create(R"({"session_id":"a b"})", &errors).error(), core::errc::invalid_argument);
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].field, "session_id");
  EXPECT_EQ(decode_session_create(R"({"persona":")" + std::string(65, 'x') + R"("})", &errors).error(),
            core::errc::invalid_argument);
  EXPECT_TRUE(decode_session_create(R"({"persona":")" + std::string(64, 'x') + R"("})"));
  EXPECT_EQ(decode_session_create(R"({"scenario":5})", &errors).error(), core::errc::invalid_argument);
  EXPECT_EQ(decode_session_create("[1]", &errors).error(), core::errc::malformed);
  EXPECT_EQ(decode_session_create("{", &errors).error(), core::errc::malformed);
  EXPECT_EQ(decode_session_create(std::string(5000, ' ') + "{}", &errors).error(), core::errc::too_large);
}

TEST(session_view, encodes_state_and_optional_transcript) {
  session_view v;
  v.session_id = "s-1";
  v.persona = "anne-palmer";
  v.phase = "listen";
  v.warning_count = 2;
  v.created_at_ms = 5;
  auto j = json::parse(encode_session(v));
  EXPECT_EQ(j["session_id"], "s-1");
  EXPECT_EQ(j["warning_count"], 2);
  EXPECT_EQ(j["ended"], false);
  EXPECT_TRUE(j["ended_at_ms"].is_null());
  EXPECT_FALSE(j.contains("turns"));
  v.ended_at_ms = 9;
  v.turns = std::vector<transcript_turn>{{1, "user", "hi \"there\"", 7}};
  j = json::parse(encode_session(v));
  EXPECT_EQ(j["ended"], true);
  EXPECT_EQ(j["ended_at_ms"], 9);
  ASSERT_EQ(j["turns"].size(), 1U);
  EXPECT_EQ(j["turns"][0]["text"], "hi \"there\"");
  EXPECT_EQ(j["turns"][0]["seq"], 1);
}

TEST(error_body, has_code_message_and_fields) {
  EXPECT_EQ(encode_error("not_found", "no such session"), R"({"error":{"code":"not_found","message":"no such session"}})");
  const auto j = json::parse(encode_error("validation_failed", "bad", {{"session_id", "is required"}}));
  EXPECT_EQ(j["error"]["fields"][0]["field"], "session_id");
}

}  // namespace
