#pragma once
#include "core/error.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

/// Speech synthesis behind one interface: embedded espeak-ng by default, NVIDIA Riva later.
namespace mas::speech {

/// Mono 16-bit PCM.
struct audio {
  std::vector<std::int16_t> samples;
  int sample_rate = 0;
};

class speech_engine {
 public:
  virtual ~speech_engine() = default;
  virtual std::string_view name() const noexcept = 0;
  /// Speaks `text` (UTF-8) with `voice` (engine-specific name; empty for the default).
  virtual core::result<audio> synthesize(std::string_view text, std::string_view voice) = 0;
};

/// A complete WAV file (RIFF, PCM format 1, 16 bits, mono) holding `a`.
std::string to_wav(const audio& a);

}  // namespace mas::speech
