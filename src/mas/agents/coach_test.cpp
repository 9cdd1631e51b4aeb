#include "mas/agents/coach.hpp"

#include <gtest/gtest.h>

namespace {

using namespace mas::agents;

constexpr const char* valid = R"({"score":0.5,"summary":"ok","evidence":["a"],"keepDoing":[],"tryNextTime":["b"],"notes":"n"})";

TEST(coach_contract, accepts_exactly_the_contract) {
  const auto g = parse_coach_contract(valid);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->score, 0.5);
  EXPECT_EQ(g->evidence.size(), 1U);
  EXPECT_EQ(to_json(*g).dump(), valid);
}

TEST(coach_contract, never_repairs_or_invents_a_grade) {
  const char* bad[] = {
      "Sure! Here is the grade: {\"score\":1}",                                                                  // prose
      R"({"score":0.7,"summary":"s","evidence":[],"keepDoing":[],"tryNextTime":[],"notes":""})",                 // not bucketed
      R"({"score":"1","summary":"s","evidence":[],"keepDoing":[],"tryNextTime":[],"notes":""})",                 // string score
      R"({"score":1,"summary":"","evidence":[],"keepDoing":[],"tryNextTime":[],"notes":""})",                    // empty summary
      R"({"score":1,"summary":"s","evidence":[],"keepDoing":[],"tryNextTime":[]})",                              // no notes
      R"({"score":1,"summary":"s","evidence":[1],"keepDoing":[],"tryNextTime":[],"notes":""})",                  // not strings
      R"({“score”:1})",                                                                                          // smart quotes
      R"({"score":1,"summary":"s","evidence":[],"keepDoing":[],"tryNextTime":[],"notes":"",})",                  // trailing comma
  };
  for (const auto* text : bad) {
    std::string why;
    EXPECT_FALSE(parse_coach_contract(text, &why)) << text;
    EXPECT_FALSE(why.empty());
  }
}

}  // namespace
