#include "net/http.hpp"

#include <gtest/gtest.h>

namespace {

using net::parse_request;
using net::parse_status;

net::parse_outcome parse(std::string_view text, net::http_request& req, net::http_parse_limits lim = {}) {
  return parse_request(text, lim, req);
}

TEST(http_parser, parses_a_request_with_body_and_query) {
  net::http_request req;
  const std::string text =
      "PUT /signaling/connection?fromtime=12&x HTTP/1.1\r\nHost: a\r\nSession-Id:  abc \r\nContent-Length: 5\r\n\r\nhelloNEXT";
  const auto out = parse(text, req);
  ASSERT_EQ(out.status, parse_status::done);
  EXPECT_EQ(out.consumed, text.size() - 4);
  EXPECT_EQ(req.method, "PUT");
  EXPECT_EQ(req.path, "/signaling/connection");
  EXPECT_EQ(req.query_param("fromtime").value_or("?"), "12");
  EXPECT_EQ(req.query_param("x").value_or("?"), "");
  EXPECT_FALSE(req.query_param("y"));
  EXPECT_EQ(req.header("session-id").value_or(""), "abc");
  EXPECT_EQ(req.body, "hello");
  EXPECT_TRUE(req.keep_alive());
}

TEST(http_parser, waits_for_more_bytes) {
  net::http_request req;
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\n", req).status, parse_status::need_more);
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc", req).status, parse_status::need_more);
}

TEST(http_parser, enforces_header_limit_with_431) {
  net::http_request req;
  std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(9000, 'a');
  auto out = parse(big, req);  // no terminator yet, already too big
  EXPECT_EQ(out.status, parse_status::error);
  EXPECT_EQ(out.error_status, 431);
  out = parse(big + "\r\n\r\n", req);
  EXPECT_EQ(out.error_status, 431);
}

TEST(http_parser, rejects_body_over_limit_with_413_before_reading_it) {
  net::http_request req;
  net::http_parse_limits lim;
  lim.max_body_bytes = 10;
  const auto out = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", req, lim);
  EXPECT_EQ(out.error_status, 413);
}

TEST(http_parser, rejects_malformed_requests) {
  net::http_request req;
  EXPECT_EQ(parse("garbage\r\n\r\n", req).error_status, 400);
  EXPECT_EQ(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n", req).error_status, 505);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\n\r\n", req).error_status, 400);  // no Host
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", req).error_status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", req).error_status, 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", req).error_status, 501);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", req).error_status, 400);
  EXPECT_EQ(parse("GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", req).error_status, 400);
  EXPECT_EQ(parse("GET /%00 HTTP/1.1\r\nHost: a\r\n\r\n", req).error_status, 400);
  EXPECT_EQ(parse("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", req).error_status, 400);
}

TEST(http_parser, http10_defaults_to_close) {
  net::http_request req;
  ASSERT_EQ(parse("GET / HTTP/1.0\r\n\r\n", req).status, parse_status::done);
  EXPECT_FALSE(req.keep_alive());
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", req).status, parse_status::done);
  EXPECT_FALSE(req.keep_alive());
}

TEST(http_parser, detects_websocket_upgrade) {
  net::http_request req;
  ASSERT_EQ(parse("GET /x HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\r\n", req).status,
            parse_status::done);
  EXPECT_TRUE(req.wants_websocket());
}

TEST(http_serialize, writes_status_headers_and_length) {
  net::http_response r = net::text_response(404);
  r.headers.emplace_back("X-A", "1");
  const auto s = net::serialize(r, true);
  EXPECT_EQ(s, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nX-A: 1\r\nContent-Length: 9\r\n"
               "Connection: keep-alive\r\n\r\nNot Found");
  EXPECT_EQ(net::serialize(r, true, true).find("Not Found", 20), std::string::npos) << "HEAD has no body";
}

TEST(http_serialize, json_error_shape) {
  const auto r = net::json_error(400, "missing_field", "connectionId is required");
  EXPECT_EQ(r.body, R"({"error":{"code":"missing_field","message":"connectionId is required"}})");
}

}  // namespace

namespace {

TEST(http_parser, reports_complete_headers_while_the_body_is_pending) {
  net::http_request req;
  const auto out = net::parse_request("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", {}, req);
  EXPECT_EQ(out.status, net::parse_status::need_more);
  EXPECT_TRUE(out.headers_complete);
  EXPECT_TRUE(req.expects_continue());
  const auto partial = net::parse_request("POST / HTTP/1.1\r\nHost: a\r\n", {}, req);
  EXPECT_FALSE(partial.headers_complete);
}

}  // namespace
