#include "mas/speech/pocketsphinx.hpp"

#include "mas/speech/espeak.hpp"
#include "mas/speech/resample.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mas::speech {
namespace {

using core::errc;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

/// 20 ms at 16 kHz: what a browser or a Unity player captures per buffer.
constexpr std::size_t chunk_samples = 320;
/// espeak-ng's Klatt voice: PocketSphinx recognises it far better than the default voice (see make_wavs.sh).
constexpr const char* voice = "en-us+klatt2";

double seconds_since(clock::time_point start) {
  return std::chrono::duration<double>(clock::now() - start).count();
}

/// One engine per test process: loading the model takes a third of a second or more.
pocketsphinx_engine& engine() {
  static const auto shared = [] {
    const auto start = clock::now();
    auto e = std::make_unique<pocketsphinx_engine>();
    std::printf("[ timing   ] model load (engine with one decoder): %.0f ms\n", seconds_since(start) * 1000);
    return e;
  }();
  return *shared;
}

constexpr const char* safe = "The vaccine is safe and effective.";
constexpr const char* recommend = "I recommend the HPV vaccine today.";
constexpr const char* questions = "Do you have any questions about the vaccine?";
constexpr const char* worries = "What worries you most about the vaccine?";
constexpr const char* side_effects = "Many parents ask me about side effects.";
constexpr const char* long_turn =
    "Hello, I am doctor Lee. Do you have any questions about the vaccine? The vaccine is safe and effective, and "
    "I recommend it today.";

/// `text` (one of the sentences above) spoken by espeak-ng, at 16 kHz. espeak-ng's voice carries state from one
/// utterance to the next, so the same text sounds a little different depending on what was spoken before it:
/// every sentence is synthesised once per process, in this fixed order, so that each test hears the same audio
/// however the tests are selected, ordered or repeated.
const audio& speak(std::string_view text) {
  static const auto spoken = [] {
    espeak_engine espeak;
    std::map<std::string, audio, std::less<>> out;
    for (const char* sentence : {safe, recommend, questions, worries, side_effects, long_turn}) {
      auto at_16k = resample(espeak.synthesize(sentence, voice).value(), 16000);
      out.emplace(sentence, std::move(at_16k.value()));
    }
    return out;
  }();
  const auto found = spoken.find(text);
  if (found == spoken.end()) throw std::logic_error("not in the test's script: " + std::string(text));
  return found->second;
}

/// Collects what a stream reports, in order, with the threads it reports on.
struct recorder {
  std::mutex mutex;
  std::vector<asr_event> events;
  std::set<std::thread::id> threads;
  std::size_t events_before_end = 0;
  std::atomic<int> callbacks{0};
  std::atomic<int> ends{0};
  std::promise<core::result<void>> end;
  std::promise<void> first;

  asr_handler handler() {
    return {[this](asr_event e) {
              std::lock_guard lock(mutex);
              ++callbacks;
              threads.insert(std::this_thread::get_id());
              events.push_back(std::move(e));
              if (events.size() == 1) first.set_value();
            },
            [this](core::result<void> r) {
              {
                std::lock_guard lock(mutex);
                ++callbacks;
                threads.insert(std::this_thread::get_id());
                events_before_end = events.size();
              }
              if (ends.fetch_add(1) == 0) end.set_value(r);
            }};
  }

  std::optional<core::result<void>> wait_end(std::chrono::milliseconds timeout) {
    auto future = end.get_future();
    if (future.wait_for(timeout) != std::future_status::ready) return std::nullopt;
    return future.get();
  }

  bool wait_first(std::chrono::milliseconds timeout) {
    return first.get_future().wait_for(timeout) == std::future_status::ready;
  }

  std::vector<asr_event> snapshot() {
    std::lock_guard lock(mutex);
    return events;
  }

