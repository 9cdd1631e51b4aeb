#include "mas/speech/pocketsphinx.hpp"

#include "core/log.hpp"

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/err.h>
#include <sphinxbase/feat.h>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#ifndef SPARC_POCKETSPHINX_MODEL_DIR
#error "SPARC_POCKETSPHINX_MODEL_DIR must name the default model directory (set by src/mas/CMakeLists.txt)"
#endif

namespace mas::speech {

namespace {

using clock = std::chrono::steady_clock;

/// The only rate the en-us acoustic model was trained at.
constexpr int model_rate = 16000;
/// Audio handed to the decoder per call: 100 ms, about 15 ms of CPU, so that cancel() and the deadline are
/// noticed promptly however large the caller's chunks are.
constexpr std::size_t slice_samples = 1600;
/// Active HMMs per frame. The library's default (30000) hardly prunes; 3000 recognised our clinic sentences
/// word for word the same in a third of the CPU time.
constexpr const char* max_hmms_per_frame = "3000";
/// A stream's deadline is computed from now; this keeps an absurd max_duration from overflowing the clock.
constexpr std::chrono::hours longest_stream{24};

struct decoder_deleter {
  void operator()(ps_decoder_t* d) const noexcept { ps_free(d); }
};
struct config_deleter {
  void operator()(cmd_ln_t* c) const noexcept { cmd_ln_free_r(c); }
};
using decoder_ptr = std::unique_ptr<ps_decoder_t, decoder_deleter>;
using config_ptr = std::unique_ptr<cmd_ln_t, config_deleter>;

/// A loaded decoder and what each new utterance resets.
struct decoder {
  decoder_ptr ps;
  /// The cepstral mean a fresh decoder starts from. The decoder adapts it to each utterance's voice and channel
  /// and carries it over, as it does its noise estimate; resetting both makes each stream's result independent
  /// of the streams before it (another speaker's, possibly).
  std::vector<mfcc_t> cmn_start;
  /// Cancelled or timed out mid-utterance: the next take() ends it, so that cancel() does not wait for the
  /// end-of-utterance search.
  bool in_utterance = false;
};

double elapsed_ms(clock::time_point since) {
  return std::chrono::duration<double, std::milli>(clock::now() - since).count();
}

/// "en", "en-US", "en_GB", ...: the model is US English, which serves other English best of what we have.
bool is_english(std::string_view language) {
  if (language.size() < 2) return false;
  if (std::tolower(static_cast<unsigned char>(language[0])) != 'e' ||
      std::tolower(static_cast<unsigned char>(language[1])) != 'n')
    return false;
  return language.size() == 2 || language[2] == '-' || language[2] == '_';
}

/// Silence markers (<s>, </s>, <sil>) and noise words ([NOISE], +SPN+) in a segmentation.
bool is_filler(std::string_view word) {
  return word.empty() || word.front() == '<' || word.front() == '[' || word.front() == '+';
}

/// The mean posterior probability of the recognised words, from the final lattice. The utterance's own
/// posterior (ps_get_prob) shrinks with every word and is below 0.05 even for a sentence recognised exactly.
float word_confidence(ps_decoder_t* ps) {
  logmath_t* const math = ps_get_logmath(ps);
  double sum = 0;
  int words = 0;
  for (ps_seg_t* seg = ps_seg_iter(ps); seg != nullptr; seg = ps_seg_next(seg)) {
    if (is_filler(ps_seg_word(seg))) continue;
    int32 acoustic = 0;
    int32 language = 0;
    int32 backoff = 0;
    sum += logmath_exp(math, ps_seg_prob(seg, &acoustic, &language, &backoff));
    ++words;
  }
  return words == 0 ? 0.0F : static_cast<float>(std::clamp(sum / words, 0.0, 1.0));
}

std::shared_ptr<spdlog::logger> logger() {
  return core::log::get("mas");
}

/// Starts an utterance as if on a fresh decoder.
bool begin_utterance(decoder& d) {
  if (ps_start_stream(d.ps.get()) < 0) return false;  // forgets the noise estimate
  if (feat_t* const feat = ps_get_feat(d.ps.get()); feat->cmn_struct != nullptr && !d.cmn_start.empty())
    cmn_live_set(feat->cmn_struct, d.cmn_start.data());
  if (ps_start_utt(d.ps.get()) < 0) return false;
  d.in_utterance = true;
  return true;
}

}  // namespace

/// Decoders between streams, and the count of open streams. Every decoder loads its own copy of the model
/// (the library has no way to share one), so they are loaded once and reused.
class pocketsphinx_pool {
 public:
  explicit pocketsphinx_pool(const pocketsphinx_options& options)
      : model_dir_(options.model_dir.string()),
        hmm_((options.model_dir / "en-us").string()),
        lm_((options.model_dir / "en-us.lm.bin").string()),
        dict_((options.model_dir / "cmudict-en-us.dict").string()),
        max_streams_(options.max_streams) {
    if (max_streams_ < 1) throw std::invalid_argument("pocketsphinx: max_streams must be at least 1");
    // The library reports every setting and model statistic on stderr; failures are checked and logged here.
    static std::once_flag quiet;
    std::call_once(quiet, [] { err_set_logfp(nullptr); });
    for (const auto& path : {options.model_dir / "en-us" / "mdef", options.model_dir / "en-us.lm.bin",
                             options.model_dir / "cmudict-en-us.dict"}) {
      std::error_code ec;
      if (!std::filesystem::is_regular_file(path, ec))
        throw std::runtime_error("pocketsphinx: model file " + path.string() +
                                 " is missing (install pocketsphinx-en-us, or set the model directory)");
    }
    const auto start = clock::now();
    auto first = load();
    if (!first.ps) throw std::runtime_error("pocketsphinx: cannot load the model in " + model_dir_);
    core::log::event(*logger(), spdlog::level::info, "pocketsphinx_ready",
                     {{"model_dir", model_dir_}, {"load_ms", elapsed_ms(start)}});
    idle_.push_back(std::move(first));
  }

