#include "net/ws.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using net::ws::opcode;

/// Builds a masked client frame.
std::string frame(std::uint8_t first_byte, std::string_view payload, bool mask = true, int len_form = 0) {
  std::string out;
  out.push_back(static_cast<char>(first_byte));
  const std::uint8_t m = mask ? 0x80 : 0;
  const std::size_t n = payload.size();
  if (len_form == 0 && n < 126) {
    out.push_back(static_cast<char>(m | n));
  } else if (len_form == 126 || (len_form == 0 && n <= 0xFFFF)) {
    out.push_back(static_cast<char>(m | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(m | 127));
    for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> s) & 0xFF));
  }
  const char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (mask) out.append(key, 4);
  for (std::size_t i = 0; i < n; ++i) out.push_back(mask ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i]);
  return out;
}

struct recorder : net::ws::events {
  std::vector<std::string> messages;
  std::vector<std::string> pings;
  int pongs = 0;
  std::uint16_t close_code = 0;
  std::uint16_t violation = 0;
  void on_message(opcode t, std::string_view p) override { messages.push_back((t == opcode::text ? "T:" : "B:") + std::string(p)); }
  void on_ping(std::string_view p) override { pings.emplace_back(p); }
  void on_pong(std::string_view) override { ++pongs; }
  void on_close(std::uint16_t code, std::string_view) override { close_code = code; }
  void on_violation(std::uint16_t code, std::string_view) override { violation = code; }
};

bool feed(net::ws::reader& r, std::string bytes, recorder& rec) { return r.feed(std::span<char>(bytes.data(), bytes.size()), rec); }

TEST(ws_reader, decodes_text_and_binary) {
  net::ws::reader r(1024);
  recorder rec;
  EXPECT_TRUE(feed(r, frame(0x81, "hello") + frame(0x82, "\x01\x02"), rec));
  ASSERT_EQ(rec.messages.size(), 2U);
  EXPECT_EQ(rec.messages[0], "T:hello");
  EXPECT_EQ(rec.messages[1], "B:\x01\x02");
}

TEST(ws_reader, handles_bytes_arriving_one_at_a_time) {
  net::ws::reader r(100000);
  recorder rec;
  const std::string payload(70000, 'x');
  const auto bytes = frame(0x81, "a") + frame(0x81, std::string(300, 'y')) + frame(0x81, payload);
  for (const char c : bytes) ASSERT_TRUE(feed(r, std::string(1, c), rec));
  ASSERT_EQ(rec.messages.size(), 3U);
  EXPECT_EQ(rec.messages[2].size(), payload.size() + 2);
  EXPECT_EQ(r.buffered(), 0U);
}

TEST(ws_reader, reassembles_fragments_with_interleaved_control_frames) {
  net::ws::reader r(1024);
  recorder rec;
  EXPECT_TRUE(feed(r, frame(0x01, "he") + frame(0x89, "p") + frame(0x00, "ll") + frame(0x80, "o"), rec));
  ASSERT_EQ(rec.messages.size(), 1U);
  EXPECT_EQ(rec.messages[0], "T:hello");
  ASSERT_EQ(rec.pings.size(), 1U);
  EXPECT_EQ(rec.pings[0], "p");
}

TEST(ws_reader, reports_close_with_code) {
  net::ws::reader r(1024);
  recorder rec;
  EXPECT_FALSE(feed(r, frame(0x88, std::string("\x03\xE8", 2) + "bye"), rec));
  EXPECT_EQ(rec.close_code, 1000);
  EXPECT_FALSE(feed(r, frame(0x81, "ignored after close"), rec));
  EXPECT_TRUE(rec.messages.empty());
}

struct violation_case {
  const char* name;
  std::string bytes;
  std::uint16_t code;
};

class ws_violations : public ::testing::TestWithParam<violation_case> {};

TEST_P(ws_violations, closes_with_the_right_code) {
  net::ws::reader r(1000);
  recorder rec;
  EXPECT_FALSE(feed(r, GetParam().bytes, rec));
  EXPECT_EQ(rec.violation, GetParam().code) << GetParam().name;
  EXPECT_TRUE(rec.messages.empty());
}

std::string close_payload(std::uint16_t code) { return {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)}; }

INSTANTIATE_TEST_SUITE_P(
    rfc6455, ws_violations,
    ::testing::Values(violation_case{"unmasked", frame(0x81, "x", false), 1002},
                      violation_case{"rsv1", frame(0xC1, "x"), 1002},
                      violation_case{"reserved opcode 3", frame(0x83, "x"), 1002},
                      violation_case{"reserved opcode B", frame(0x8B, "x"), 1002},
                      violation_case{"fragmented ping", frame(0x09, "x"), 1002},
                      violation_case{"long ping", frame(0x89, std::string(126, 'p')), 1002},
                      violation_case{"lone continuation", frame(0x80, "x"), 1002},
                      violation_case{"nested start", frame(0x01, "a") + frame(0x01, "b"), 1002},
                      violation_case{"non-minimal 16-bit length", frame(0x81, "abc", true, 126), 1002},
                      violation_case{"64-bit length top bit",
                                     std::string("\x81\xFF\x80\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00", 14), 1002},
                      violation_case{"too big", frame(0x81, std::string(1001, 'a')), 1009},
                      violation_case{"fragments too big", frame(0x01, std::string(600, 'a')) + frame(0x80, std::string(600, 'a')), 1009},
                      violation_case{"invalid utf8 text", frame(0x81, "\xC0\xAF"), 1007},
                      violation_case{"invalid utf8 fragmented", frame(0x01, "\xE2\x82") + frame(0x80, "\xFF"), 1007},
                      violation_case{"close code 1005", frame(0x88, close_payload(1005)), 1002},
                      violation_case{"close code 999", frame(0x88, close_payload(999)), 1002},
                      violation_case{"close code 5000", frame(0x88, close_payload(5000)), 1002},
                      violation_case{"close one byte", frame(0x88, "\x03"), 1002},
                      violation_case{"close reason not utf8", frame(0x88, close_payload(1000) + "\xFF"), 1007}),
    [](const auto& param_info) {
      std::string n = param_info.param.name;
      for (auto& c : n)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

TEST(ws_encode, uses_minimal_length_forms) {
  EXPECT_EQ(net::ws::encode(opcode::text, "hi"), std::string("\x81\x02hi", 4));
  const auto mid = net::ws::encode(opcode::text, std::string(200, 'a'));
  EXPECT_EQ(static_cast<unsigned char>(mid[1]), 126);
  EXPECT_EQ(mid.size(), 204U);
  const auto big = net::ws::encode(opcode::binary, std::string(70000, 'a'));
  EXPECT_EQ(static_cast<unsigned char>(big[1]), 127);
  EXPECT_EQ(big.size(), 70010U);
}

TEST(ws_handshake, computes_rfc_example_accept_key) {
  EXPECT_EQ(net::ws::accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(ws_handshake, validates_version_and_key) {
  net::http_request req;
  req.method = "GET";
  req.headers = {{"sec-websocket-version", "13"}, {"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  bool ok = false;
  auto r = net::ws::handshake_response(req, ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(r.status, 101);
  req.headers[0].second = "8";
  r = net::ws::handshake_response(req, ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(r.status, 426);
  req.headers[0].second = "13";
  req.headers[1].second = "short";
  r = net::ws::handshake_response(req, ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(r.status, 400);
}

}  // namespace
