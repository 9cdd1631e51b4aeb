#include "mas/speech/riva.hpp"

#include "support/riva_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <optional>
#include <string>

namespace mas::speech {
namespace {

using core::errc;
using namespace std::chrono_literals;
using sparc_test::riva_server;

std::shared_ptr<grpc::Channel> channel_to(const std::string& address) {
  auto channel = open_riva_channel({.address = address});
  EXPECT_TRUE(channel.has_value());
  return *channel;
}

/// An address where nothing listens: a fake's port after the fake has stopped.
std::string dead_address() {
  std::string address;
  {
    riva_server gone;
    address = gone.address();
  }
  return address;
}

std::uint32_t le32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
  return v;
}

std::chrono::milliseconds since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

/// Collects what a recognition stream reports.
struct recorder {
  std::mutex mutex;
  std::vector<asr_event> events;
  std::promise<core::result<void>> end;
  std::atomic<int> ends{0};
  std::promise<void> first;  // the first event: the server has the stream and its audio

  asr_handler handler() {
    return {[this](asr_event e) {
              std::lock_guard lock(mutex);
              events.push_back(std::move(e));
              if (events.size() == 1) first.set_value();
            },
            [this](core::result<void> r) {
              if (ends.fetch_add(1) == 0) end.set_value(r);
            }};
  }

  /// The end the stream reported, or nothing if it did not end within `timeout`.
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
};

std::vector<std::int16_t> tone(std::size_t n) {
  std::vector<std::int16_t> s(n);
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<std::int16_t>((i * 37) % 2000);
  return s;
}

// --- status translation -------------------------------------------------------------------------------------

TEST(riva_errc, translates_the_statuses_riva_returns) {
  EXPECT_EQ(riva_errc(0), errc::ok);
  EXPECT_EQ(riva_errc(3), errc::invalid_argument);  // INVALID_ARGUMENT: no model for the language
  EXPECT_EQ(riva_errc(4), errc::timed_out);         // DEADLINE_EXCEEDED
  EXPECT_EQ(riva_errc(8), errc::too_large);         // RESOURCE_EXHAUSTED: message over the limit
  EXPECT_EQ(riva_errc(12), errc::unsupported);      // UNIMPLEMENTED
  EXPECT_EQ(riva_errc(14), errc::unavailable);      // UNAVAILABLE
  EXPECT_EQ(riva_errc(13), errc::unavailable);      // INTERNAL
  EXPECT_EQ(riva_errc(1), errc::unavailable);       // CANCELLED by the server side
  EXPECT_EQ(riva_errc(99), errc::unavailable);      // a code from the future
}

TEST(riva_channel, refuses_an_unreadable_ca_file) {
  const auto channel = open_riva_channel({.address = "127.0.0.1:1", .tls = true, .ca_file = "/nonexistent/ca.pem"});
  ASSERT_FALSE(channel.has_value());
  EXPECT_EQ(channel.error(), errc::io_error);
}

// --- TTS ----------------------------------------------------------------------------------------------------

TEST(riva_tts, synthesizes_pcm_that_wraps_into_a_correct_wav) {
  riva_server server;
  riva_tts tts(channel_to(server.address()), {.sample_rate = 22050});
  const auto a = tts.synthesize("Hello there.", "English-US.Female-1");
  ASSERT_TRUE(a.has_value()) << a.error().message();
  EXPECT_EQ(a->sample_rate, 22050);
  EXPECT_EQ(a->samples, sparc_test::riva_fake_pcm("Hello there.", 22050));  // byte order and length survive

  const auto wav = to_wav(*a);
  ASSERT_EQ(wav.size(), 44 + 2 * a->samples.size());
  EXPECT_EQ(wav.substr(0, 4), "RIFF");
  EXPECT_EQ(wav.substr(8, 8), "WAVEfmt ");
  EXPECT_EQ(le32(wav, 24), 22050U);
  EXPECT_EQ(wav.substr(36, 4), "data");
  EXPECT_EQ(le32(wav, 40), 2 * a->samples.size());
}

TEST(riva_tts, passes_voice_language_and_rate_through) {
  riva_server server;
  riva_tts tts(channel_to(server.address()), {.language = "en-GB", .sample_rate = 16000});
  ASSERT_TRUE(tts.synthesize("One.", "English-US.Male-1").has_value());
  ASSERT_TRUE(tts.synthesize("Two.", "").has_value());
  const auto seen = server.tts_requests();
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[0].text, "One.");
  EXPECT_EQ(seen[0].voice, "English-US.Male-1");
  EXPECT_EQ(seen[0].language, "en-GB");
  EXPECT_EQ(seen[0].sample_rate, 16000);
  EXPECT_EQ(seen[0].encoding, 1);  // LINEAR_PCM
  EXPECT_EQ(seen[1].voice, "");    // the server's default voice
}