  /// Takes one of max_streams places; false when all are taken.
  bool reserve() {
    std::lock_guard lock(mutex_);
    if (open_ >= max_streams_) return false;
    ++open_;
    return true;
  }

  /// A decoder between utterances: an idle one, else a new one (slow; one load at a time, skipped once `wanted`
  /// says no). Empty when the model does not load (logged).
  template <class Wanted>
  decoder take(Wanted wanted) {
    auto d = take_idle();
    if (!d.ps) {
      std::lock_guard load_lock(load_mutex_);
      d = take_idle();  // one may have come back while this waited
      if (!d.ps && wanted()) {
        d = load();
        if (!d.ps)
          core::log::event(*logger(), spdlog::level::warn, "pocketsphinx_load_failed", {{"model_dir", model_dir_}});
      }
      if (!d.ps) return {};
    }
    if (d.in_utterance) {
      ps_end_utt(d.ps.get());
      d.in_utterance = false;
    }
    return d;
  }

  /// Releases a reserved place, keeping its decoder (if any) for the next stream while few are idle.
  void give_back(decoder d) {
    std::unique_lock lock(mutex_);
    --open_;
    if (d.ps && idle_.size() < pocketsphinx_engine::max_idle_decoders) idle_.push_back(std::move(d));
    lock.unlock();
    // A decoder not kept is freed here, outside the lock.
  }

 private:
  decoder take_idle() {
    std::lock_guard lock(mutex_);
    if (idle_.empty()) return {};
    auto d = std::move(idle_.back());
    idle_.pop_back();
    return d;
  }

  decoder load() {
    const auto start = clock::now();
    const config_ptr config(cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", hmm_.c_str(), "-lm", lm_.c_str(), "-dict",
                                        dict_.c_str(), "-maxhmmpf", max_hmms_per_frame, nullptr));
    decoder d;
    if (config) d.ps.reset(ps_init(config.get()));  // the decoder keeps its own reference to the config
    if (!d.ps) return {};
    if (feat_t* const feat = ps_get_feat(d.ps.get()); feat->cmn_struct != nullptr) {
      d.cmn_start.resize(static_cast<std::size_t>(feat_cepsize(feat)));
      cmn_live_get(feat->cmn_struct, d.cmn_start.data());
    }
    core::log::event(*logger(), spdlog::level::debug, "pocketsphinx_decoder_loaded", {{"load_ms", elapsed_ms(start)}});
    return d;
  }

