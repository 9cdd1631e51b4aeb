#include "mas/agents/persona.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace {

using namespace mas::agents;

TEST(personas, the_shipped_files_load) {
  std::string why;
  const auto all = load_personas(std::filesystem::path(SPARC_DATA_DIR) / "personas", &why);
  ASSERT_TRUE(all) << why;
  ASSERT_TRUE(all->contains("anne-palmer"));
  ASSERT_TRUE(all->contains("maya-pena"));
  const auto& anne = all->at("anne-palmer");
  EXPECT_EQ(anne.child_name, "Riley");
  EXPECT_EQ(anne.child_age, 10);
  EXPECT_EQ(anne.child_relation, "daughter");
  const auto& maya = all->at("maya-pena");
  EXPECT_EQ(maya.child_name, "Luna");
  EXPECT_EQ(maya.child_age, 9);
  EXPECT_NE(maya.concern.find("infertility"), std::string::npos);
}

TEST(personas, lines_are_deterministic_and_filled_in) {
  persona p;
  p.child_name = "Riley";
  p.child_age = 10;
  p.lines["greeting"] = {"Hi, {child} is {age}.", "Hello."};
  EXPECT_EQ(p.line("greeting", 0), "Hi, Riley is 10.");
  EXPECT_EQ(p.line("greeting", 1), "Hello.");
  EXPECT_EQ(p.line("greeting", 2), p.line("greeting", 0));
  EXPECT_EQ(p.line("missing", 0), "");
}

TEST(personas, bad_files_name_the_file_and_the_problem) {
  const auto path = std::filesystem::path(::testing::TempDir()) / "broken.toml";
  std::ofstream(path) << "id = \"x\"\nname = \"X\"\n[lines\n";
  std::string why;
  EXPECT_FALSE(load_persona(path, &why));
  EXPECT_NE(why.find("broken.toml:3"), std::string::npos) << why;
  std::ofstream(path) << "id = \"x\"\nname = \"X\"\ntraining_type = \"t\"\n[child]\nname = \"C\"\nrelation = \"son\"\nage = 40\n";
  EXPECT_FALSE(load_persona(path, &why));
  EXPECT_NE(why.find("child.age"), std::string::npos) << why;
}

TEST(phases, parse_from_phase_context) {
  EXPECT_EQ(parse_phase("phase_type=LISTEN; training_type=SkillsPractice1"), phase::listen);
  EXPECT_EQ(parse_phase("phase_type=Counsel"), phase::counsel);
  EXPECT_EQ(parse_phase("phase_type=EMPATHIZE"), phase::empathize);
  EXPECT_EQ(parse_phase("phase_type=ANSWER_RECOMMEND"), phase::answer_recommend);
  EXPECT_EQ(parse_phase("phase_type=LISTEN; parent_phase_prompt=then recommend"), phase::listen);
  EXPECT_EQ(parse_phase(""), phase::unknown);
}

}  // namespace
