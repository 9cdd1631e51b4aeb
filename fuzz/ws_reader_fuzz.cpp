// Feeds arbitrary bytes, split at fuzzer-chosen points, to the WebSocket frame reader.
#include "net/ws.hpp"

#include <cstdint>
#include <string>

namespace {

struct sink final : net::ws::events {
  std::size_t bytes = 0;
  void on_message(net::ws::opcode, std::string_view p) override { bytes += p.size(); }
  void on_ping(std::string_view p) override { bytes += p.size(); }
  void on_pong(std::string_view p) override { bytes += p.size(); }
  void on_close(std::uint16_t, std::string_view) override {}
  void on_violation(std::uint16_t code, std::string_view) override {
    if (code < 1000 || code > 1011) __builtin_trap();  // only RFC 6455 codes may be reported
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 64;  // first byte picks the read size
  std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  net::ws::reader reader(4096);
  sink s;
  for (std::size_t off = 0; off < bytes.size(); off += chunk) {
    const std::size_t n = std::min(chunk, bytes.size() - off);
    if (!reader.feed(std::span<char>(bytes.data() + off, n), s)) break;
    if (reader.buffered() > 4096 + 14 + 64) __builtin_trap();  // bounded by the message limit
  }
  return 0;
}
