#include "stream/signaling.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

using stream::signal_event;
using kind = signal_event::kind;

TEST(decode_ws, reads_what_the_server_relays) {
  auto offer = stream::decode_ws(R"({"from":"c1","to":"","type":"offer","data":{"sdp":"v=0","datetime":5,"polite":false}})");
  ASSERT_TRUE(offer);
  EXPECT_EQ(offer->type, kind::offer);
  EXPECT_EQ(offer->connection_id, "c1");
  EXPECT_EQ(offer->sdp, "v=0");
  auto ack = stream::decode_ws(R"({"type":"connect","connectionId":"c2","polite":true})");
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->type, kind::connect);
  EXPECT_TRUE(ack->polite);
  auto bye = stream::decode_ws(R"({"type":"disconnect","connectionId":"c2"})");
  ASSERT_TRUE(bye);
  EXPECT_EQ(bye->type, kind::disconnect);
  auto err = stream::decode_ws(R"({"type":"error","message":"c2: This connection id is already used."})");
  ASSERT_TRUE(err);
  EXPECT_EQ(err->type, kind::error);
  EXPECT_EQ(err->message, "c2: This connection id is already used.");
}

TEST(decode_ws, candidate_positions_are_read_leniently) {
  // Numbers, strings, and the two swapped as some pages send them.
  auto a = stream::decode_ws(R"({"from":"c","type":"candidate","data":{"candidate":"candidate:1","sdpMLineIndex":1,"sdpMid":"1"}})");
  auto b = stream::decode_ws(R"({"from":"c","type":"candidate","data":{"candidate":"candidate:1","sdpMLineIndex":"2","sdpMid":"video0"}})");
  auto c = stream::decode_ws(R"({"from":"c","type":"candidate","data":{"candidate":"candidate:1","sdpMLineIndex":"video0","sdpMid":3}})");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->mline, 1);
  EXPECT_EQ(b->mline, 2);
  EXPECT_EQ(b->sdp_mid, "video0");
  EXPECT_EQ(c->mline, 3);
}

TEST(decode_ws, ignores_what_it_cannot_act_on) {
  for (const char* text : {"", "[]", "not json", R"({"type":"offer"})", R"({"type":"offer","from":"c","data":5})",
                           R"({"type":"hello"})", R"({"type":"connect"})"})
    EXPECT_FALSE(stream::decode_ws(text)) << text;
}

TEST(encode_ws, uses_the_envelope_unity_sends) {
  const auto offer = nlohmann::json::parse(stream::encode_ws_description("offer", "c1", "v=0", true));
  EXPECT_EQ(offer["type"], "offer");
  EXPECT_EQ(offer["from"], "c1");
  EXPECT_EQ(offer["data"]["connectionId"], "c1");
  EXPECT_EQ(offer["data"]["sdp"], "v=0");
  EXPECT_EQ(offer["data"]["polite"], true);
  const auto cand = nlohmann::json::parse(stream::encode_ws_candidate("c1", "candidate:x", "0", 0));
  EXPECT_EQ(cand["data"]["sdpMLineIndex"], 0);
  EXPECT_EQ(cand["data"]["sdpMid"], "0");
  EXPECT_EQ(nlohmann::json::parse(stream::encode_ws_connect("c1"))["type"], "connect");
}

TEST(decode_poll, reads_messages_and_the_next_fromtime) {
  const auto r = stream::decode_poll(R"({"messages":[
    {"connectionId":"a","type":"connect","datetime":9},
    {"connectionId":"a","sdp":"v=0","polite":false,"type":"offer","datetime":10},
    {"connectionId":"a","candidate":"candidate:1","sdpMLineIndex":0,"sdpMid":"0","type":"candidate","datetime":11},
    {"type":"offer"},
    {"connectionId":"a","type":"disconnect","datetime":12}],"datetime":13})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->datetime, 13);
  ASSERT_EQ(r->events.size(), 4U);
  EXPECT_EQ(r->events[1].type, kind::offer);
  EXPECT_EQ(r->events[2].candidate, "candidate:1");
  EXPECT_EQ(r->events[3].type, kind::disconnect);
  EXPECT_FALSE(stream::decode_poll("nope"));
}

TEST(poll_dedupe, the_same_record_acts_once) {
  const auto r = stream::decode_poll(R"({"messages":[{"connectionId":"a","sdp":"v=0","type":"offer","datetime":10}],"datetime":10})");
  ASSERT_TRUE(r);
  stream::poll_dedupe d;
  EXPECT_TRUE(d.first_time(r->events[0]));
  EXPECT_FALSE(d.first_time(r->events[0]));  // fromtime is inclusive: the next poll returns it again
  auto later = r->events[0];
  later.datetime = 20;  // the same connection offering again later is new
  EXPECT_TRUE(d.first_time(later));
  d.forget("a");
  EXPECT_TRUE(d.first_time(r->events[0]));
}

}  // namespace