  std::string final_text() {
    std::lock_guard lock(mutex);
    std::string text;
    for (const auto& e : events)
      if (e.is_final) text += (text.empty() ? "" : " ") + e.text;
    return text;
  }
};

/// Pushes `pcm` in 20 ms chunks (faster than real time: recognition catches up), then finishes.
void push_all(asr_stream& stream, std::span<const std::int16_t> pcm) {
  for (std::size_t at = 0; at < pcm.size(); at += chunk_samples)
    ASSERT_TRUE(stream.push(pcm.subspan(at, std::min(chunk_samples, pcm.size() - at))).has_value());
}

/// Pushes `pcm` as a microphone would deliver it, `speedup` times faster than real time.
void push_live(asr_stream& stream, std::span<const std::int16_t> pcm, int speedup) {
  const auto start = clock::now();
  for (std::size_t at = 0; at < pcm.size(); at += chunk_samples) {
    std::this_thread::sleep_until(start + std::chrono::microseconds(at * 1'000'000 / 16000 / speedup));
    ASSERT_TRUE(stream.push(pcm.subspan(at, std::min(chunk_samples, pcm.size() - at))).has_value());
  }
}

struct recognition {
  std::string text;
  float confidence = 0;
  std::size_t interims = 0;
  double seconds = 0;  // from the first push to on_end
};

recognition recognise(std::span<const std::int16_t> pcm) {
  recorder rec;
  recognition out;
  auto stream = engine().start({}, rec.handler());
  EXPECT_TRUE(stream.has_value());
  if (!stream) return out;
  const auto start = clock::now();
  push_all(**stream, pcm);
  (*stream)->finish();
  const auto end = rec.wait_end(20s);
  out.seconds = seconds_since(start);
  EXPECT_TRUE(end.has_value() && end->has_value());
  out.text = rec.final_text();
  for (const auto& e : rec.snapshot()) {
    if (e.is_final) out.confidence = e.confidence;
    out.interims += e.is_final ? 0 : 1;
  }
  return out;
}

bool has_word(const std::string& text, const std::string& word) {
  std::istringstream words(text);
  return std::find(std::istream_iterator<std::string>(words), std::istream_iterator<std::string>(), word) !=
         std::istream_iterator<std::string>();
}

/// The samples of a 16 kHz mono 16-bit PCM WAV file; empty when it is anything else.
std::vector<std::int16_t> read_wav(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const auto u16 = [&](std::size_t at) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at]) | static_cast<unsigned char>(bytes[at + 1])
                                                                                  << 8);
  };
  const auto u32 = [&](std::size_t at) { return u16(at) | u16(at + 2) << 16; };
  if (bytes.size() < 12 || bytes.compare(0, 4, "RIFF") != 0 || bytes.compare(8, 4, "WAVE") != 0) return {};
  bool pcm_16k_mono = false;
  for (std::size_t at = 12; at + 8 <= bytes.size();) {
    const auto id = bytes.substr(at, 4);
    const std::size_t size = u32(at + 4);
    if (at + 8 + size > bytes.size()) return {};
    if (id == "fmt " && size >= 16)
      pcm_16k_mono = u16(at + 8) == 1 && u16(at + 10) == 1 && u32(at + 12) == 16000 && u16(at + 22) == 16;
    if (id == "data") {
      if (!pcm_16k_mono) return {};
      std::vector<std::int16_t> samples(size / 2);
      for (std::size_t i = 0; i < samples.size(); ++i)
        samples[i] = static_cast<std::int16_t>(static_cast<std::uint16_t>(u16(at + 8 + 2 * i)));
      return samples;
    }
    at += 8 + size + (size & 1);
  }
  return {};
}

TEST(pocketsphinx, recognises_spoken_clinic_sentences) {
  struct sentence {
    std::string text;
    std::vector<std::string> key_words;
  };
  // Key words are those this model gets from espeak-ng's voice; "HPV" comes out as other words entirely.
  // Each word came out in all of 25 renditions of its sentence (synthesised in shuffled orders).
  const std::vector<sentence> sentences = {
      {safe, {"vaccine", "safe", "effective"}},
      {recommend, {"recommend", "vaccine", "today"}},
      {questions, {"have", "any", "about"}},  // "questions" is heard as "westerns"
      {worries, {"most", "about", "vaccine"}},
  };
  double audio_seconds = 0;
  double busy_seconds = 0;
  for (const auto& s : sentences) {
    const auto& spoken = speak(s.text);
    const double seconds = static_cast<double>(spoken.samples.size()) / 16000;
    const auto heard = recognise(spoken.samples);
    std::printf("[ heard    ] \"%s\" -> \"%s\" (confidence %.2f, %zu interims, %.2f s audio in %.2f s)\n",
                s.text.c_str(), heard.text.c_str(), static_cast<double>(heard.confidence), heard.interims, seconds,
                heard.seconds);
    for (const auto& word : s.key_words) EXPECT_TRUE(has_word(heard.text, word)) << word << " in " << heard.text;
    EXPECT_GT(heard.confidence, 0.0F);
    EXPECT_LE(heard.confidence, 1.0F);
    audio_seconds += seconds;
    busy_seconds += heard.seconds;
  }
  std::printf("[ timing   ] real-time factor %.2f (%.1f s of audio in %.1f s)\n", busy_seconds / audio_seconds,
              audio_seconds, busy_seconds);
}

TEST(pocketsphinx, recognises_the_clinician_fixture) {
  const auto samples = read_wav(SPARC_FIXTURES_DIR "/clinician-hello.wav");
  ASSERT_GT(samples.size(), 16000U) << "tests/fixtures/clinician-hello.wav: 16 kHz mono 16-bit PCM expected";
  const auto heard = recognise(samples);
  std::printf("[ heard    ] clinician-hello.wav -> \"%s\"\n", heard.text.c_str());
  for (const char* word : {"hello", "doctor", "most", "vaccine"}) EXPECT_TRUE(has_word(heard.text, word)) << word;
}

