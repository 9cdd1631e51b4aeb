#include "signal/ws_registry.hpp"

#include <gtest/gtest.h>

namespace {

using namespace signaling;
using nlohmann::json;

struct sent {
  peer_id to;
  json msg;
};

std::vector<sent> run(ws_registry& r, peer_id from, std::string_view text, std::int64_t now = 100) {
  auto m = decode_client(text);
  EXPECT_TRUE(m) << text;
  std::vector<sent> out;
  for (const auto& d : r.handle(from, *m, now)) out.push_back({d.to, json::parse(*d.payload)});
  return out;
}

std::vector<sent> closing(ws_registry& r, peer_id p) {
  std::vector<sent> out;
  for (const auto& d : r.close(p)) out.push_back({d.to, json::parse(*d.payload)});
  return out;
}

std::string offer(const char* id) { return std::string(R"({"type":"offer","data":{"connectionId":")") + id + R"(","sdp":"o"}})"; }
std::string answer(const char* id) { return std::string(R"({"type":"answer","data":{"connectionId":")") + id + R"(","sdp":"a"}})"; }
std::string candidate(const char* id) {
  return std::string(R"({"type":"candidate","data":{"connectionId":")") + id + R"(","candidate":"c","sdpMLineIndex":"0","sdpMid":0}})";
}
std::string connect(const char* id) { return std::string(R"({"type":"connect","connectionId":")") + id + "\"}"; }
std::string disconnect(const char* id) { return std::string(R"({"type":"disconnect","connectionId":")") + id + "\"}"; }

class ws_public : public ::testing::Test {
 protected:
  void SetUp() override {
    for (peer_id p : {1, 2, 3}) r.open(p);
  }
  ws_registry r{false};
};

TEST_F(ws_public, connect_acks_only_the_sender_as_polite) {
  auto out = run(r, 1, connect("x"));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to, 1U);
  EXPECT_EQ(out[0].msg, json::parse(R"({"type":"connect","connectionId":"x","polite":true})"));
  out = run(r, 2, connect("x"));
  EXPECT_EQ(out[0].msg["polite"], true);
}

TEST_F(ws_public, offer_goes_to_every_other_socket_impolite) {
  run(r, 1, connect("x"));
  const auto out = run(r, 1, offer("x"), 42);
  ASSERT_EQ(out.size(), 2U);
  for (const auto& s : out) {
    EXPECT_NE(s.to, 1U);
    EXPECT_EQ(s.msg, json::parse(R"({"from":"x","to":"","type":"offer","data":{"sdp":"o","datetime":42,"polite":false}})"));
  }
}

TEST_F(ws_public, answer_goes_only_to_the_offerer) {
  run(r, 1, connect("x"));
  run(r, 1, offer("x"));
  const auto out = run(r, 2, answer("x"), 43);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to, 1U);
  EXPECT_EQ(out[0].msg, json::parse(R"({"from":"x","to":"","type":"answer","data":{"sdp":"a","datetime":43}})"));
}

TEST_F(ws_public, candidate_is_broadcast_with_fields_verbatim) {
  const auto out = run(r, 2, candidate("x"));
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(out[0].msg["data"]["sdpMLineIndex"], "0");
  EXPECT_EQ(out[0].msg["data"]["sdpMid"], 0);
}

TEST_F(ws_public, answer_without_offer_or_to_own_offer_is_dropped) {
  EXPECT_TRUE(run(r, 2, answer("nobody")).empty());
  run(r, 1, offer("x"));
  EXPECT_TRUE(run(r, 1, answer("x")).empty());
  EXPECT_EQ(r.counts().dropped_self_answer, 1U);
}

TEST_F(ws_public, disconnect_reaches_partner_and_is_echoed) {
  run(r, 1, connect("x"));
  run(r, 1, offer("x"));
  run(r, 2, answer("x"));
  auto out = run(r, 2, disconnect("x"));
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(out[0].to, 1U);
  EXPECT_EQ(out[1].to, 2U);
  EXPECT_EQ(out[1].msg, json::parse(R"({"type":"disconnect","connectionId":"x"})"));
  out = run(r, 1, disconnect("x"));  // later disconnect of the same id is still echoed
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to, 1U);
  out = run(r, 3, disconnect("never"));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to, 3U);
}

