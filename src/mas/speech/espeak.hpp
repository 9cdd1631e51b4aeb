#pragma once
#include "mas/speech/speech.hpp"

namespace mas::speech {

/// espeak-ng (Debian's libespeak-ng), fully offline. The library keeps global state, so every instance
/// shares one initialisation and synthesis is serialised by a process-wide lock.
class espeak_engine final : public speech_engine {
 public:
  /// Initialises espeak-ng once; throws std::runtime_error when its data files are missing (start-up).
  espeak_engine();
  std::string_view name() const noexcept override { return "espeak-ng"; }
  core::result<audio> synthesize(std::string_view text, std::string_view voice) override;
};

}  // namespace mas::speech
