#include "mas/api/admission.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using mas::api::admission;

TEST(admission, starts_inside_enter_up_to_max_active_then_queues_then_refuses) {
  admission gate(2, 1);
  std::vector<int> started;
  const auto task = [&](int n) { return [&started, n] { started.push_back(n); }; };
  EXPECT_TRUE(gate.enter(task(1)));
  EXPECT_EQ(started, (std::vector<int>{1}));  // ran inside enter()
  EXPECT_TRUE(gate.enter(task(2)));
  EXPECT_EQ(started, (std::vector<int>{1, 2}));
  EXPECT_TRUE(gate.enter(task(3)));  // queued
  EXPECT_EQ(started.size(), 2u);
  EXPECT_EQ(gate.active(), 2u);
  EXPECT_EQ(gate.queued(), 1u);
  EXPECT_FALSE(gate.enter(task(4)));  // queue full: dropped, never runs
  EXPECT_EQ(gate.queued(), 1u);

  gate.leave();  // a slot frees: the queued task starts inside leave()
  EXPECT_EQ(started, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(gate.active(), 2u);
  EXPECT_EQ(gate.queued(), 0u);
  gate.leave();
  gate.leave();
  EXPECT_EQ(gate.active(), 0u);
  EXPECT_EQ(started, (std::vector<int>{1, 2, 3}));
}

TEST(admission, queue_is_fifo) {
  admission gate(1, 10);
  std::vector<int> started;
  for (int n = 0; n < 5; ++n) EXPECT_TRUE(gate.enter([&started, n] { started.push_back(n); }));
  EXPECT_EQ(gate.queued(), 4u);
  for (int i = 0; i < 4; ++i) gate.leave();
  EXPECT_EQ(started, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(gate.active(), 1u);
  EXPECT_EQ(gate.queued(), 0u);
}

TEST(admission, no_queue_refuses_when_busy) {
  admission gate(1, 0);
  int runs = 0;
  EXPECT_TRUE(gate.enter([&] { ++runs; }));
  EXPECT_FALSE(gate.enter([&] { ++runs; }));
  EXPECT_EQ(runs, 1);
  gate.leave();
  EXPECT_TRUE(gate.enter([&] { ++runs; }));
  EXPECT_EQ(runs, 2);
}

TEST(admission, zero_max_active_still_admits_one) {
  admission gate(0, 0);
  int runs = 0;
  EXPECT_TRUE(gate.enter([&] { ++runs; }));
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(gate.active(), 1u);
}

TEST(admission, task_leaving_inside_its_start_from_enter) {
  admission gate(1, 0);
  int runs = 0;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(gate.enter([&] {
      ++runs;
      gate.leave();  // e.g. an immediate error reply
    }));
    EXPECT_EQ(gate.active(), 0u);
  }
  EXPECT_EQ(runs, 3);
}

TEST(admission, deep_queue_of_synchronous_leavers_drains_without_recursion) {
  // One long-running task holds the only slot while many queue; each queued task leaves inside its own start. If
  // leave() started the next task recursively the stack would hold one frame set per task and overflow.
  constexpr int n = 200000;
  admission gate(1, n);
  bool holder_started = false;
  EXPECT_TRUE(gate.enter([&] { holder_started = true; }));
  ASSERT_TRUE(holder_started);
  std::vector<int> order;
  order.reserve(n);
  std::uintptr_t first_frame = 0;
  std::uintptr_t max_distance = 0;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(gate.enter([&, i] {
      const char marker = 0;
      const auto here = reinterpret_cast<std::uintptr_t>(&marker);
      if (first_frame == 0) first_frame = here;
      max_distance = std::max(max_distance, here > first_frame ? here - first_frame : first_frame - here);
      order.push_back(i);
      gate.leave();
    }));
  }
  EXPECT_EQ(gate.queued(), static_cast<std::size_t>(n));
  gate.leave();  // the holder ends
  EXPECT_EQ(gate.active(), 0u);
  EXPECT_EQ(gate.queued(), 0u);
  ASSERT_EQ(order.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) ASSERT_EQ(order[i], i);
  EXPECT_LT(max_distance, 4096u) << "each task must start at the same stack depth";
}

TEST(admission, enter_from_inside_a_start_runs_after_that_start_returns) {
  admission gate(2, 1);
  std::vector<std::string> events;
  EXPECT_TRUE(gate.enter([&] {
    events.emplace_back("outer begins");
    EXPECT_TRUE(gate.enter([&] { events.emplace_back("inner"); }));
    events.emplace_back("outer ends");
  }));
  EXPECT_EQ(events, (std::vector<std::string>{"outer begins", "outer ends", "inner"}));
  EXPECT_EQ(gate.active(), 2u);
  EXPECT_EQ(gate.queued(), 0u);
}

TEST(admission, unmatched_leave_does_not_wrap) {
  admission gate(1, 1);
  gate.leave();
  EXPECT_EQ(gate.active(), 0u);
  int runs = 0;
  EXPECT_TRUE(gate.enter([&] { ++runs; }));
  EXPECT_TRUE(gate.enter([&] { ++runs; }));  // queued: the slot is taken
  EXPECT_EQ(runs, 1);
}

}  // namespace