TEST(riva_tts, streams_chunks_that_concatenate_to_the_utterance) {
  riva_server server;
  riva_tts tts(channel_to(server.address()), {.sample_rate = 16000});
  std::vector<std::int16_t> all;
  int chunks = 0;
  const auto r = tts.synthesize_online("A longer sentence to speak.", "English-US.Female-1", [&](audio a) {
    EXPECT_EQ(a.sample_rate, 16000);
    all.insert(all.end(), a.samples.begin(), a.samples.end());
    ++chunks;
    return true;
  });
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(all, sparc_test::riva_fake_pcm("A longer sentence to speak.", 16000));
  EXPECT_EQ(chunks, 3);  // 27 bytes of text = 270 ms, sent in 100 ms chunks
  ASSERT_EQ(server.tts_requests().size(), 1U);
  EXPECT_TRUE(server.tts_requests()[0].online);
}

TEST(riva_tts, stops_streaming_when_the_consumer_says_so) {
  riva_server server;
  riva_tts tts(channel_to(server.address()), {.sample_rate = 16000});
  int chunks = 0;
  const auto r = tts.synthesize_online("A longer sentence to speak.", "", [&](const audio&) { return ++chunks < 1; });
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(chunks, 1);
}

TEST(riva_tts, times_out_at_its_deadline) {
  riva_server server;
  server.set_faults({.delay = 10s});
  riva_tts tts(channel_to(server.address()), {.deadline = 200ms});
  const auto start = std::chrono::steady_clock::now();
  const auto a = tts.synthesize("Hello.", "");
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error(), errc::timed_out);
  EXPECT_GE(since(start), 190ms);
  EXPECT_LT(since(start), 2s);
  const auto online = tts.synthesize_online("Hello.", "", [](const audio&) { return true; });
  ASSERT_FALSE(online.has_value());
  EXPECT_EQ(online.error(), errc::timed_out);
}

TEST(riva_tts, fails_fast_when_nothing_listens) {
  riva_tts tts(channel_to(dead_address()), {.deadline = 10s});
  const auto start = std::chrono::steady_clock::now();
  const auto a = tts.synthesize("Hello.", "");
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error(), errc::unavailable);
  EXPECT_LT(since(start), 2s);  // refused at once, not after the 10 s deadline
}

TEST(riva_tts, reports_server_errors) {
  riva_server server;
  auto channel = channel_to(server.address());
  server.set_faults({.unavailable = true});
  riva_tts tts(channel, {});
  EXPECT_EQ(tts.synthesize("Hello.", "").error(), errc::unavailable);
  server.set_faults({});
  riva_tts low(channel, {.sample_rate = 4000});  // the fake, like Riva, has no model for that
  EXPECT_EQ(low.synthesize("Hello.", "").error(), errc::invalid_argument);
  EXPECT_EQ(low.synthesize("", "").error(), errc::invalid_argument);  // not even sent
}

// --- health -------------------------------------------------------------------------------------------------

TEST(riva_health, is_ready_only_while_serving) {
  riva_server server;
  riva_health health(channel_to(server.address()), 500ms);
  EXPECT_TRUE(health.check().has_value());
  server.set_faults({.serving = false});
  EXPECT_EQ(health.check().error(), errc::unavailable);
  server.set_faults({.delay = 5s});
  EXPECT_EQ(health.check().error(), errc::timed_out);
  server.set_faults({});
  EXPECT_TRUE(health.check().has_value());
}

TEST(riva_health, is_not_ready_when_nothing_listens) {
  riva_health health(channel_to(dead_address()), 2s);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(health.check().error(), errc::unavailable);
  EXPECT_LT(since(start), 1s);
}

