#pragma once
// The avatar's voice: WAV from sparc-mas /v1/tts decoded to PCM and brought to the pipeline's audio rate.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace stream {

/// Signed 16-bit mono samples at `rate` Hz.
struct pcm {
  int rate = 0;
  std::vector<std::int16_t> samples;
};

/// Reads a RIFF/WAVE file of 16-bit PCM (mono, or stereo mixed down); nullopt for anything else or a truncated file.
std::optional<pcm> decode_wav(std::string_view bytes);

/// Linear-interpolation resampling; speech from a TTS voice needs no better filter at these ratios.
std::vector<std::int16_t> resample(std::span<const std::int16_t> in, int from_rate, int to_rate);

}  // namespace stream
