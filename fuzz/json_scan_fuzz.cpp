// Differential: the hot-path JSON scanner must accept exactly what nlohmann::json accepts (within the
// nesting bound), and unescape every string the way the tree parser decodes it.
#include "core/json_scan.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto scanned = core::json_scan::validate(text, 64);
  std::size_t depth = 0, max_depth = 0;
  for (const char c : text) {  // over-estimates (brackets in strings count), which only skips checks
    if (c == '[' || c == '{') max_depth = std::max(max_depth, ++depth);
    if ((c == ']' || c == '}') && depth > 0) --depth;
  }
  if (max_depth >= 64) return 0;
  // nlohmann::json stops at a NUL byte as if the input ended there; the scanner (like JSON.parse) rejects it.
  if (text.find('\0') != std::string_view::npos) return 0;
  const auto tree = nlohmann::json::parse(text, nullptr, false);
  if (scanned.has_value() != !tree.is_discarded()) {
    // The one intended difference: a number too large for a double is valid JSON (the grammar has no
    // range), which nlohmann::json refuses as an overflow.
    try {
      (void)nlohmann::json::parse(text);
    } catch (const nlohmann::json::out_of_range&) {
      return 0;
    } catch (const nlohmann::json::exception&) {
    }
    __builtin_trap();
  }
  if (scanned && scanned->type == core::json_scan::kind::object) {
    const auto members = core::json_scan::members(*scanned);
    for (const auto& m : members) {
      const auto key = core::json_scan::unescape(m.key_raw);
      if (!key || !tree.contains(*key)) __builtin_trap();
      if (m.val.type == core::json_scan::kind::string) {
        const auto value = core::json_scan::unescape(m.val.raw);
        const auto& expected = tree.at(*key);
        // Duplicate keys: the tree keeps the last one; compare only unique keys.
        if (value && expected.is_string() && tree.count(*key) == 1 &&
            std::count_if(members.begin(), members.end(),
                          [&](const auto& o) { return core::json_scan::unescape(o.key_raw) == key; }) == 1 &&
            *value != expected.get<std::string>() && value->find("\xEF\xBF\xBD") == std::string::npos)
          __builtin_trap();
      }
    }
  }
  return 0;
}
