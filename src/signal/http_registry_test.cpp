#include "signal/http_registry.hpp"

#include <gtest/gtest.h>

namespace {

using namespace signaling;

std::string session(http_registry& r, std::int64_t now = 1000) {
  auto s = r.create_session(now);
  EXPECT_TRUE(s);
  return *s;
}

http_candidate cand(const std::string& id, const char* text) { return {id, nlohmann::json(text), nlohmann::json(0), nlohmann::json("0")}; }

TEST(http_public, connect_is_polite_and_offer_visible_to_others_only) {
  http_registry r(false, 10000);
  const auto a = session(r), b = session(r);
  auto c = r.create_connection(a, "x", 1001);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->polite);
  EXPECT_EQ(c->datetime, 1001);
  r.post_offer(a, "x", "sdp-o", 1002);
  EXPECT_TRUE(r.offers(a, 0).empty());
  const auto offers = r.offers(b, 0);
  ASSERT_EQ(offers.size(), 1U);
  EXPECT_EQ(offers[0].dump(), R"({"connectionId":"x","sdp":"sdp-o","polite":false,"type":"offer","datetime":1002})");
}

TEST(http_public, answer_pairs_and_restamps_offerer_candidates) {
  http_registry r(false, 10000);
  const auto a = session(r), b = session(r);
  r.create_connection(a, "x", 1001);
  r.post_offer(a, "x", "o", 1002);
  r.post_candidate(a, cand("x", "ca"), 1003);
  EXPECT_TRUE(r.candidates(b, 0).empty()) << "not paired yet";
  r.post_answer(b, "x", "a", 2000);
  const auto answers = r.answers(a, 0);
  ASSERT_EQ(answers.size(), 1U);
  EXPECT_EQ(answers[0].dump(), R"({"connectionId":"x","sdp":"a","type":"answer","datetime":2000})");
  EXPECT_TRUE(r.answers(b, 0).empty());
  const auto cands = r.candidates(b, 2000);
  ASSERT_EQ(cands.size(), 1U) << "restamped to the answer time";
  EXPECT_EQ(cands[0].dump(), R"({"connectionId":"x","candidate":"ca","sdpMLineIndex":0,"sdpMid":"0","type":"candidate","datetime":2000})");
  r.post_candidate(b, cand("x", "cb"), 2001);
  EXPECT_EQ(r.candidates(a, 0).size(), 1U);
  EXPECT_TRUE(r.candidates(b, 2001).empty()) << "own candidates are invisible";
}

TEST(http_public, fromtime_is_inclusive_and_future_is_empty) {
  http_registry r(false, 10000);
  const auto a = session(r), b = session(r);
  r.post_offer(a, "x", "o", 1500);
  EXPECT_EQ(r.offers(b, 1500).size(), 1U);
  EXPECT_TRUE(r.offers(b, 1501).empty());
  EXPECT_EQ(r.offers(b, -30000).size(), 1U);
}

TEST(http_public, all_merges_and_sorts_by_datetime) {
  http_registry r(false, 10000);
  const auto a = session(r), b = session(r);
  r.create_connection(b, "y", 1000);
  r.post_offer(a, "x", "o", 1200);
  r.create_connection(a, "z", 1100);
  r.delete_connection(a, "z", 1300);
  const auto all = r.all(b, 0, 5000);
  EXPECT_EQ(all["datetime"], 5000);
  const auto& m = all["messages"];
  ASSERT_EQ(m.size(), 3U);
  EXPECT_EQ(m[0]["type"], "offer");
  EXPECT_EQ(m[1]["type"], "disconnect");
  EXPECT_EQ(m[1]["connectionId"], "z");
  EXPECT_EQ(m[2]["type"], "connect");
  EXPECT_EQ(m[2]["datetime"], 5000);
}

TEST(http_public, deleting_a_connection_notifies_everyone_and_self) {
  http_registry r(false, 10000);
  const auto a = session(r), b = session(r), c = session(r);
  r.create_connection(a, "x", 1000);
  r.delete_connection(a, "x", 1100);
  for (const auto& s : {a, b, c}) {
    const auto all = r.all(s, 1100, 2000);
    bool seen = false;
    for (const auto& e : all["messages"]) seen |= e["type"] == "disconnect";
    EXPECT_TRUE(seen) << s;
  }
}