  const std::string model_dir_;
  const std::string hmm_;
  const std::string lm_;
  const std::string dict_;
  const int max_streams_;
  std::mutex mutex_;
  std::vector<decoder> idle_;
  int open_ = 0;
  std::mutex load_mutex_;  // one load at a time: each is CPU-bound, and the library does not say that
                           // concurrent loads are safe
};

namespace {

class pocketsphinx_stream;
/// The stream whose worker this thread is: cancel() from inside a callback must not wait for itself.
thread_local const pocketsphinx_stream* t_working = nullptr;

/// One utterance. push() appends to `pending_`; the worker swaps it out, feeds the decoder in slices, and runs
/// every callback. cancel() waits only for a callback in progress, never for the decoder.
class pocketsphinx_stream final : public asr_stream {
 public:
  pocketsphinx_stream(std::shared_ptr<pocketsphinx_pool> pool, const asr_config& config, asr_handler handler)
      : pool_(std::move(pool)),
        handler_(std::move(handler)),
        interim_results_(config.interim_results),
        deadline_(clock::now() + std::min<std::chrono::milliseconds>(config.max_duration, longest_stream)),
        worker_([this] { run(); }) {}

  pocketsphinx_stream(const pocketsphinx_stream&) = delete;
  pocketsphinx_stream& operator=(const pocketsphinx_stream&) = delete;

  ~pocketsphinx_stream() override {
    cancel();
    worker_.join();  // within one slice, or one model load when the pool had no idle decoder
  }

  core::result<void> push(std::span<const std::int16_t> samples) override {
    std::unique_lock lock(mutex_);
    if (finishing_) return core::make_error_code(core::errc::invalid_argument);
    if (ended_) return core::make_error_code(core::errc::unavailable);
    if (samples.size() > pocketsphinx_engine::max_queued_samples) return core::make_error_code(core::errc::too_large);
    if (backlog_ + samples.size() > pocketsphinx_engine::max_queued_samples)
      return core::make_error_code(core::errc::rate_limited);
    if (samples.empty()) return {};
    pending_.insert(pending_.end(), samples.begin(), samples.end());
    backlog_ += samples.size();
    lock.unlock();
    wake_.notify_one();
    return {};
  }

  void finish() override {
    {
      std::lock_guard lock(mutex_);
      finishing_ = true;
    }
    wake_.notify_one();
  }

  void cancel() override {
    std::unique_lock lock(mutex_);
    cancelled_ = true;
    ended_ = true;
    wake_.notify_one();
    if (t_working == this) return;  // inside our own callback: the worker stops once it returns
    callback_done_.wait(lock, [this] { return !in_callback_; });
  }

 private:
  void run() {
    t_working = this;
    auto d = pool_->take([this] { return !cancelled(); });
    std::optional<core::result<void>> outcome;
    if (!d.ps) {
      outcome = core::make_error_code(core::errc::unavailable);  // the load failed (logged), or cancelled before
    } else if (!begin_utterance(d)) {
      core::log::event(*logger(), spdlog::level::warn, "pocketsphinx_decode_failed", {{"step", "start"}});
      d.ps.reset();  // not one to keep
      outcome = core::make_error_code(core::errc::unavailable);
    } else {
      outcome = recognise(d);
    }
    {
      std::lock_guard lock(mutex_);
      ended_ = true;
    }
    // Before on_end, so that a consumer starting its next stream from on_end finds the decoder and the place.
    pool_->give_back(std::move(d));
    if (outcome)
      deliver([&] {
        if (handler_.on_end) handler_.on_end(*outcome);
      });
  }