TEST(pocketsphinx, reports_interims_then_one_final_then_the_end_on_its_own_thread) {
  const auto& spoken = speak(questions);
  recorder rec;
  auto stream = engine().start({}, rec.handler());
  ASSERT_TRUE(stream.has_value());
  push_live(**stream, spoken.samples, 2);  // interims come while audio arrives, every interim_interval at most
  (*stream)->finish();
  const auto end = rec.wait_end(20s);
  ASSERT_TRUE(end.has_value());
  EXPECT_TRUE(end->has_value());
  const auto events = rec.snapshot();
  ASSERT_GE(events.size(), 2U);
  std::printf("[ heard    ] %zu interims, then \"%s\"\n", events.size() - 1, events.back().text.c_str());
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_FALSE(events[i].is_final) << i;
    EXPECT_FALSE(events[i].text.empty()) << i;
    if (i > 0) {
      EXPECT_NE(events[i].text, events[i - 1].text) << "only changes are reported";
    }
  }
  EXPECT_TRUE(events.back().is_final);
  EXPECT_EQ(rec.events_before_end, events.size());
  EXPECT_EQ(rec.ends.load(), 1);
  std::lock_guard lock(rec.mutex);
  ASSERT_EQ(rec.threads.size(), 1U);
  EXPECT_NE(*rec.threads.begin(), std::this_thread::get_id());
}

TEST(pocketsphinx, reports_only_the_final_without_interim_results) {
  const auto& spoken = speak(safe);
  recorder rec;
  auto stream = engine().start({.interim_results = false}, rec.handler());
  ASSERT_TRUE(stream.has_value());
  push_all(**stream, spoken.samples);
  (*stream)->finish();
  ASSERT_TRUE(rec.wait_end(20s).has_value());
  const auto events = rec.snapshot();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_TRUE(events[0].is_final);
}

TEST(pocketsphinx, ends_without_a_final_when_nothing_was_said) {
  recorder rec;
  auto stream = engine().start({}, rec.handler());
  ASSERT_TRUE(stream.has_value());
  (*stream)->finish();
  const auto end = rec.wait_end(10s);
  ASSERT_TRUE(end.has_value());
  EXPECT_TRUE(end->has_value());
  EXPECT_TRUE(rec.snapshot().empty());
}

TEST(pocketsphinx, cancel_midway_returns_promptly_and_silences_the_stream) {
  const auto& spoken = speak(long_turn);
  recorder rec;
  auto stream = engine().start({}, rec.handler());
  ASSERT_TRUE(stream.has_value());
  push_all(**stream, spoken.samples);
  ASSERT_TRUE(rec.wait_first(10s));  // midway: recognition is running
  const auto start = clock::now();
  (*stream)->cancel();
  const double took = seconds_since(start);
  std::printf("[ timing   ] cancel() took %.1f ms\n", took * 1000);
  EXPECT_LT(took, 0.25);
  const int callbacks = rec.callbacks.load();
  (*stream)->cancel();  // idempotent
  EXPECT_EQ((*stream)->push(spoken.samples).error(), errc::unavailable);
  stream->reset();  // joins the worker: anything it still did would show now
  EXPECT_EQ(rec.callbacks.load(), callbacks);
  EXPECT_EQ(rec.ends.load(), 0);
}

TEST(pocketsphinx, a_callback_may_cancel_its_own_stream) {
  const auto& spoken = speak(questions);
  std::promise<void> cancelled;
  std::atomic<int> callbacks{0};
  std::unique_ptr<asr_stream> stream;
  auto started = engine().start({}, {[&](const asr_event&) {
                                       if (callbacks.fetch_add(1) == 0) {
                                         stream->cancel();
                                         cancelled.set_value();
                                       }
                                     },
                                     [&](core::result<void>) { callbacks.fetch_add(1); }});
  ASSERT_TRUE(started.has_value());
  stream = std::move(*started);
  push_all(*stream, spoken.samples);
  stream->finish();
  ASSERT_EQ(cancelled.get_future().wait_for(10s), std::future_status::ready);
  stream.reset();
  EXPECT_EQ(callbacks.load(), 1);
}

TEST(pocketsphinx, refuses_audio_after_finish) {
  recorder rec;
  auto stream = engine().start({}, rec.handler());
  ASSERT_TRUE(stream.has_value());
  const std::vector<std::int16_t> silence(chunk_samples);
  ASSERT_TRUE((*stream)->push(silence).has_value());
  (*stream)->finish();
  EXPECT_EQ((*stream)->push(silence).error(), errc::invalid_argument);
  ASSERT_TRUE(rec.wait_end(10s).has_value());
  EXPECT_EQ((*stream)->push(silence).error(), errc::invalid_argument);
}

