#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace signaling {

/// TURN REST credentials as coturn's `use-auth-secret` checks them: the username is
/// "<expiry unix seconds>:<user>" and the password is base64(HMAC-SHA1(secret, username)).
struct turn_credentials {
  std::string username;
  std::string credential;
};

turn_credentials mint_turn_credentials(const std::string& secret, const std::string& user, std::int64_t expiry_unix_s);

/// What /config advertises to clients.
struct ice_settings {
  std::vector<std::string> static_urls;  ///< passed through without credentials (STUN, or TURN with its own auth)
  std::vector<std::string> turn_urls;    ///< get freshly minted credentials on every /config
  std::string turn_secret;               ///< empty: TURN URLs are not advertised
  std::string turn_user = "sparc";
  std::int64_t turn_ttl_s = 3600;

  bool empty() const noexcept { return static_urls.empty() && (turn_urls.empty() || turn_secret.empty()); }
};

/// The RTCIceServer list for /config; an empty array when nothing is configured.
nlohmann::ordered_json ice_servers_json(const ice_settings& settings, std::int64_t now_unix_s);

}  // namespace signaling