  /// Feeds the decoder until finish() (then the final), the deadline or cancel(). How the stream ended, or
  /// nothing when it was cancelled.
  std::optional<core::result<void>> recognise(decoder& d) {
    ps_decoder_t* const ps = d.ps.get();
    std::vector<std::int16_t> batch;
    std::string last_interim;
    clock::time_point next_interim{};
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        const bool ready =
            wake_.wait_until(lock, deadline_, [this] { return cancelled_ || finishing_ || !pending_.empty(); });
        if (cancelled_) return std::nullopt;
        if (!ready) return core::make_error_code(core::errc::timed_out);
        batch.clear();
        batch.swap(pending_);
      }
      if (batch.empty()) break;  // finishing, and every pushed sample is recognised
      for (std::size_t at = 0; at < batch.size(); at += slice_samples) {
        if (cancelled()) return std::nullopt;
        const auto now = clock::now();
        if (now >= deadline_) return core::make_error_code(core::errc::timed_out);
        const auto n = std::min(slice_samples, batch.size() - at);
        if (ps_process_raw(ps, batch.data() + at, n, FALSE, FALSE) < 0) {
          core::log::event(*logger(), spdlog::level::warn, "pocketsphinx_decode_failed", {{"step", "process"}});
          return core::make_error_code(core::errc::unavailable);
        }
        {
          std::lock_guard lock(mutex_);
          backlog_ -= n;
        }
        if (!interim_results_ || now < next_interim) continue;
        next_interim = now + pocketsphinx_engine::interim_interval;
        int32 score = 0;
        const char* const hyp = ps_get_hyp(ps, &score);
        if (hyp == nullptr || *hyp == '\0' || last_interim == hyp) continue;
        last_interim = hyp;
        if (!deliver([&] {
              if (handler_.on_event) handler_.on_event(asr_event{false, last_interim, 0});
            }))
          return std::nullopt;
      }
    }
    if (ps_end_utt(ps) < 0) {
      core::log::event(*logger(), spdlog::level::warn, "pocketsphinx_decode_failed", {{"step", "end"}});
      return core::make_error_code(core::errc::unavailable);
    }
    d.in_utterance = false;
    int32 score = 0;
    const char* const hyp = ps_get_hyp(ps, &score);
    if (hyp != nullptr && *hyp != '\0') {
      asr_event final_event{true, hyp, word_confidence(ps)};
      if (!deliver([&] {
            if (handler_.on_event) handler_.on_event(std::move(final_event));
          }))
        return std::nullopt;
    }
    return core::result<void>();
  }

  /// Runs one callback unless the stream is cancelled; false when it is.
  template <class Call>
  bool deliver(Call call) {
    {
      std::lock_guard lock(mutex_);
      if (cancelled_) return false;
      in_callback_ = true;
    }
    call();
    {
      std::lock_guard lock(mutex_);
      in_callback_ = false;
    }
    callback_done_.notify_all();
    return true;
  }

  bool cancelled() {
    std::lock_guard lock(mutex_);
    return cancelled_;
  }

  std::shared_ptr<pocketsphinx_pool> pool_;
  asr_handler handler_;
  const bool interim_results_;
  const clock::time_point deadline_;
  std::mutex mutex_;
  std::condition_variable wake_;           // the worker: audio, finish() or cancel()
  std::condition_variable callback_done_;  // cancel(): the callback in progress returned
  std::vector<std::int16_t> pending_;      // pushed, not yet taken by the worker
  std::size_t backlog_ = 0;                // pushed, not yet recognised
  bool finishing_ = false;
  bool ended_ = false;      // cancelled, or the worker is done: push() is refused
  bool cancelled_ = false;  // no more callbacks
  bool in_callback_ = false;
  std::thread worker_;  // last: it starts running in the constructor
};

}  // namespace

std::filesystem::path pocketsphinx_default_model_dir() {
  return SPARC_POCKETSPHINX_MODEL_DIR;
}

pocketsphinx_engine::pocketsphinx_engine(const pocketsphinx_options& options)
    : pool_(std::make_shared<pocketsphinx_pool>(options)) {}

pocketsphinx_engine::~pocketsphinx_engine() = default;

core::result<std::unique_ptr<asr_stream>> pocketsphinx_engine::start(const asr_config& config, asr_handler handler) {
  if (config.sample_rate != model_rate || !is_english(config.language) ||
      config.max_duration <= std::chrono::milliseconds::zero())
    return core::make_error_code(core::errc::invalid_argument);
  if (!pool_->reserve()) return core::make_error_code(core::errc::unavailable);
  try {
    return std::unique_ptr<asr_stream>(std::make_unique<pocketsphinx_stream>(pool_, config, std::move(handler)));
  } catch (...) {
    pool_->give_back({});  // the thread did not start
    throw;
  }
}

}  // namespace mas::speech
