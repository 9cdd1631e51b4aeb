#include "mas/speech/resample.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <span>

namespace {

using namespace mas::speech;

audio sine(int rate, double hz, double seconds, double amplitude) {
  audio a;
  a.sample_rate = rate;
  const auto n = static_cast<std::size_t>(seconds * rate);
  a.samples.resize(n);
  for (std::size_t i = 0; i < n; ++i)
    a.samples[i] = static_cast<std::int16_t>(
        std::lround(amplitude * std::sin(2 * std::numbers::pi * hz * static_cast<double>(i) / rate)));
  return a;
}

/// The middle half of `a`, away from the edges where the kernel runs off the signal.
std::span<const std::int16_t> middle(const audio& a) {
  return std::span(a.samples).subspan(a.samples.size() / 4, a.samples.size() / 2);
}

double rms(std::span<const std::int16_t> s) {
  double sum = 0;
  for (const auto v : s) sum += static_cast<double>(v) * v;
  return std::sqrt(sum / static_cast<double>(s.size()));
}

/// A tone's frequency from its sign changes.
double frequency(std::span<const std::int16_t> s, int rate) {
  int changes = 0;
  for (std::size_t i = 1; i < s.size(); ++i)
    if ((s[i - 1] < 0) != (s[i] < 0)) ++changes;
  return changes / 2.0 / (static_cast<double>(s.size()) / rate);
}

TEST(resample, keeps_the_duration) {
  const auto second = sine(22050, 440, 1.0, 1000);
  const auto down = resample(second, 16000);
  ASSERT_TRUE(down);
  EXPECT_EQ(down->sample_rate, 16000);
  EXPECT_EQ(down->samples.size(), 16000U);
  EXPECT_EQ(resample(sine(16000, 440, 0.5, 1000), 48000)->samples.size(), 24000U);
  audio three{{1, 2, 3}, 48000};
  EXPECT_EQ(resample(three, 16000)->samples.size(), 1U);  // covers the first third of a millisecond
  audio empty{{}, 22050};
  EXPECT_TRUE(resample(empty, 16000)->samples.empty());
  EXPECT_EQ(resample(three, 48000)->samples, three.samples);
}

TEST(resample, refuses_impossible_rates) {
  audio a{{1, 2, 3}, 16000};
  EXPECT_EQ(resample(a, 0).error(), core::errc::invalid_argument);
  EXPECT_EQ(resample(a, -8000).error(), core::errc::invalid_argument);
  EXPECT_EQ(resample(a, max_sample_rate + 1).error(), core::errc::invalid_argument);
  a.sample_rate = 0;
  EXPECT_EQ(resample(a, 16000).error(), core::errc::invalid_argument);
}

TEST(resample, keeps_a_tones_frequency_and_level) {
  for (const auto& [from, to] : {std::pair{22050, 16000}, {48000, 16000}, {8000, 16000}, {16000, 44100}}) {
    const auto in = sine(from, 1000, 1.0, 10000);
    const auto out = resample(in, to);
    ASSERT_TRUE(out);
    EXPECT_NEAR(frequency(middle(*out), to), 1000, 5) << from << " -> " << to;
    EXPECT_NEAR(rms(middle(*out)), rms(middle(in)), rms(middle(in)) * 0.01) << from << " -> " << to;
  }
}

TEST(resample, filters_out_what_would_alias) {
  // 10 kHz is above 16 kHz's Nyquist frequency: without the low-pass it would come back as a 6 kHz tone.
  const auto in = sine(48000, 10000, 1.0, 10000);
  const auto out = resample(in, 16000);
  ASSERT_TRUE(out);
  EXPECT_LT(rms(middle(*out)), rms(middle(in)) * 0.001);  // at least 60 dB down
}

}  // namespace
