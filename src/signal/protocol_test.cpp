#include "signal/protocol.hpp"

#include <gtest/gtest.h>

namespace {

using namespace signaling;
using nlohmann::json;

template <class T>
T decode_as(std::string_view text) {
  auto m = decode_client(text);
  EXPECT_TRUE(m) << text;
  EXPECT_TRUE(std::holds_alternative<T>(*m)) << text;
  return std::get<T>(*m);
}

TEST(protocol_decode, connect_with_and_without_id) {
  EXPECT_EQ(decode_as<connect_msg>(R"({"type":"connect","connectionId":"a"})").connection_id.value_or(""), "a");
  EXPECT_FALSE(decode_as<connect_msg>(R"({"type":"connect"})").connection_id);
  EXPECT_FALSE(decode_as<disconnect_msg>(R"({"type":"disconnect","connectionId":null})").connection_id);
}

TEST(protocol_decode, routes_by_data_connection_id_and_ignores_from_to) {
  const auto o = decode_as<offer_msg>(R"({"type":"offer","from":"zzz","to":"q","data":{"connectionId":"c1","sdp":"v=0","polite":true}})");
  EXPECT_EQ(o.connection_id, "c1");
  EXPECT_EQ(o.sdp_json, "\"v=0\"");
  const auto a = decode_as<answer_msg>(R"({"type":"answer","data":{"connectionId":"c1","sdp":"x"}})");
  EXPECT_EQ(a.connection_id, "c1");
}

TEST(protocol_decode, candidate_fields_keep_their_json_types) {
  const auto c = decode_as<candidate_msg>(
      R"({"type":"candidate","data":{"connectionId":"c","candidate":"candidate:1","sdpMLineIndex":"0","sdpMid":0}})");
  ASSERT_TRUE(c.sdp_mline_index && c.sdp_mid && c.candidate);
  EXPECT_EQ(*c.sdp_mline_index, "\"0\"");
  EXPECT_EQ(*c.sdp_mid, "0");
  const auto out = json::parse(encode_candidate("c", c, 7));
  EXPECT_EQ(out["data"]["sdpMLineIndex"], "0");
  EXPECT_EQ(out["data"]["sdpMid"], 0);
  EXPECT_EQ(out["data"]["candidate"], "candidate:1");
  EXPECT_EQ(out["data"]["datetime"], 7);
  EXPECT_FALSE(out["data"].contains("connectionId"));
}

TEST(protocol_decode, absent_candidate_fields_stay_absent) {
  const auto c = decode_as<candidate_msg>(R"({"type":"candidate","data":{"connectionId":"c","candidate":""}})");
  EXPECT_EQ(encode_candidate("c", c, 1), R"({"from":"c","to":"","type":"candidate","data":{"candidate":"","datetime":1}})");
}

TEST(protocol_decode, unknown_type_is_ignored_not_an_error) {
  EXPECT_EQ(decode_as<ignored_msg>(R"({"type":"hello","x":1})").type, "hello");
}

TEST(protocol_decode, malformed_input_is_an_error_value) {
  const char* bad[] = {"",
                       "not json",
                       "null",
                       "[]",
                       "42",
                       R"({"type":7})",
                       R"({"no":"type"})",
                       R"({"type":"offer"})",
                       R"({"type":"offer","data":"x"})",
                       R"({"type":"offer","data":{"sdp":"x"}})",
                       R"({"type":"offer","data":{"connectionId":5,"sdp":"x"}})",
                       R"({"type":"offer","data":{"connectionId":"c","sdp":5}})",
                       R"({"type":"candidate","data":{"connectionId":{}}})",
                       R"({"type":"connect","connectionId":""})"};
  for (const auto* text : bad) {
    std::string why;
    const auto m = decode_client(text, &why);
    EXPECT_FALSE(m) << text;
    EXPECT_FALSE(why.empty()) << text;
  }
}

TEST(protocol_decode, deep_nesting_is_refused_before_parsing) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  std::string why;
  EXPECT_FALSE(decode_client(deep, &why));
  EXPECT_NE(why.find("deep"), std::string::npos);
}

TEST(protocol_encode, matches_reference_shapes) {
  EXPECT_EQ(encode_connect_ack(std::string("a"), true), R"({"type":"connect","connectionId":"a","polite":true})");
  EXPECT_EQ(encode_connect_ack(std::nullopt, false), R"({"type":"connect","polite":false})");
  EXPECT_EQ(encode_disconnect(std::string("a")), R"({"type":"disconnect","connectionId":"a"})");
  EXPECT_EQ(encode_offer("a", "\"v=0\\r\\n\"", 5, false),
            R"({"from":"a","to":"","type":"offer","data":{"sdp":"v=0\r\n","datetime":5,"polite":false}})");
  EXPECT_EQ(encode_answer("a", "\"s\"", 6), R"({"from":"a","to":"","type":"answer","data":{"sdp":"s","datetime":6}})");
  EXPECT_EQ(encode_error("x: This connection id is already used."),
            R"({"type":"error","message":"x: This connection id is already used."})");
}

}  // namespace

namespace {

using namespace signaling;

TEST(protocol_decode, relays_values_byte_for_byte) {
  const auto c = decode_as<candidate_msg>(
      R"({"type":"candidate","data":{"connectionId":"c","candidate":{"x":[1,2.50,null]},"sdpMLineIndex":1.5e3,"sdpMid":null}})");
  EXPECT_EQ(encode_candidate("c", c, 9),
            R"({"from":"c","to":"","type":"candidate","data":{"candidate":{"x":[1,2.50,null]},"sdpMLineIndex":1.5e3,"sdpMid":null,"datetime":9}})");
  const auto o = decode_as<offer_msg>(R"({"type":"offer","data":{"connectionId":"c","sdp":"a\nb\u00e9\"q"}})");
  EXPECT_EQ(encode_offer("c", o.sdp_json, 1, true),
            R"({"from":"c","to":"","type":"offer","data":{"sdp":"a\nb\u00e9\"q","datetime":1,"polite":true}})");
}

TEST(protocol_decode, escaped_keys_and_last_duplicate_win_like_json_parse) {
  const auto m = decode_as<connect_msg>(R"({"\u0074ype":"connect","connectionId":"a","connectionId":"b\u0021"})");
  EXPECT_EQ(m.connection_id.value_or(""), "b!");
}

TEST(protocol_decode, rejects_invalid_json_the_tree_parser_would_reject) {
  const char* bad[] = {R"({"type":"connect",})", R"({"type":"connect"} x)", R"({"type":'connect'})", "{\"type\":\"a\x01\"}",
                       R"({"type":"\x"})", R"({"type":"\u12"})", R"({"n":01})", R"({"n":1.})", R"({"n":-})", "{\"s\":\"\xC3\"}",
                       R"({"type":"connect")", R"({"a":tru})"};
  for (const auto* text : bad) EXPECT_FALSE(decode_client(text)) << text;
}

}  // namespace