TEST(http_public, late_answer_after_offerer_left_is_harmless) {
  http_registry r(false, 10000);
  const auto a = session(r), b = session(r);
  r.create_connection(a, "x", 1000);
  r.post_offer(a, "x", "o", 1001);
  r.delete_session(a, 1002);
  r.post_answer(b, "x", "a", 1003);
  const auto all = r.all(b, 0, 2000);
  bool disconnect = false;
  for (const auto& e : all["messages"]) disconnect |= e["type"] == "disconnect";
  EXPECT_TRUE(disconnect);
}

TEST(http_sessions, idle_sessions_are_evicted_and_their_peers_told) {
  http_registry r(true, 10000);
  const auto a = session(r, 0), b = session(r, 0);
  r.create_connection(a, "x", 0);
  r.create_connection(b, "x", 0);
  EXPECT_TRUE(r.touch(b, 9000));
  EXPECT_EQ(r.evict_expired(10001), 1U);
  EXPECT_FALSE(r.touch(a, 10001));
  EXPECT_TRUE(r.touch(b, 10001));
  const auto all = r.all(b, 0, 10001);
  ASSERT_EQ(all["messages"].size(), 1U);
  EXPECT_EQ(all["messages"][0]["type"], "disconnect");
  EXPECT_EQ(r.evicted(), 1U);
}

TEST(http_sessions, unknown_session_cannot_be_touched) {
  http_registry r(false, 10000);
  EXPECT_FALSE(r.touch("nope", 1));
  r.delete_session("nope", 1);  // harmless
}

TEST(http_private, pairs_by_id_and_refuses_a_third) {
  http_registry r(true, 10000);
  const auto a = session(r), b = session(r), c = session(r);
  EXPECT_FALSE(r.create_connection(a, "x", 1)->polite);
  EXPECT_TRUE(r.create_connection(b, "x", 2)->polite);
  const auto third = r.create_connection(c, "x", 3);
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error(), core::errc::conflict);
}

TEST(http_private, offer_before_partner_is_dropped_for_good) {
  http_registry r(true, 10000);
  const auto a = session(r), b = session(r);
  r.create_connection(a, "x", 1);
  r.post_offer(a, "x", "early", 2);
  r.create_connection(b, "x", 3);
  EXPECT_TRUE(r.offers(b, 0).empty());
  r.post_offer(a, "x", "again", 4);
  const auto offers = r.offers(b, 0);
  ASSERT_EQ(offers.size(), 1U);
  EXPECT_EQ(offers[0]["sdp"], "again");
  EXPECT_EQ(offers[0]["polite"], true);
  EXPECT_TRUE(r.offers(a, 0).empty()) << "never one's own offer";
}

TEST(http_private, deleting_removes_the_id_from_both_sides) {
  http_registry r(true, 10000);
  const auto a = session(r), b = session(r);
  r.create_connection(a, "x", 1);
  r.create_connection(b, "x", 2);
  r.delete_connection(b, "x", 3);
  EXPECT_TRUE(r.connections(a, 4).empty());
  const auto all = r.all(a, 0, 4);
  ASSERT_EQ(all["messages"].size(), 1U);
  EXPECT_EQ(all["messages"][0]["type"], "disconnect");
}

TEST(http_limits, candidates_per_id_are_bounded) {
  http_registry r(false, 10000);
  const auto a = session(r), b = session(r);
  r.create_connection(a, "x", 1);
  r.post_offer(a, "x", "o", 1);
  r.post_answer(b, "x", "a", 1);
  for (int i = 0; i < 1000; ++i) r.post_candidate(a, cand("x", "c"), 2);
  EXPECT_EQ(r.candidates(b, 0).size(), 256U);
}

}  // namespace

namespace {

using namespace signaling;

TEST(http_longevity, a_unity_session_serves_far_more_viewers_than_the_bounds) {
  http_registry r(false, 1000000);
  const auto unity = *r.create_session(0);
  for (int v = 0; v < 200; ++v) {
    const auto viewer = *r.create_session(v);
    const std::string id = "v" + std::to_string(v);
    r.create_connection(viewer, id, v);
    r.post_offer(viewer, id, "o", v);
    r.post_answer(unity, id, "a", v);
    r.post_candidate(unity, {id, nlohmann::json("c"), {}, {}}, v);
    ASSERT_EQ(r.candidates(viewer, 0).size(), 1U) << v;
    r.delete_session(viewer, v);
  }
  EXPECT_EQ(r.connection_ids(), 0U);
}

}  // namespace
