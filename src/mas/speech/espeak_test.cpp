#include "mas/speech/espeak.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

namespace {

using namespace mas::speech;

std::uint32_t read32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}

TEST(wav, header_matches_the_samples) {
  audio a;
  a.sample_rate = 16000;
  a.samples = {0, 1000, -1000, 32767, -32768};
  const auto w = to_wav(a);
  ASSERT_EQ(w.size(), 44U + 10U);
  EXPECT_EQ(w.substr(0, 4), "RIFF");
  EXPECT_EQ(read32(w, 4), w.size() - 8);
  EXPECT_EQ(w.substr(8, 8), "WAVEfmt ");
  EXPECT_EQ(read32(w, 24), 16000U);
  EXPECT_EQ(read32(w, 28), 32000U);
  EXPECT_EQ(w.substr(36, 4), "data");
  EXPECT_EQ(read32(w, 40), 10U);
  EXPECT_EQ(static_cast<unsigned char>(w[44 + 6]), 0xFF);  // 32767 little-endian: FF 7F
  EXPECT_EQ(static_cast<unsigned char>(w[44 + 7]), 0x7F);
}

TEST(espeak, speaks_a_sentence_in_each_persona_voice) {
  espeak_engine engine;
  for (const char* voice : {"en-us", "en-us+f3", "en-us+f4"}) {
    const auto a = engine.synthesize("Hello doctor, thanks for seeing us today.", voice);
    ASSERT_TRUE(a) << voice;
    EXPECT_EQ(a->sample_rate, 22050) << voice;
    const double seconds = static_cast<double>(a->samples.size()) / a->sample_rate;
    EXPECT_GT(seconds, 1.0) << voice;
    EXPECT_LT(seconds, 6.0) << voice;
    const auto peak = *std::max_element(a->samples.begin(), a->samples.end());
    EXPECT_GT(peak, 3000) << "not silence";
  }
}

TEST(espeak, refuses_unknown_voices_and_survives_odd_text) {
  espeak_engine engine;
  EXPECT_FALSE(engine.synthesize("hello", "no-such-voice-xyz"));
  EXPECT_TRUE(engine.synthesize("", "en-us"));
  EXPECT_TRUE(engine.synthesize("\xFF\xFE bad bytes <speak> & ; 12345", "en-us"));
}

}  // namespace
