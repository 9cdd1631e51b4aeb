// Arbitrary text as a signaling message; decoded messages are routed through both registries.
#include "signal/protocol.hpp"
#include "signal/ws_registry.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto msg = signaling::decode_client(text);
  if (!msg) return 0;
  for (const bool private_mode : {false, true}) {
    signaling::ws_registry r(private_mode);
    r.open(1);
    r.open(2);
    (void)r.handle(1, *msg, 1);
    (void)r.handle(2, *msg, 2);
    (void)r.close(1);
    (void)r.close(2);
    if (r.sockets() != 0 || r.connection_ids() != 0) __builtin_trap();
  }
  return 0;
}
