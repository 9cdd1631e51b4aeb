#include "signal/turn.hpp"

#include "core/encoding.hpp"

namespace signaling {

turn_credentials mint_turn_credentials(const std::string& secret, const std::string& user, std::int64_t expiry_unix_s) {
  turn_credentials c;
  c.username = std::to_string(expiry_unix_s) + ":" + user;
  c.credential = core::base64_encode(core::hmac_sha1(secret, c.username));
  return c;
}

nlohmann::ordered_json ice_servers_json(const ice_settings& s, std::int64_t now_unix_s) {
  auto list = nlohmann::ordered_json::array();
  if (!s.static_urls.empty()) list.push_back({{"urls", s.static_urls}});
  if (!s.turn_urls.empty() && !s.turn_secret.empty()) {
    const auto c = mint_turn_credentials(s.turn_secret, s.turn_user, now_unix_s + s.turn_ttl_s);
    list.push_back({{"urls", s.turn_urls}, {"username", c.username}, {"credential", c.credential}});
  }
  return list;
}

}  // namespace signaling
