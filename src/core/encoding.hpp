#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace core {

/// Standard base64 (RFC 4648 section 4) with padding.
std::string base64_encode(std::string_view bytes);

/// SHA-1 digest (20 raw bytes). Used only where a protocol demands it (RFC 6455 handshake, TURN REST).
std::string sha1(std::string_view bytes);

/// HMAC-SHA1 (20 raw bytes).
std::string hmac_sha1(std::string_view key, std::string_view message);

/// Compares two byte strings in time independent of where they differ.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

/// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool is_valid_utf8(std::string_view text) noexcept;

/// ASCII-lowercased copy (bytes outside A-Z unchanged, so UTF-8 stays intact).
std::string ascii_lower(std::string_view text);

/// Appends `text` to `out` as a JSON string literal (quotes included). Invalid UTF-8 bytes become U+FFFD.
void append_json_string(std::string& out, std::string_view text);

}  // namespace core
