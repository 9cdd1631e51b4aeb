#pragma once
#include "core/error.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

/// Streaming speech recognition behind one interface: NVIDIA Riva now, an embedded recognizer later.
namespace mas::speech {

/// One utterance's recognition settings.
struct asr_config {
  int sample_rate = 16000;         ///< of the pushed mono 16-bit PCM
  std::string language = "en-US";  ///< BCP-47
  bool interim_results = true;     ///< report hypotheses before they are final
  /// The whole stream's budget: a stream still open after this ends with errc::timed_out.
  std::chrono::milliseconds max_duration{60'000};
};

/// A transcript from the recognizer.
struct asr_event {
  bool is_final = false;  ///< finals are segments to append; an interim replaces the previous interim
  std::string text;
  float confidence = 0;  ///< 0..1 on finals when the engine gives one; 0 otherwise
};

/// Where a stream reports. Both run on a thread the engine owns (never the caller's), one call at a time and
/// in order: events, then exactly one `on_end`, unless cancel() came first. Keep them short (post the value to
/// the consumer's executor); a callback may call cancel() but must not destroy the stream.
struct asr_handler {
  std::function<void(asr_event)> on_event;
  /// Success after finish() once the last final is delivered; otherwise why the stream ended early
  /// (timed_out, unavailable, invalid_argument for an unsupported language or rate, ...).
  std::function<void(core::result<void>)> on_end;
};

/// One utterance in flight. Destroying a stream that has not ended cancels it.
class asr_stream {
 public:
  virtual ~asr_stream() = default;
  /// Queues audio without blocking on the network; errc::rate_limited when the engine falls too far behind,
  /// errc::invalid_argument after finish(), errc::unavailable once the stream has ended.
  virtual core::result<void> push(std::span<const std::int16_t> samples) = 0;
  /// No more audio: the engine delivers the remaining finals, then `on_end`.
  virtual void finish() = 0;
  /// Abandons the utterance. On return no callback is running or will run (from inside a callback it only
  /// stops further ones). Idempotent.
  virtual void cancel() = 0;
};

class asr_engine {
 public:
  virtual ~asr_engine() = default;
  virtual std::string_view name() const noexcept = 0;
  /// Opens a stream; errc::invalid_argument for an unusable config. Connection failures arrive at `on_end`.
  virtual core::result<std::unique_ptr<asr_stream>> start(const asr_config& config, asr_handler handler) = 0;
};

}  // namespace mas::speech
