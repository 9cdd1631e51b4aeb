#pragma once
#include <cstddef>
#include <cstdint>

/// Bounds of the signaling state; each is generous for real clients and small enough that a
/// misbehaving one cannot grow the server without limit.
namespace signaling::limits {

/// Unity and browsers use UUIDs (36 chars); anything far longer is abuse.
inline constexpr std::size_t max_connection_id_bytes = 256;
/// JSON nesting; protocol messages nest 2 levels, so 32 is generous and keeps parsing shallow.
inline constexpr std::size_t max_json_depth = 32;
/// Connection ids one socket or HTTP session may own (a Unity instance serves a few viewers).
inline constexpr std::size_t max_ids_per_owner = 64;
/// Stored candidates per connection id (a browser gathers well under 50).
inline constexpr std::size_t max_candidates_per_id = 256;
/// Disconnect records kept per HTTP session (oldest dropped first).
inline constexpr std::size_t max_disconnects_per_session = 1024;
/// Live HTTP-polling sessions; PUT /signaling answers 503 beyond this.
inline constexpr std::size_t max_http_sessions = 10000;
/// Session-Id header values longer than this are rejected before any lookup.
inline constexpr std::size_t max_session_id_bytes = 64;

}  // namespace signaling::limits