// --- streaming ASR ------------------------------------------------------------------------------------------

TEST(riva_asr, delivers_interim_then_final_transcripts) {
  riva_server server;
  riva_asr asr(channel_to(server.address()));
  recorder rec;
  auto stream = asr.start({.sample_rate = 16000, .interim_results = true}, rec.handler());
  ASSERT_TRUE(stream.has_value());
  const auto chunk = tone(1600);  // 100 ms, as Riva's clients send
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*stream)->push(chunk).has_value());
  (*stream)->finish();
  const auto end = rec.wait_end(5s);
  ASSERT_TRUE(end.has_value());
  EXPECT_TRUE(end->has_value()) << end->error().message();

  const auto events = rec.snapshot();
  ASSERT_GE(events.size(), 2U);
  for (std::size_t i = 0; i + 1 < events.size(); ++i) EXPECT_FALSE(events[i].is_final);
  EXPECT_EQ(events.front().text, sparc_test::riva_fake_transcript(1600));
  EXPECT_TRUE(events.back().is_final);
  EXPECT_EQ(events.back().text, sparc_test::riva_fake_transcript(16000));  // every sample arrived
  EXPECT_FLOAT_EQ(events.back().confidence, 0.9F);

  ASSERT_TRUE(server.wait_for_asr_streams(1, 2s));
  const auto seen = server.asr_streams()[0];
  EXPECT_EQ(seen.sample_rate, 16000);
  EXPECT_EQ(seen.language, "en-US");
  EXPECT_EQ(seen.encoding, 1);
  EXPECT_TRUE(seen.interim_results);
  EXPECT_EQ(seen.audio_bytes, 32000U);
  EXPECT_TRUE(seen.half_closed);
  EXPECT_FALSE(seen.cancelled);
  EXPECT_EQ((*stream)->push(chunk).error(), errc::unavailable);  // the stream is over
}

TEST(riva_asr, sends_only_finals_without_interim_results) {
  riva_server server;
  server.set_faults({.transcript = "I feel fine."});
  riva_asr asr(channel_to(server.address()));
  recorder rec;
  auto stream = asr.start({.sample_rate = 8000, .interim_results = false}, rec.handler());
  ASSERT_TRUE(stream.has_value());
  ASSERT_TRUE((*stream)->push(tone(800)).has_value());
  (*stream)->finish();
  EXPECT_EQ((*stream)->push(tone(800)).error(), errc::invalid_argument);  // after finish()
  const auto end = rec.wait_end(5s);
  ASSERT_TRUE(end.has_value());
  EXPECT_TRUE(end->has_value());
  const auto events = rec.snapshot();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_TRUE(events[0].is_final);
  EXPECT_EQ(events[0].text, "I feel fine.");
}

TEST(riva_asr, cancels_midway_without_hanging_and_the_server_sees_it) {
  riva_server server;
  riva_asr asr(channel_to(server.address()));
  recorder rec;
  auto stream = asr.start({}, rec.handler());
  ASSERT_TRUE(stream.has_value());
  ASSERT_TRUE((*stream)->push(tone(1600)).has_value());
  ASSERT_TRUE(rec.wait_first(5s));  // midway: the server is answering
  const auto start = std::chrono::steady_clock::now();
  (*stream)->cancel();
  EXPECT_LT(since(start), 1s);
  (*stream)->cancel();  // idempotent
  EXPECT_EQ((*stream)->push(tone(1600)).error(), errc::unavailable);
  ASSERT_TRUE(server.wait_for_asr_streams(1, 2s));
  EXPECT_TRUE(server.asr_streams()[0].cancelled);
  EXPECT_FALSE(server.asr_streams()[0].half_closed);
  EXPECT_EQ(rec.ends.load(), 0);  // a cancelled stream does not report an end
}

TEST(riva_asr, destroying_an_open_stream_cancels_it) {
  riva_server server;
  riva_asr asr(channel_to(server.address()));
  recorder rec;
  {
    auto stream = asr.start({}, rec.handler());
    ASSERT_TRUE(stream.has_value());
    ASSERT_TRUE((*stream)->push(tone(1600)).has_value());
    ASSERT_TRUE(rec.wait_first(5s));
  }
  ASSERT_TRUE(server.wait_for_asr_streams(1, 2s));
  EXPECT_TRUE(server.asr_streams()[0].cancelled);
}

