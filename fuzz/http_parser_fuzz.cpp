// Arbitrary bytes as an HTTP/1.1 request stream: the parser must never crash or over-consume.
#include "net/http.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view buf(reinterpret_cast<const char*>(data), size);
  net::http_parse_limits limits;
  limits.max_header_bytes = 1024;
  limits.max_body_bytes = 1024;
  for (int i = 0; i < 8 && !buf.empty(); ++i) {
    net::http_request req;
    const auto out = net::parse_request(buf, limits, req);
    if (out.status != net::parse_status::done) break;
    if (out.consumed == 0 || out.consumed > buf.size()) __builtin_trap();
    (void)req.keep_alive();
    (void)req.wants_websocket();
    (void)req.query_param("fromtime");
    buf.remove_prefix(out.consumed);
  }
  return 0;
}
