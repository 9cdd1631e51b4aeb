#include "mas/api/rate_limit.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using mas::api::rate_limiter;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

const rate_limiter::clock::time_point t0{std::chrono::hours{1000}};

TEST(rate_limiter, burst_then_refill_at_rate) {
  rate_limiter limiter(2.0, 3.0, 16);  // one token per 500 ms, three at most
  EXPECT_TRUE(limiter.enabled());
  EXPECT_EQ(limiter.acquire("k", t0), 0ms);
  EXPECT_EQ(limiter.acquire("k", t0), 0ms);
  EXPECT_EQ(limiter.acquire("k", t0), 0ms);
  EXPECT_EQ(limiter.acquire("k", t0), 500ms);
  EXPECT_EQ(limiter.acquire("k", t0 + 499ms), 1ms);
  EXPECT_EQ(limiter.acquire("k", t0 + 500ms), 0ms);  // exactly one token earned
  EXPECT_EQ(limiter.acquire("k", t0 + 500ms), 500ms);
  EXPECT_EQ(limiter.acquire("k", t0 + 750ms), 250ms);
  // Idle long enough to refill completely, but never beyond the burst.
  const auto later = t0 + 10s;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.acquire("k", later), 0ms) << i;
  EXPECT_EQ(limiter.acquire("k", later), 500ms);
}

TEST(rate_limiter, refused_calls_take_no_token) {
  rate_limiter limiter(1.0, 1.0, 4);
  EXPECT_EQ(limiter.acquire("k", t0), 0ms);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(limiter.acquire("k", t0 + 100ms), 900ms);
  EXPECT_EQ(limiter.acquire("k", t0 + 1s), 0ms);
}

TEST(rate_limiter, fractional_rate_and_sub_millisecond_waits_round_up) {
  rate_limiter limiter(3.0, 1.0, 4);  // 333.333... ms per token
  EXPECT_EQ(limiter.acquire("k", t0), 0ms);
  EXPECT_EQ(limiter.acquire("k", t0), 334ms);
  EXPECT_EQ(limiter.acquire("k", t0 + 333ms), 1ms);  // 0.33 ms left still reports 1 ms, never 0
  EXPECT_EQ(limiter.acquire("k", t0 + 333334us), 0ms);
}

TEST(rate_limiter, keys_are_independent) {
  rate_limiter limiter(1.0, 1.0, 4);
  EXPECT_EQ(limiter.acquire("a", t0), 0ms);
  EXPECT_EQ(limiter.acquire("a", t0), 1000ms);
  EXPECT_EQ(limiter.acquire("b", t0), 0ms);
  EXPECT_EQ(limiter.keys(), 2u);
}

TEST(rate_limiter, disabled_allows_everything_and_tracks_nothing) {
  for (double rate : {0.0, -1.0}) {
    rate_limiter limiter(rate, 1.0, 1);
    EXPECT_FALSE(limiter.enabled());
    for (int i = 0; i < 100; ++i) EXPECT_EQ(limiter.acquire("k" + std::to_string(i), t0), 0ms);
    EXPECT_EQ(limiter.keys(), 0u);
  }
}

TEST(rate_limiter, burst_below_one_still_admits_one) {
  rate_limiter limiter(1.0, 0.0, 4);
  EXPECT_EQ(limiter.acquire("k", t0), 0ms);
  EXPECT_EQ(limiter.acquire("k", t0), 1000ms);
}

TEST(rate_limiter, full_table_drops_only_full_buckets) {
  rate_limiter limiter(1.0, 2.0, 2);
  EXPECT_EQ(limiter.acquire("a", t0), 0ms);          // a full again at t0 + 1 s
  EXPECT_EQ(limiter.acquire("b", t0 + 500ms), 0ms);  // b full again at t0 + 1.5 s
  EXPECT_EQ(limiter.keys(), 2u);
  // No bucket is full yet: the new key is refused until the first one (a) can be dropped.
  EXPECT_EQ(limiter.acquire("c", t0 + 600ms), 400ms);
  EXPECT_EQ(limiter.keys(), 2u);
  // At t0 + 1 s a is full again and dropped; b is not, and keeps its state.
  EXPECT_EQ(limiter.acquire("c", t0 + 1s), 0ms);
  EXPECT_EQ(limiter.keys(), 2u);
  EXPECT_EQ(limiter.acquire("b", t0 + 1s), 0ms);
  EXPECT_EQ(limiter.acquire("b", t0 + 1s), 500ms);  // a fresh bucket would have had a second token
  // Now c is full at t0 + 2 s and b at t0 + 2.5 s. The hint for a refused new key is a lower bound (the table is
  // not rescanned on every refusal), so a retry at the hinted time may be refused once more with a later hint.
  EXPECT_EQ(limiter.acquire("a", t0 + 1s), 500ms);
  EXPECT_EQ(limiter.acquire("a", t0 + 1500ms), 500ms);
  EXPECT_EQ(limiter.keys(), 2u);
  EXPECT_EQ(limiter.acquire("a", t0 + 2s), 0ms);  // c dropped
  EXPECT_EQ(limiter.keys(), 2u);
  EXPECT_EQ(limiter.acquire("b", t0 + 2s), 0ms);  // b kept
}

TEST(rate_limiter, dropping_a_full_bucket_changes_no_limit) {
  // The same sequence with room for every key and with room for one key gives the same answers, as long as each
  // key falls idle (its bucket refills) before the next one arrives.
  rate_limiter roomy(2.0, 2.0, 8);
  rate_limiter tight(2.0, 2.0, 1);
  const auto run = [](rate_limiter& l) {
    std::string answers;
    for (int step = 0; step < 40; ++step) {
      const auto now = t0 + step * 250ms + (step / 10) * 2s;
      const char* key = (step / 10) % 2 == 0 ? "x" : "y";
      for (int i = 0; i < (step % 3); ++i) answers += std::to_string(l.acquire(key, now).count()) + ",";
      answers += "|";
    }
    return answers;
  };
  const auto a = run(roomy);
  const auto b = run(tight);
  EXPECT_EQ(a, b);
  EXPECT_NE(a.find_first_of("123456789"), std::string::npos) << "the sequence must hit the limit: " << a;
}

TEST(rate_limiter, refusal_on_full_table_reports_at_least_one_millisecond) {
  rate_limiter limiter(1000.0, 1.0, 1);  // 1 ms per token
  EXPECT_EQ(limiter.acquire("a", t0), 0ms);
  EXPECT_EQ(limiter.acquire("b", t0 + 100us), 1ms);
  EXPECT_EQ(limiter.acquire("b", t0 + 1ms), 0ms);
  EXPECT_EQ(limiter.keys(), 1u);
}

}  // namespace
