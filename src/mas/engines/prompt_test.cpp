#include "mas/engines/prompt.hpp"

#include "mas/engines/sse.hpp"

#include <gtest/gtest.h>

namespace mas::engines {
namespace {

agents::persona anne() {
  agents::persona p;
  p.id = "anne-palmer";
  p.name = "Anne Palmer";
  p.child_name = "Riley";
  p.child_age = 10;
  p.child_relation = "daughter";
  p.concern = "she is too young for a vaccine about sex";
  p.temperament = "polite and hesitant";
  return p;
}

TEST(prompt, the_caregiver_prompt_carries_the_persona_phase_rules_and_knowledge) {
  const auto p = anne();
  turn t;
  t.persona = &p;
  t.phase = agents::phase::empathize;
  t.special_handling = "deflect_medical_advice";
  t.knowledge = "[Why 9 to 12] The immune response is stronger before the teen years.";
  const auto s = system_prompt(t);
  EXPECT_NE(s.find("You are Anne Palmer"), std::string::npos);
  EXPECT_NE(s.find("10-year-old daughter, Riley"), std::string::npos);
  EXPECT_NE(s.find("too young for a vaccine"), std::string::npos);
  EXPECT_NE(s.find("open up"), std::string::npos) << "the Empathize guidance";
  EXPECT_NE(s.find("never say or hint that you are an AI"), std::string::npos);
  EXPECT_NE(s.find("asked you for medical advice"), std::string::npos);
  EXPECT_NE(s.find("immune response is stronger"), std::string::npos);
}

TEST(prompt, the_coach_prompt_states_the_rubric_and_the_json_contract) {
  const auto p = anne();
  turn t;
  t.agent = role::coach;
  t.persona = &p;
  t.phase = agents::phase::counsel;
  const auto s = system_prompt(t);
  EXPECT_NE(s.find("C-LEAR"), std::string::npos);
  EXPECT_NE(s.find("Counsel:"), std::string::npos);
  for (const char* key : {"\"score\"", "\"summary\"", "\"evidence\"", "\"keepDoing\"", "\"tryNextTime\"", "\"notes\""})
    EXPECT_NE(s.find(key), std::string::npos) << key;
  const auto& schema = coach_schema();
  EXPECT_EQ(schema["required"].size(), 6u);
  EXPECT_FALSE(schema["additionalProperties"].get<bool>());
}

TEST(prompt, history_is_trimmed_from_the_oldest_turns_and_never_cuts_the_system_prompt_or_the_input) {
  const auto p = anne();
  turn t;
  t.persona = &p;
  t.clinician_text = "What worries you most?";
  for (int i = 0; i < 40; ++i)
    t.transcript.push_back({i % 2 ? "caregiver" : "clinician", "turn " + std::to_string(i) + std::string(200, 'x')});
  std::size_t dropped = 0;
  const auto all = build_messages(t, {100000, 200}, &dropped);
  EXPECT_EQ(dropped, 0u);
  EXPECT_EQ(all.size(), 42u);
  EXPECT_EQ(all.front().role, "system");
  EXPECT_EQ(all[1].content.substr(0, 7), "turn 0x");
  EXPECT_EQ(all[2].role, "assistant");
  EXPECT_EQ(all.back().role, "user");
  EXPECT_EQ(all.back().content, t.clinician_text);

  const token_budget tight{1000, 200};
  const auto some = build_messages(t, tight, &dropped);
  EXPECT_GT(dropped, 0u);
  EXPECT_LT(dropped, 40u);
  std::size_t total = 0;
  for (const auto& m : some) total += estimate_tokens(m);
  EXPECT_LE(total + tight.max_tokens, tight.context_tokens);
  EXPECT_EQ(some.front().role, "system");
  EXPECT_EQ(some.back().content, t.clinician_text);
  EXPECT_EQ(some[some.size() - 2].content.substr(0, 8), "turn 39x") << "the newest turns are the ones kept";

  // A budget smaller than the system prompt keeps the system prompt and the input, and nothing else.
  const auto none = build_messages(t, {10, 5}, &dropped);
  EXPECT_EQ(dropped, 40u);
  ASSERT_EQ(none.size(), 2u);
  EXPECT_EQ(none[0].content, system_prompt(t));
}

TEST(prompt, the_coach_reads_the_conversation_as_one_transcript) {
  const auto p = anne();
  turn t;
  t.agent = role::coach;
  t.persona = &p;
  t.transcript = {{"clinician", "Riley is due for the HPV vaccine."}, {"caregiver", "Oh, okay."}};
  t.clinician_text = "I strongly recommend it today.";
  const auto m = build_messages(t, {});
  ASSERT_EQ(m.size(), 2u);
  EXPECT_NE(m[1].content.find("caregiver: Oh, okay."), std::string::npos);
  EXPECT_NE(m[1].content.find("(grade this): I strongly recommend it today."), std::string::npos);
}

TEST(sse, events_split_across_reads_with_comments_crlf_and_multiline_data) {
  sse_parser p;
  std::vector<std::string> got;
  const auto sink = [&](std::string_view d) { got.emplace_back(d); };
  const std::string stream = ": keep-alive\r\ndata: {\"a\":1}\r\n\r\nevent: x\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n";
  for (std::size_t i = 0; i < stream.size(); i += 3) ASSERT_TRUE(p.feed(std::string_view(stream).substr(i, 3), sink));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "{\"a\":1}");
  EXPECT_EQ(got[1], "line1\nline2");
  EXPECT_EQ(got[2], "[DONE]");
}

TEST(sse, an_event_over_the_bound_is_refused) {
  sse_parser p(64);
  const auto sink = [](std::string_view) {};
  EXPECT_TRUE(p.feed("data: short\n\n", sink));
  EXPECT_FALSE(p.feed("data: " + std::string(100, 'x'), sink));
}

}  // namespace
}  // namespace mas::engines
