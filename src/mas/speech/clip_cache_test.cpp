#include "mas/speech/clip_cache.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <thread>
#include <vector>

namespace {

using mas::speech::clip_cache;
using namespace std::chrono_literals;

const clip_cache::clock::time_point t0{std::chrono::hours{1000}};

std::string put_ok(clip_cache& cache, std::string wav, clip_cache::clock::time_point now) {
  auto id = cache.put(std::move(wav), now);
  EXPECT_TRUE(id.has_value());
  return id.value_or("");
}

TEST(clip_cache, stores_and_returns_clips_under_random_hex_ids) {
  clip_cache cache(60s, 1000, 100);
  const auto a = put_ok(cache, "RIFF-a", t0);
  const auto b = put_ok(cache, "RIFF-bb", t0);
  for (const auto& id : {a, b}) {
    EXPECT_EQ(id.size(), 32u);
    EXPECT_TRUE(std::all_of(id.begin(), id.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    })) << id;
  }
  EXPECT_NE(a, b);
  ASSERT_NE(cache.get(a, t0), nullptr);
  EXPECT_EQ(*cache.get(a, t0), "RIFF-a");
  EXPECT_EQ(*cache.get(b, t0 + 1s), "RIFF-bb");
  EXPECT_EQ(cache.clips(), 2u);
  EXPECT_EQ(cache.bytes(), 13u);
}

TEST(clip_cache, ids_do_not_repeat) {
  clip_cache cache(60s, 1 << 20, 10);
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(put_ok(cache, "x", t0));
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(clip_cache, anything_but_an_issued_id_is_unknown) {
  clip_cache cache(60s, 1000, 100);
  const auto id = put_ok(cache, "wav", t0);
  std::string upper = id;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) { return static_cast<char>(std::toupper(c)); });
  std::string other = id;
  other[0] = other[0] == '0' ? '1' : '0';
  for (const std::string& bad : {std::string(), id.substr(1), id + "0", upper, other, std::string(32, 'g'),
                                 id.substr(0, 31) + "/", std::string("../../etc/passwd")}) {
    if (bad == id) continue;  // an all-digit id has no upper case
    EXPECT_EQ(cache.get(bad, t0), nullptr) << bad;
  }
  EXPECT_NE(cache.get(id, t0), nullptr);
}

TEST(clip_cache, clips_expire_at_the_ttl) {
  clip_cache cache(30s, 1000, 100);
  const auto a = put_ok(cache, "aaaa", t0);
  const auto b = put_ok(cache, "bbbb", t0 + 10s);
  EXPECT_NE(cache.get(a, t0 + 30s - 1ns), nullptr);
  EXPECT_EQ(cache.get(a, t0 + 30s), nullptr);  // expired exactly at the ttl
  EXPECT_EQ(cache.clips(), 1u);                // and pruned, bytes released
  EXPECT_EQ(cache.bytes(), 4u);
  EXPECT_NE(cache.get(b, t0 + 39s), nullptr);
  // A put prunes too.
  put_ok(cache, "cc", t0 + 40s);
  EXPECT_EQ(cache.clips(), 1u);
  EXPECT_EQ(cache.bytes(), 2u);
  EXPECT_EQ(cache.get(b, t0 + 40s), nullptr);
}

TEST(clip_cache, oldest_clips_are_evicted_to_fit_the_byte_budget) {
  clip_cache cache(60s, 10, 10);
  const auto a = put_ok(cache, "aaaa", t0);
  const auto b = put_ok(cache, "bbb", t0 + 1s);
  const auto c = put_ok(cache, "ccc", t0 + 2s);
  EXPECT_EQ(cache.bytes(), 10u);  // exactly at the budget: nothing evicted
  EXPECT_EQ(cache.clips(), 3u);
  const auto d = put_ok(cache, "dddd", t0 + 3s);  // needs 4 bytes: a alone frees them
  EXPECT_EQ(cache.get(a, t0 + 3s), nullptr);
  EXPECT_NE(cache.get(b, t0 + 3s), nullptr);
  EXPECT_EQ(cache.bytes(), 10u);
  const auto e = put_ok(cache, "eeeeeeee", t0 + 4s);  // 8 bytes: b, c and d must go, in that order
  EXPECT_EQ(cache.get(b, t0 + 4s), nullptr);
  EXPECT_EQ(cache.get(c, t0 + 4s), nullptr);
  EXPECT_EQ(cache.get(d, t0 + 4s), nullptr);
  ASSERT_NE(cache.get(e, t0 + 4s), nullptr);
  EXPECT_EQ(cache.clips(), 1u);
  EXPECT_EQ(cache.bytes(), 8u);
  const auto f = put_ok(cache, "ff", t0 + 5s);  // fits beside e
  EXPECT_NE(cache.get(e, t0 + 5s), nullptr);
  EXPECT_NE(cache.get(f, t0 + 5s), nullptr);
}

TEST(clip_cache, eviction_follows_insertion_age_not_access) {
  clip_cache cache(60s, 6, 6);
  const auto a = put_ok(cache, "aa", t0);
  const auto b = put_ok(cache, "bb", t0);
  const auto c = put_ok(cache, "cc", t0);
  ASSERT_NE(cache.get(a, t0 + 1s), nullptr);  // reading does not make a younger
  put_ok(cache, "dd", t0 + 2s);
  EXPECT_EQ(cache.get(a, t0 + 2s), nullptr);
  EXPECT_NE(cache.get(b, t0 + 2s), nullptr);
  EXPECT_NE(cache.get(c, t0 + 2s), nullptr);
}

TEST(clip_cache, refuses_oversized_clips) {
  clip_cache cache(60s, 100, 10);
  EXPECT_TRUE(cache.put(std::string(10, 'x'), t0));
  EXPECT_FALSE(cache.put(std::string(11, 'x'), t0));
  EXPECT_EQ(cache.clips(), 1u);
  // A clip limit above the total budget is capped by the budget: such a clip could never fit.
  clip_cache small(60s, 8, 100);
  EXPECT_FALSE(small.put(std::string(9, 'x'), t0));
  EXPECT_TRUE(small.put(std::string(8, 'x'), t0));
}

TEST(clip_cache, a_clip_being_sent_survives_its_eviction) {
  clip_cache cache(60s, 4, 4);
  const auto a = put_ok(cache, "aaaa", t0);
  const auto held = cache.get(a, t0);
  put_ok(cache, "bbbb", t0);
  EXPECT_EQ(cache.get(a, t0), nullptr);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(*held, "aaaa");
  EXPECT_EQ(cache.bytes(), 4u);
}

TEST(clip_cache, concurrent_puts_and_gets_keep_the_budget) {
  clip_cache cache(60s, 4000, 100);
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache] {
      for (int i = 0; i < 2000; ++i) {
        const auto id = cache.put(std::string(100, 'w'), t0);
        if (id) (void)cache.get(*id, t0);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(cache.bytes(), 4000u);
  EXPECT_EQ(cache.clips(), 40u);
}

}  // namespace
