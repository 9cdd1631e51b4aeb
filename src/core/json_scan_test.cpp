#include "core/json_scan.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

namespace js = core::json_scan;

TEST(json_scan, agrees_with_the_tree_parser_on_validity) {
  const char* cases[] = {"{}", "[]", "0", "-0", "1.5e-3", "\"x\"", "true", "null", " {\"a\" : [1, {\"b\": null}] } ",
                         "{\"a\":\"\\u00e9\\n\"}", "\"\\ud83d\\ude00\"", "[1,]", "{,}", "01", "1.", ".5", "+1", "1e", "[", "]",
                         "{\"a\"}", "{\"a\":}", "\"\\q\"", "\"tab\there\"", "nul", "[1 2]", "\"\xC3\xA9\"", "\"\xC3\"", "",
                         "   ", "{\"a\":1}{", "[\"\\u12G4\"]", "\"\\ud83d\"", "\"\\ude00\"", "\"\\ud83d\\u0041\"",
                         "\"\\ud66d\\ude00\""};
  for (const auto* text : cases) {
    const bool tree = !nlohmann::json::parse(text, nullptr, false).is_discarded();
    EXPECT_EQ(js::validate(text, 64).has_value(), tree) << text;
  }
}

TEST(json_scan, bounds_nesting) {
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  std::string why;
  EXPECT_FALSE(js::validate(deep, 32, &why));
  EXPECT_NE(why.find("deep"), std::string::npos);
  EXPECT_TRUE(js::validate(deep, 100));
}

TEST(json_scan, members_expose_raw_values_and_kinds) {
  const auto v = js::validate(R"({ "a" : 1.50 , "b":{"c":[1]}, "s":"x\"y", "n":null, "t":false })", 8);
  ASSERT_TRUE(v);
  const auto m = js::members(*v);
  ASSERT_EQ(m.size(), 5U);
  EXPECT_EQ(m[0].key_raw, "\"a\"");
  EXPECT_EQ(m[0].val.raw, "1.50");
  EXPECT_EQ(m[0].val.type, js::kind::number);
  EXPECT_EQ(m[1].val.raw, R"({"c":[1]})");
  EXPECT_EQ(m[1].val.type, js::kind::object);
  EXPECT_EQ(m[2].val.raw, R"("x\"y")");
  EXPECT_EQ(m[3].val.type, js::kind::null);
  EXPECT_EQ(m[4].val.type, js::kind::boolean);
  EXPECT_EQ(js::find(m, "s")->raw, R"("x\"y")");
  EXPECT_FALSE(js::find(m, "zz"));
}

TEST(json_scan, unescape_handles_every_escape) {
  EXPECT_EQ(js::unescape(R"("a\"\\\/\b\f\n\r\t")").value_or("?"), "a\"\\/\b\f\n\r\t");
  EXPECT_EQ(js::unescape(R"("\u00e9\ud83d\ude00")").value_or("?"), "\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(js::unescape(R"("\ud83d")").value_or("?"), "\xEF\xBF\xBD") << "lone surrogates (never validated) decode to U+FFFD";
  EXPECT_FALSE(js::unescape("nope"));
  EXPECT_FALSE(js::unescape(R"("\u12")"));
}

}  // namespace
