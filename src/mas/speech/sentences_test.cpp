#include "mas/speech/sentences.hpp"

#include <gtest/gtest.h>

namespace mas::speech {
namespace {

TEST(sentences, streamed_text_comes_out_sentence_by_sentence) {
  sentence_splitter s;
  std::vector<std::string> got;
  for (const char* piece : {"Oh, ", "okay. I hadn", "'t thought about ", "that. Is it safe", "? She's only 10.5 ", "years old"}) {
    for (auto& x : s.feed(piece)) got.push_back(std::move(x));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"Oh, okay.", "I hadn't thought about that.", "Is it safe?"}));
  EXPECT_EQ(s.flush(), "She's only 10.5 years old");
  EXPECT_EQ(s.flush(), std::nullopt);
}

TEST(sentences, a_sentence_waits_for_the_space_after_its_stop_and_keeps_closing_quotes) {
  sentence_splitter s;
  EXPECT_TRUE(s.feed("She said \"no.").empty()) << "the quote may still close";
  EXPECT_EQ(s.feed("\" Then"), std::vector<std::string>{"She said \"no.\""});
  EXPECT_EQ(s.flush(), "Then");
}

TEST(sentences, text_without_stops_is_cut_at_a_space) {
  sentence_splitter s;
  std::string words;
  for (int i = 0; i < 100; ++i) words += "word ";
  const auto got = s.feed(words);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_LE(got[0].size(), sentence_splitter::max_sentence_bytes);
  EXPECT_EQ(got[0].back(), 'd');
}

}  // namespace
}  // namespace mas::speech
