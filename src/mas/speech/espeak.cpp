#include "mas/speech/espeak.hpp"

#include <espeak-ng/espeak_ng.h>

#include <mutex>
#include <stdexcept>

namespace mas::speech {

namespace {

std::mutex g_lock;  // espeak-ng is one global synthesiser
int g_sample_rate = 0;

// espeak-ng hands PCM to this callback in pieces; `user_data` is the caller's sample buffer.
int collect(short* wav, int count, espeak_EVENT* events) {
  if (wav && count > 0 && events && events->user_data) {
    auto* out = static_cast<std::vector<std::int16_t>*>(events->user_data);
    out->insert(out->end(), wav, wav + count);
  }
  return 0;
}

}  // namespace

espeak_engine::espeak_engine() {
  std::lock_guard lock(g_lock);
  if (g_sample_rate > 0) return;
  espeak_ng_InitializePath(nullptr);
  if (espeak_ng_Initialize(nullptr) != ENS_OK) throw std::runtime_error("espeak-ng: cannot load its data files");
  if (espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, 0, nullptr) != ENS_OK)
    throw std::runtime_error("espeak-ng: cannot initialise synchronous output");
  espeak_SetSynthCallback(collect);
  g_sample_rate = espeak_ng_GetSampleRate();
}

core::result<audio> espeak_engine::synthesize(std::string_view text, std::string_view voice) {
  std::lock_guard lock(g_lock);
  const std::string v = voice.empty() ? std::string("en-us") : std::string(voice);
  if (espeak_ng_SetVoiceByName(v.c_str()) != ENS_OK) return core::make_error_code(core::errc::invalid_argument);
  audio out;
  out.sample_rate = g_sample_rate;
  const std::string buffer(text);  // espeak-ng needs a NUL-terminated copy
  const auto status = espeak_ng_Synthesize(buffer.c_str(), buffer.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8,
                                           nullptr, &out.samples);
  if (status != ENS_OK) return core::make_error_code(core::errc::unavailable);
  return out;
}

}  // namespace mas::speech
