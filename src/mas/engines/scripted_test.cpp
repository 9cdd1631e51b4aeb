#include "mas/engines/scripted.hpp"

#include "mas/agents/coach.hpp"

#include <gtest/gtest.h>

namespace {

using namespace mas;
using engines::role;

class scripted : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    auto all = agents::load_personas(std::filesystem::path(SPARC_DATA_DIR) / "personas", &why);
    ASSERT_TRUE(all) << why;
    personas_ = std::move(*all);
  }
  engines::turn caregiver(const char* persona, agents::phase ph, std::string text) {
    engines::turn t;
    t.agent = role::caregiver;
    t.persona = &personas_.at(persona);
    t.phase = ph;
    t.clinician_text = std::move(text);
    return t;
  }
  std::string say(const engines::turn& t) {
    auto g = engine_.generate(t);
    EXPECT_TRUE(g);
    EXPECT_EQ(g->engine, "scripted");
    return g ? g->text : std::string();
  }
  agents::coach_grade grade(const char* persona, agents::phase ph, std::string text) {
    auto t = caregiver(persona, ph, std::move(text));
    t.agent = role::coach;
    auto g = engine_.generate(t);
    EXPECT_TRUE(g);
    EXPECT_EQ(g->graded_by, "rules");
    std::string why;
    auto parsed = agents::parse_coach_contract(g->text, &why);
    EXPECT_TRUE(parsed) << why << ": " << g->text;
    return parsed ? *parsed : agents::coach_grade{};
  }
  std::map<std::string, agents::persona, std::less<>> personas_;
  engines::scripted_engine engine_;
};

TEST_F(scripted, the_concern_is_revealed_only_after_exploring) {
  const auto& anne = personas_.at("anne-palmer");
  const auto vague = say(caregiver("anne-palmer", agents::phase::empathize, "The vaccine is important."));
  EXPECT_NE(std::find(anne.lines.at("vague").begin(), anne.lines.at("vague").end(), vague), anne.lines.at("vague").end());
  const auto reveal = say(caregiver("anne-palmer", agents::phase::empathize, "What worries you about it?"));
  EXPECT_NE(reveal.find("ten"), std::string::npos) << reveal;
}

TEST_F(scripted, accepts_only_when_the_concern_is_answered_and_recommended) {
  const auto accept = say(caregiver("maya-pena", agents::phase::answer_recommend,
                                    "It has been studied in millions of girls and does not cause infertility. I strongly recommend it today."));
  EXPECT_NE(accept.find("Let's do it"), std::string::npos) << accept;
  const auto no_rec = say(caregiver("maya-pena", agents::phase::answer_recommend, "It has been studied in millions of girls."));
  EXPECT_NE(no_rec.find("hold off"), std::string::npos) << no_rec;
  const auto no_answer = say(caregiver("maya-pena", agents::phase::answer_recommend, "I recommend it."));
  EXPECT_NE(no_answer.find("hold off"), std::string::npos) << no_answer;
  EXPECT_NE(accept.find("Thank you"), std::string::npos) << "the caregiver thanks the clinician after deciding";
}

TEST_F(scripted, supervisor_special_handling_wins) {
  auto t = caregiver("anne-palmer", agents::phase::listen, "What dose of ibuprofen should I take?");
  t.special_handling = "deflect_medical_advice";
  EXPECT_NE(say(t).find("doctor"), std::string::npos);
  t.special_handling = "stay_in_character";
  EXPECT_NE(say(t).find("Riley"), std::string::npos);
}

TEST_F(scripted, streams_through_the_sink) {
  std::string streamed;
  auto g = engine_.generate(caregiver("anne-palmer", agents::phase::counsel, "Hi"), [&](std::string_view s) { streamed += s; });
  ASSERT_TRUE(g);
  EXPECT_EQ(streamed, g->text);
}

TEST_F(scripted, coach_rules_score_each_phase) {
  EXPECT_EQ(grade("anne-palmer", agents::phase::counsel,
                  "At ages 9 to 12 this vaccine prevents six cancers, it is safe, and she will come back for a second dose. I recommend it today.")
                .score,
            1.0);
  EXPECT_EQ(grade("anne-palmer", agents::phase::counsel, "It prevents cancer and it's safe.").score, 0.5);
  EXPECT_EQ(grade("anne-palmer", agents::phase::counsel, "Any questions?").score, 0.0);
  EXPECT_EQ(grade("anne-palmer", agents::phase::listen, "What concerns do you have about it?").score, 1.0);
  EXPECT_EQ(grade("anne-palmer", agents::phase::listen, "Okay?").score, 0.5);
  EXPECT_EQ(grade("anne-palmer", agents::phase::empathize, "Many parents feel the same way; that makes sense.").score, 1.0);
  EXPECT_EQ(grade("anne-palmer", agents::phase::empathize, "The data is clear.").score, 0.0);
  const auto ar = grade("anne-palmer", agents::phase::answer_recommend,
                        "It works best before any exposure and the immune response is stronger at her age. I recommend the first dose today.");
  EXPECT_EQ(ar.score, 1.0);
  EXPECT_FALSE(ar.evidence.empty());
  EXPECT_NE(ar.notes.find("rules"), std::string::npos);
}

TEST_F(scripted, a_persona_is_required) {
  engines::turn t;
  t.agent = role::caregiver;
  EXPECT_FALSE(engine_.generate(t));
}

}  // namespace
