#include "stream/speech.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace {

std::string wav(int rate, int channels, const std::vector<std::int16_t>& samples, bool huge_data_size = false) {
  std::string out = "RIFF";
  const auto put32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
  };
  const auto put16 = [&](std::uint16_t v) {
    out += static_cast<char>(v & 0xFF);
    out += static_cast<char>(v >> 8);
  };
  const auto data_bytes = static_cast<std::uint32_t>(samples.size() * 2);
  put32(36 + data_bytes);
  out += "WAVE";
  out += "LIST";  // an extra chunk before fmt, as some writers add
  put32(3);
  out += "abc";
  out += '\0';  // padding to even
  out += "fmt ";
  put32(16);
  put16(1);
  put16(static_cast<std::uint16_t>(channels));
  put32(static_cast<std::uint32_t>(rate));
  put32(static_cast<std::uint32_t>(rate * channels * 2));
  put16(static_cast<std::uint16_t>(channels * 2));
  put16(16);
  out += "data";
  put32(huge_data_size ? 0xFFFFFFFFU : data_bytes);
  for (const auto s : samples) put16(static_cast<std::uint16_t>(s));
  return out;
}

TEST(decode_wav, reads_mono_pcm16_after_other_chunks) {
  const auto p = stream::decode_wav(wav(22050, 1, {1, -2, 300, -32768, 32767}));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->rate, 22050);
  EXPECT_EQ(p->samples, (std::vector<std::int16_t>{1, -2, 300, -32768, 32767}));
}

TEST(decode_wav, mixes_stereo_down_and_takes_an_open_ended_data_chunk) {
  const auto p = stream::decode_wav(wav(48000, 2, {100, 300, -100, -300}, true));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->samples, (std::vector<std::int16_t>{200, -200}));
}

TEST(decode_wav, refuses_what_is_not_16_bit_pcm) {
  EXPECT_FALSE(stream::decode_wav(""));
  EXPECT_FALSE(stream::decode_wav("RIFF0000WAVX"));
  auto w = wav(8000, 1, {1, 2});
  auto truncated = w.substr(0, 30);
  EXPECT_FALSE(stream::decode_wav(truncated));
  auto eight_bit = w;
  eight_bit[12 + 12 + 8 + 14] = 8;  // bits per sample
  EXPECT_FALSE(stream::decode_wav(eight_bit));
}

TEST(resample, keeps_duration_and_shape) {
  std::vector<std::int16_t> sine(2205);
  for (std::size_t i = 0; i < sine.size(); ++i) sine[i] = static_cast<std::int16_t>(10000 * std::sin(static_cast<double>(i) * 0.05));
  const auto up = stream::resample(sine, 22050, 48000);
  EXPECT_EQ(up.size(), 4800U);
  EXPECT_EQ(up[0], sine[0]);
  // The sample at 48 kHz index 480 is at 22.05 kHz position 220.5: between its two neighbours.
  EXPECT_GE(up[480], std::min(sine[220], sine[221]));
  EXPECT_LE(up[480], std::max(sine[220], sine[221]));
  EXPECT_EQ(stream::resample(sine, 48000, 48000), sine);
  EXPECT_TRUE(stream::resample({}, 22050, 48000).empty());
}

}  // namespace
