#pragma once
// A TURN client just big enough for `sparc check`: one UDP Allocate with long-term credentials (RFC 8656 over
// RFC 8489 STUN), as a browser does with the username and credential sparc-signal mints, then a Refresh with
// lifetime 0 so the relay is released at once.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace deploy {

struct turn_result {
  bool allocated = false;
  std::string relayed;  ///< "ip:port" the server relays from
  std::string error;    ///< why not, in words (e.g. "401 Unauthorized: wrong credentials")
};

turn_result turn_allocate(const std::string& host, std::uint16_t port, const std::string& username,
                          const std::string& password, std::chrono::milliseconds timeout);

/// Host and port of a `turn:host[:port][?transport=udp]` URL; port 3478 when absent. False for other schemes.
bool parse_turn_url(std::string_view url, std::string& host, std::uint16_t& port);

}  // namespace deploy