TEST(pocketsphinx, refuses_an_unusable_config) {
  recorder rec;
  for (const int rate : {8000, 22050, 44100, 48000, 0})
    EXPECT_EQ(engine().start({.sample_rate = rate}, rec.handler()).error(), errc::invalid_argument) << rate;
  EXPECT_EQ(engine().start({.language = "de-DE"}, rec.handler()).error(), errc::invalid_argument);
  EXPECT_EQ(engine().start({.language = "e"}, rec.handler()).error(), errc::invalid_argument);
  EXPECT_EQ(engine().start({.language = "eng"}, rec.handler()).error(), errc::invalid_argument);
  EXPECT_EQ(engine().start({.max_duration = 0ms}, rec.handler()).error(), errc::invalid_argument);
  EXPECT_TRUE(engine().start({.language = "en-GB"}, rec.handler()).has_value());
  EXPECT_TRUE(engine().start({.language = "EN"}, rec.handler()).has_value());
}

TEST(pocketsphinx, a_stream_left_open_ends_at_its_deadline) {
  recorder rec;
  auto& asr = engine();  // loaded before the clock starts
  const auto start = clock::now();
  auto stream = asr.start({.max_duration = 300ms}, rec.handler());
  ASSERT_TRUE(stream.has_value());
  ASSERT_TRUE((*stream)->push(std::vector<std::int16_t>(1600)).has_value());
  const auto end = rec.wait_end(5s);
  ASSERT_TRUE(end.has_value());
  ASSERT_FALSE(end->has_value());
  EXPECT_EQ(end->error(), errc::timed_out);
  EXPECT_GE(seconds_since(start), 0.29);
  EXPECT_LT(seconds_since(start), 2.0);
  EXPECT_EQ((*stream)->push(std::vector<std::int16_t>(1600)).error(), errc::unavailable);
}

TEST(pocketsphinx, earlier_streams_leave_the_next_one_unaffected) {
  // The decoder adapts to a voice (cepstral mean, noise level) as it goes; a reused one must start afresh.
  const auto& spoken = speak(worries);
  const auto before = recognise(spoken.samples);
  (void)recognise(speak(side_effects).samples);
  recorder rec;
  {
    auto started_only = engine().start({}, rec.handler());
    ASSERT_TRUE(started_only.has_value());
  }
  {
    auto midway = engine().start({}, rec.handler());
    ASSERT_TRUE(midway.has_value());
    push_all(**midway, speak(long_turn).samples);
  }  // destroyed mid-utterance: no finish()
  EXPECT_EQ(rec.ends.load(), 0);
  const auto after = recognise(spoken.samples);
  EXPECT_EQ(after.text, before.text);  // the same decoder, with no trace of what it heard before
}

TEST(pocketsphinx, bounds_the_audio_waiting_to_be_recognised) {
  recorder rec;
  auto stream = engine().start({}, rec.handler());
  ASSERT_TRUE(stream.has_value());
  const std::vector<std::int16_t> too_much(pocketsphinx_engine::max_queued_samples + 1);
  EXPECT_EQ((*stream)->push(too_much).error(), errc::too_large);
  // Pushed far faster than recognised (microseconds for what takes the decoder seconds): the queue fills.
  const std::vector<std::int16_t> chunk(chunk_samples);
  std::size_t accepted = 0;
  bool limited = false;
  for (std::size_t i = 0; i < 2 * pocketsphinx_engine::max_queued_samples / chunk_samples && !limited; ++i) {
    const auto pushed = (*stream)->push(chunk);
    if (pushed) {
      accepted += chunk_samples;
    } else {
      EXPECT_EQ(pushed.error(), errc::rate_limited);
      limited = true;
    }
  }
  EXPECT_TRUE(limited);
  EXPECT_LT(accepted, 2 * pocketsphinx_engine::max_queued_samples);
}

TEST(pocketsphinx, limits_the_streams_open_at_once) {
  pocketsphinx_engine one({.max_streams = 1});
  recorder rec;
  auto first = one.start({}, rec.handler());
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(one.start({}, rec.handler()).error(), errc::unavailable);
  first->reset();
  EXPECT_TRUE(one.start({}, rec.handler()).has_value());  // the place is free again
}

TEST(pocketsphinx, names_a_missing_model) {
  try {
    pocketsphinx_engine missing({.model_dir = "/nonexistent/pocketsphinx-model"});
    FAIL() << "constructed without a model";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/pocketsphinx-model"), std::string::npos) << e.what();
  }
  EXPECT_THROW(pocketsphinx_engine({.max_streams = 0}), std::invalid_argument);
}

}  // namespace
}  // namespace mas::speech
