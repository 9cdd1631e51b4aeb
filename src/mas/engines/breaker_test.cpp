#include "mas/engines/breaker.hpp"

#include <gtest/gtest.h>

namespace {

using mas::engines::circuit_breaker;
using state = circuit_breaker::state;
using namespace std::chrono_literals;

const circuit_breaker::clock::time_point t0{std::chrono::hours{1000}};

TEST(circuit_breaker, opens_at_the_threshold_of_consecutive_failures) {
  circuit_breaker b(3, 10s);
  EXPECT_EQ(b.current(t0), state::closed);
  EXPECT_TRUE(b.allow(t0));
  b.record_failure(t0);
  b.record_failure(t0);
  EXPECT_EQ(b.failures(), 2);
  EXPECT_EQ(b.current(t0), state::closed);
  EXPECT_TRUE(b.allow(t0));
  EXPECT_EQ(b.retry_after(t0), 0ms);
  b.record_failure(t0 + 1s);
  EXPECT_EQ(b.current(t0 + 1s), state::open);
  EXPECT_FALSE(b.allow(t0 + 1s));
  EXPECT_EQ(b.retry_after(t0 + 1s), 10000ms);
  EXPECT_EQ(b.retry_after(t0 + 10s), 1000ms);
}

TEST(circuit_breaker, success_resets_the_count) {
  circuit_breaker b(2, 1s);
  b.record_failure(t0);
  b.record_success();
  EXPECT_EQ(b.failures(), 0);
  b.record_failure(t0);
  EXPECT_EQ(b.current(t0), state::closed);  // not two in a row
  b.record_failure(t0);
  EXPECT_EQ(b.current(t0), state::open);
}

TEST(circuit_breaker, half_open_allows_exactly_one_trial) {
  circuit_breaker b(1, 5s);
  b.record_failure(t0);
  EXPECT_FALSE(b.allow(t0 + 4999ms));
  EXPECT_EQ(b.retry_after(t0 + 4999ms), 1ms);
  EXPECT_EQ(b.current(t0 + 5s), state::half_open);  // what a call would meet
  EXPECT_EQ(b.retry_after(t0 + 5s), 0ms);
  EXPECT_TRUE(b.allow(t0 + 5s));  // the trial
  EXPECT_EQ(b.current(t0 + 5s), state::half_open);
  EXPECT_FALSE(b.allow(t0 + 5s));  // others wait for it
  EXPECT_FALSE(b.allow(t0 + 6s));
  EXPECT_GT(b.retry_after(t0 + 6s), 0ms);
  b.record_success();
  EXPECT_EQ(b.current(t0 + 6s), state::closed);
  EXPECT_TRUE(b.allow(t0 + 6s));
  EXPECT_TRUE(b.allow(t0 + 6s));
}

TEST(circuit_breaker, failed_trial_reopens_for_a_full_cooldown) {
  circuit_breaker b(3, 5s);
  for (int i = 0; i < 3; ++i) b.record_failure(t0);
  ASSERT_TRUE(b.allow(t0 + 5s));
  b.record_failure(t0 + 7s);  // one failed trial is enough; no threshold while half-open
  EXPECT_EQ(b.current(t0 + 7s), state::open);
  EXPECT_FALSE(b.allow(t0 + 11s));
  EXPECT_EQ(b.retry_after(t0 + 11s), 1000ms);
  EXPECT_TRUE(b.allow(t0 + 12s));
}

TEST(circuit_breaker, late_failure_while_open_does_not_extend_the_cooldown) {
  circuit_breaker b(1, 5s);
  b.record_failure(t0);
  b.record_failure(t0 + 4s);  // a call allowed before it opened, failing late
  EXPECT_EQ(b.retry_after(t0 + 4s), 1000ms);
  EXPECT_TRUE(b.allow(t0 + 5s));
}

TEST(circuit_breaker, lost_trial_is_replaced_after_a_cooldown) {
  circuit_breaker b(1, 5s);
  b.record_failure(t0);
  ASSERT_TRUE(b.allow(t0 + 5s));  // the trial's caller never reports
  EXPECT_FALSE(b.allow(t0 + 9999ms));
  EXPECT_EQ(b.retry_after(t0 + 9999ms), 1ms);
  EXPECT_TRUE(b.allow(t0 + 10s));  // a new trial
  EXPECT_FALSE(b.allow(t0 + 10s));
}

TEST(circuit_breaker, retry_after_is_zero_exactly_when_allow_would_say_yes) {
  circuit_breaker b(1, 300ms);
  b.record_failure(t0);
  for (auto t = t0; t < t0 + 1s; t += 50ms) {
    const bool zero = b.retry_after(t) == 0ms;
    EXPECT_EQ(b.allow(t), zero) << (t - t0).count();
  }
}

TEST(circuit_breaker, threshold_below_one_opens_on_first_failure) {
  circuit_breaker b(0, 1s);
  b.record_failure(t0);
  EXPECT_EQ(b.current(t0), state::open);
}

TEST(circuit_breaker, state_names) {
  EXPECT_EQ(to_string(state::closed), "closed");
  EXPECT_EQ(to_string(state::open), "open");
  EXPECT_EQ(to_string(state::half_open), "half_open");
}

}  // namespace
