#include "signal/turn.hpp"

#include <gtest/gtest.h>

namespace {

TEST(turn, username_and_credential_follow_the_turn_rest_scheme) {
  // Expected credential computed independently:
  //   printf '%s' '1700003600:sparc' | openssl dgst -sha1 -hmac s3cret -binary | base64
  const auto c = signaling::mint_turn_credentials("s3cret", "sparc", 1700003600);
  EXPECT_EQ(c.username, "1700003600:sparc");
  EXPECT_EQ(c.credential, "q3LKuFTB78ADNLWl9AgijYLiiXo=");
}

TEST(turn, ice_servers_list_static_and_minted_entries) {
  signaling::ice_settings s;
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(signaling::ice_servers_json(s, 0).empty());
  s.static_urls = {"stun:stun.example.org:3478"};
  s.turn_urls = {"turn:turn.example.org:3478?transport=udp"};
  s.turn_secret = "s3cret";
  s.turn_ttl_s = 600;
  const auto j = signaling::ice_servers_json(s, 1000);
  ASSERT_EQ(j.size(), 2U);
  EXPECT_EQ(j[0]["urls"][0], "stun:stun.example.org:3478");
  EXPECT_FALSE(j[0].contains("username"));
  EXPECT_EQ(j[1]["username"], "1600:sparc");
  EXPECT_EQ(j[1]["credential"], signaling::mint_turn_credentials("s3cret", "sparc", 1600).credential);
}

TEST(turn, turn_urls_without_secret_are_not_advertised) {
  signaling::ice_settings s;
  s.turn_urls = {"turn:x"};
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(signaling::ice_servers_json(s, 0).empty());
}

}  // namespace
