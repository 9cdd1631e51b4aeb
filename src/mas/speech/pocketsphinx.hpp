#pragma once
#include "mas/speech/asr.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string_view>

/// Offline streaming recognition with CMU PocketSphinx (Debian's libpocketsphinx 0.8+5prealpha) and its US
/// English model (pocketsphinx-en-us). Nothing leaves the machine; accuracy is well below Riva's.
namespace mas::speech {

/// The model directory found at build time (pocketsphinx's pkg-config modeldir + "/en-us").
std::filesystem::path pocketsphinx_default_model_dir();

/// How the embedded recognizer is set up.
struct pocketsphinx_options {
  /// Holds the acoustic model directory en-us/, the language model en-us.lm.bin and the dictionary
  /// cmudict-en-us.dict: the layout of Debian's pocketsphinx-en-us and of upstream's model/en-us.
  std::filesystem::path model_dir = pocketsphinx_default_model_dir();
  /// Streams recognising at once. Each holds a decoder (about 95 MB: every decoder loads its own copy of the
  /// model, which the library cannot share) and a thread that needs about 0.15 s of CPU per second of audio.
  int max_streams = 4;
};

class pocketsphinx_pool;

/// Streaming recognition with PocketSphinx. 16 kHz only (resample other audio with speech::resample), English
/// only. Each stream has its own worker thread that feeds a decoder from a pool and runs the callbacks; it
/// reports an interim hypothesis when it changes (at most every interim_interval) and one final at finish(),
/// whose confidence is the mean posterior probability of its words. The deadline (max_duration) is checked
/// between 100 ms slices of audio, so it fires late only while a stream waits for a new decoder to load.
/// Safe to use from several threads at once.
class pocketsphinx_engine final : public asr_engine {
 public:
  /// Audio one stream may hold waiting to be recognised: 10 s at 16 kHz. Recognition runs at a fraction of real
  /// time, so a backlog this deep means the machine is overloaded; push() says so instead of letting it grow.
  static constexpr std::size_t max_queued_samples = 160'000;
  /// Decoders kept loaded between streams. Creating one takes 0.3-0.8 s and 95 MB, so two keep a couple of
  /// conversations' next utterances from waiting without holding memory for the busiest moment forever.
  static constexpr std::size_t max_idle_decoders = 2;
  /// The least time between interim hypotheses: reading one walks the search's history, and a display does not
  /// need more than a few updates a second.
  static constexpr std::chrono::milliseconds interim_interval{200};

  /// Loads the model into a first decoder; throws std::runtime_error naming the model path that is missing or
  /// does not load, std::invalid_argument when max_streams < 1 (start-up).
  explicit pocketsphinx_engine(const pocketsphinx_options& options = {});
  ~pocketsphinx_engine() override;
  pocketsphinx_engine(const pocketsphinx_engine&) = delete;
  pocketsphinx_engine& operator=(const pocketsphinx_engine&) = delete;

  std::string_view name() const noexcept override { return "pocketsphinx"; }
  /// errc::invalid_argument unless the rate is 16000, the language English ("en", "en-US", ...) and the
  /// duration positive; errc::unavailable while max_streams streams are open. Never waits for a decoder: a
  /// stream that needs a new one loads it on its own thread while its audio queues.
  core::result<std::unique_ptr<asr_stream>> start(const asr_config& config, asr_handler handler) override;

 private:
  std::shared_ptr<pocketsphinx_pool> pool_;  // shared with the streams, which may outlive the engine
};

}  // namespace mas::speech