TEST_F(ws_public, closing_a_socket_notifies_partners) {
  run(r, 1, connect("x"));
  run(r, 1, offer("x"));
  run(r, 2, answer("x"));
  const auto out = closing(r, 1);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to, 2U);
  EXPECT_EQ(out[0].msg["type"], "disconnect");
  EXPECT_EQ(r.sockets(), 2U);
  EXPECT_TRUE(closing(r, 1).empty());
}

TEST_F(ws_public, a_new_offer_replaces_the_pair) {
  run(r, 1, offer("x"));
  run(r, 2, answer("x"));
  run(r, 3, offer("x"));  // renegotiation from another socket resets the pair to [3, none]
  const auto out = run(r, 1, answer("x"));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to, 3U);
}

class ws_private : public ::testing::Test {
 protected:
  void SetUp() override {
    for (peer_id p : {1, 2, 3}) r.open(p);
  }
  ws_registry r{true};
};

TEST_F(ws_private, first_owner_impolite_second_polite_third_refused) {
  EXPECT_EQ(run(r, 1, connect("x"))[0].msg["polite"], false);
  EXPECT_EQ(run(r, 2, connect("x"))[0].msg["polite"], true);
  const auto out = run(r, 3, connect("x"));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].msg, json::parse(R"({"type":"error","message":"x: This connection id is already used."})"));
  EXPECT_EQ(r.counts().refused_id_in_use, 1U);
}

TEST_F(ws_private, same_socket_reconnecting_keeps_its_role) {
  EXPECT_EQ(run(r, 1, connect("x"))[0].msg["polite"], false);
  EXPECT_EQ(run(r, 1, connect("x"))[0].msg["polite"], false);
  EXPECT_TRUE(run(r, 1, offer("x")).empty()) << "no partner: never to itself";
}

TEST_F(ws_private, offers_only_to_partner_as_polite_and_dropped_without_one) {
  run(r, 1, connect("x"));
  EXPECT_TRUE(run(r, 1, offer("x")).empty());
  run(r, 2, connect("x"));
  auto out = run(r, 1, offer("x"));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to, 2U);
  EXPECT_EQ(out[0].msg["data"]["polite"], true);
  out = run(r, 2, offer("x"));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to, 1U);
}

TEST_F(ws_private, answers_and_candidates_go_to_the_partner_only) {
  run(r, 1, connect("x"));
  run(r, 2, connect("x"));
  auto out = run(r, 2, answer("x"));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to, 1U);
  out = run(r, 1, candidate("x"));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to, 2U);
  EXPECT_TRUE(run(r, 3, candidate("y")).empty());
}

TEST_F(ws_private, disconnect_and_close_notify_the_partner) {
  run(r, 1, connect("x"));
  run(r, 2, connect("x"));
  auto out = run(r, 1, disconnect("x"));
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(out[0].to, 2U);
  run(r, 1, connect("y"));
  run(r, 2, connect("y"));
  out = closing(r, 2);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to, 1U);
  EXPECT_EQ(out[0].msg["connectionId"], "y");
}

TEST(ws_registry_limits, ids_per_socket_are_bounded) {
  ws_registry r{false};
  r.open(1);
  for (int i = 0; i < 64; ++i) run(r, 1, connect(std::to_string(i).c_str()));
  const auto out = run(r, 1, connect("one-too-many"));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].msg["type"], "error");
  EXPECT_EQ(r.connection_ids(), 64U);
}

TEST(ws_registry_limits, unknown_sockets_are_ignored) {
  ws_registry r{false};
  EXPECT_TRUE(run(r, 9, connect("x")).empty());
}

}  // namespace

namespace {

using namespace signaling;

class ws_streamers : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto reg = r.open_streamer(10, "render-0");
    ASSERT_EQ(reg.size(), 1U);
    EXPECT_EQ(nlohmann::json::parse(*reg[0].payload), nlohmann::json::parse(R"({"type":"registered","role":"streamer","name":"render-0"})"));
    r.open_streamer(11, "");
    for (peer_id p : {1, 2, 3}) r.open(p);
  }
  ws_registry r{false, true};
};