TEST(riva_asr, a_callback_may_cancel_its_own_stream) {
  riva_server server;
  riva_asr asr(channel_to(server.address()));
  std::promise<void> first;
  std::atomic<int> events{0};
  std::unique_ptr<asr_stream> stream;
  auto started = asr.start({}, {[&](const asr_event&) {
                                  if (events.fetch_add(1) == 0) {
                                    stream->cancel();
                                    first.set_value();
                                  }
                                },
                                [](core::result<void>) {}});
  ASSERT_TRUE(started.has_value());
  stream = std::move(*started);
  for (int i = 0; i < 5; ++i) (void)stream->push(tone(1600));
  ASSERT_EQ(first.get_future().wait_for(5s), std::future_status::ready);
  stream->cancel();  // joins the reader that cancelled itself
  EXPECT_EQ(events.load(), 1);
  ASSERT_TRUE(server.wait_for_asr_streams(1, 2s));
  EXPECT_TRUE(server.asr_streams()[0].cancelled);
}

TEST(riva_asr, a_stalled_stream_ends_at_its_deadline) {
  riva_server server;
  server.set_faults({.delay = 30s});
  riva_asr asr(channel_to(server.address()));
  recorder rec;
  const auto start = std::chrono::steady_clock::now();
  auto stream = asr.start({.max_duration = 300ms}, rec.handler());
  ASSERT_TRUE(stream.has_value());
  ASSERT_TRUE((*stream)->push(tone(1600)).has_value());
  const auto end = rec.wait_end(5s);
  ASSERT_TRUE(end.has_value());
  ASSERT_FALSE(end->has_value());
  EXPECT_EQ(end->error(), errc::timed_out);
  EXPECT_GE(since(start), 290ms);
  EXPECT_LT(since(start), 2s);
  ASSERT_TRUE(server.wait_for_asr_streams(1, 2s));
  EXPECT_TRUE(server.asr_streams()[0].cancelled);
}

TEST(riva_asr, reports_a_stream_the_server_aborts) {
  riva_server server;
  server.set_faults({.abort_after_bytes = 6400});
  riva_asr asr(channel_to(server.address()));
  recorder rec;
  auto stream = asr.start({}, rec.handler());
  ASSERT_TRUE(stream.has_value());
  for (int i = 0; i < 4; ++i) (void)(*stream)->push(tone(1600));
  const auto end = rec.wait_end(5s);
  ASSERT_TRUE(end.has_value());
  ASSERT_FALSE(end->has_value());
  EXPECT_EQ(end->error(), errc::unavailable);
}

TEST(riva_asr, reports_an_unsupported_language) {
  riva_server server;
  riva_asr asr(channel_to(server.address()));
  recorder rec;
  auto stream = asr.start({.language = "xx-XX"}, rec.handler());
  ASSERT_TRUE(stream.has_value());
  const auto end = rec.wait_end(5s);
  ASSERT_TRUE(end.has_value());
  ASSERT_FALSE(end->has_value());
  EXPECT_EQ(end->error(), errc::invalid_argument);
}

TEST(riva_asr, fails_fast_when_nothing_listens) {
  riva_asr asr(channel_to(dead_address()));
  recorder rec;
  const auto start = std::chrono::steady_clock::now();
  auto stream = asr.start({}, rec.handler());
  ASSERT_TRUE(stream.has_value());
  const auto end = rec.wait_end(5s);
  ASSERT_TRUE(end.has_value());
  ASSERT_FALSE(end->has_value());
  EXPECT_EQ(end->error(), errc::unavailable);
  EXPECT_LT(since(start), 2s);
}

TEST(riva_asr, refuses_an_unusable_config) {
  riva_asr asr(channel_to("127.0.0.1:1"));
  recorder rec;
  EXPECT_EQ(asr.start({.sample_rate = 0}, rec.handler()).error(), errc::invalid_argument);
  EXPECT_EQ(asr.start({.language = ""}, rec.handler()).error(), errc::invalid_argument);
  EXPECT_EQ(asr.start({.max_duration = 0ms}, rec.handler()).error(), errc::invalid_argument);
}

}  // namespace
}  // namespace mas::speech
