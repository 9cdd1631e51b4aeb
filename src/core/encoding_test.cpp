#include "core/encoding.hpp"

#include <gtest/gtest.h>

namespace {

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    out.push_back(digits[static_cast<unsigned char>(c) >> 4]);
    out.push_back(digits[static_cast<unsigned char>(c) & 0xF]);
  }
  return out;
}

TEST(base64, rfc4648_vectors) {
  EXPECT_EQ(core::base64_encode(""), "");
  EXPECT_EQ(core::base64_encode("f"), "Zg==");
  EXPECT_EQ(core::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(core::base64_encode("foo"), "Zm9v");
  EXPECT_EQ(core::base64_encode("foobar"), "Zm9vYmFy");
}

TEST(sha1, fips_vector) { EXPECT_EQ(hex(core::sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d"); }

TEST(hmac_sha1, rfc2202_case_2) {
  EXPECT_EQ(hex(core::hmac_sha1("Jefe", "what do ya want for nothing?")), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

TEST(constant_time_equal, compares_contents_and_length) {
  EXPECT_TRUE(core::constant_time_equal("secret", "secret"));
  EXPECT_FALSE(core::constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(core::constant_time_equal("secret", "secret2"));
}

TEST(utf8, accepts_valid_text) {
  EXPECT_TRUE(core::is_valid_utf8(""));
  EXPECT_TRUE(core::is_valid_utf8("plain ascii"));
  EXPECT_TRUE(core::is_valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
}

TEST(utf8, rejects_malformed_sequences) {
  EXPECT_FALSE(core::is_valid_utf8("\xC0\xAF"));              // overlong '/'
  EXPECT_FALSE(core::is_valid_utf8("\xED\xA0\x80"));          // UTF-16 surrogate
  EXPECT_FALSE(core::is_valid_utf8("\xF4\x90\x80\x80"));      // above U+10FFFF
  EXPECT_FALSE(core::is_valid_utf8("\xE2\x82"));              // truncated
  EXPECT_FALSE(core::is_valid_utf8("\x80"));                  // lone continuation
  EXPECT_FALSE(core::is_valid_utf8("ok\xFF"));
}

TEST(json_string, escapes_controls_and_replaces_bad_bytes) {
  std::string out;
  core::append_json_string(out, std::string_view("a\"b\\c\n\x01\xFF", 8));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\xEF\xBF\xBD\"");
}

}  // namespace