TEST_F(ws_streamers, each_viewer_gets_its_own_streamer_and_the_extra_one_an_error) {
  EXPECT_EQ(run(r, 1, connect("a"))[0].msg["type"], "connect");
  EXPECT_EQ(run(r, 2, connect("b"))[0].msg["type"], "connect");
  EXPECT_EQ(r.streamers_busy(), 2U);
  const auto out = run(r, 3, connect("c"));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].msg["type"], "error");
  EXPECT_EQ(out[0].msg["code"], "no_free_streamer");
  EXPECT_EQ(r.counts().refused_no_streamer, 1U);
}

TEST_F(ws_streamers, offers_candidates_and_answers_stay_within_the_assignment) {
  run(r, 1, connect("a"));
  run(r, 2, connect("b"));
  auto out = run(r, 1, offer("a"));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to, 10U);
  out = run(r, 2, candidate("b"));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to, 11U);
  out = run(r, 10, answer("a"));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to, 1U);
  out = run(r, 10, offer("a"));  // renegotiation from the renderer adds its media
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to, 1U);
}

TEST_F(ws_streamers, a_leaving_viewer_frees_its_streamer) {
  run(r, 1, connect("a"));
  run(r, 2, connect("b"));
  auto out = closing(r, 1);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to, 10U);
  EXPECT_EQ(out[0].msg["type"], "disconnect");
  EXPECT_EQ(run(r, 3, connect("c"))[0].msg["type"], "connect");
  EXPECT_EQ(r.streamers_busy(), 2U);
  run(r, 3, disconnect("c"));
  EXPECT_EQ(r.streamers_busy(), 1U);
}

TEST_F(ws_streamers, a_leaving_streamer_disconnects_its_viewer) {
  run(r, 1, connect("a"));
  const auto out = closing(r, 10);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].to, 1U);
  EXPECT_EQ(out[0].msg["connectionId"], "a");
  EXPECT_EQ(r.streamers(), 1U);
}

TEST_F(ws_streamers, register_message_and_its_refusals) {
  auto out = run(r, 3, R"({"type":"register","role":"streamer","name":"late"})");
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].msg["type"], "registered");
  EXPECT_EQ(r.streamers(), 3U);
  run(r, 1, connect("a"));
  out = run(r, 1, R"({"type":"register","role":"streamer"})");
  EXPECT_EQ(out[0].msg["code"], "invalid_state");
  ws_registry plain{false, false};
  plain.open(1);
  out = run(plain, 1, R"({"type":"register","role":"streamer"})");
  EXPECT_EQ(out[0].msg["code"], "registry_disabled");
}

TEST(ws_streamers_none, viewers_get_a_clear_error_when_nobody_registered) {
  ws_registry r{false, true};
  r.open(1);
  const auto out = run(r, 1, connect("a"));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].msg["code"], "no_free_streamer");
}

}  // namespace

namespace {

using namespace signaling;

TEST(ws_registry_longevity, a_unity_socket_serves_far_more_viewers_than_the_id_bound) {
  for (const bool private_mode : {false, true}) {
    ws_registry r{private_mode};
    r.open(1);  // the long-lived render instance
    for (peer_id viewer = 100; viewer < 300; ++viewer) {
      r.open(viewer);
      const std::string id = "v" + std::to_string(viewer);
      if (private_mode) {
        run(r, 1, connect(id.c_str()));
        ASSERT_EQ(run(r, viewer, connect(id.c_str()))[0].msg["type"], "connect");
      } else {
        run(r, viewer, connect(id.c_str()));
        run(r, viewer, offer(id.c_str()));
        ASSERT_EQ(run(r, 1, answer(id.c_str())).size(), 1U);
      }
      closing(r, viewer);
    }
    EXPECT_EQ(r.connection_ids(), 0U) << "private=" << private_mode;
  }
}

}  // namespace
