#pragma once
#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// A validating, allocation-light JSON scanner for hot paths: it checks a text against RFC 8259 (with a
/// nesting bound and UTF-8 validation) and hands out the raw text of values, so relayed values keep
/// their exact bytes and JSON types without being parsed into a tree and printed again.
namespace core::json_scan {

enum class kind { object, array, string, number, boolean, null };

struct value {
  kind type = kind::null;
  std::string_view raw;  ///< the value's exact text (strings include their quotes)
};

struct member {
  std::string_view key_raw;  ///< the key as written, quotes included
  value val;
};

/// Validates `text` as exactly one JSON value (surrounding whitespace allowed). nullopt when invalid
/// or nested deeper than `max_depth`; `why` gets a short reason.
std::optional<value> validate(std::string_view text, std::size_t max_depth, std::string* why = nullptr);

/// `validate`s `text` (the nesting bound included) before building a tree with nlohmann::json, so deep or
/// malformed input never reaches the tree parser. nullopt (and `why`) when invalid.
std::optional<nlohmann::json> parse(std::string_view text, std::size_t max_depth, std::string* why = nullptr);

/// The members of an object value that `validate` accepted (shallow; nested values stay raw).
std::vector<member> members(const value& object);

/// The last member whose key equals `key` (after unescaping), like JSON.parse's "last one wins".
std::optional<value> find(const std::vector<member>& members, std::string_view key);

/// The decoded content of a string value's raw text (quotes included). nullopt if `raw` is not a string.
std::optional<std::string> unescape(std::string_view raw);

}  // namespace core::json_scan
