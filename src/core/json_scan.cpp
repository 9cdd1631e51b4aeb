#include "core/json_scan.hpp"

#include "core/encoding.hpp"

#include <cstring>

namespace core::json_scan {
namespace {

// True for bytes that need no attention inside a JSON string.
constexpr bool plain_char(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

class scanner {
 public:
  scanner(std::string_view text, std::size_t max_depth) : s_(text), max_depth_(max_depth) {}

  std::optional<value> run(std::string* why) {
    skip_ws();
    value v;
    if (!parse_value(0, v)) return fail(why);
    skip_ws();
    if (pos_ != s_.size()) {
      error_ = "trailing characters after the JSON value";
      return fail(why);
    }
    return v;
  }

  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }

 private:
  std::optional<value> fail(std::string* why) const {
    if (why) *why = error_.empty() ? "not valid JSON" : error_;
    return std::nullopt;
  }

  bool bad(const char* what) {
    if (error_.empty()) error_ = what;
    return false;
  }

  bool parse_value(std::size_t depth, value& out) {
    if (pos_ >= s_.size()) return bad("unexpected end of JSON");
    const std::size_t start = pos_;
    const char c = s_[pos_];
    bool ok = false;
    switch (c) {
      case '{': out.type = kind::object; ok = parse_container(depth, '}', true); break;
      case '[': out.type = kind::array; ok = parse_container(depth, ']', false); break;
      case '"': out.type = kind::string; ok = parse_string(); break;
      case 't': out.type = kind::boolean; ok = literal("true"); break;
      case 'f': out.type = kind::boolean; ok = literal("false"); break;
      case 'n': out.type = kind::null; ok = literal("null"); break;
      default: out.type = kind::number; ok = parse_number(); break;
    }
    out.raw = s_.substr(start, pos_ - start);
    return ok;
  }

  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return bad("invalid literal");
    pos_ += word.size();
    return true;
  }

  bool parse_container(std::size_t depth, char close, bool is_object) {
    if (depth + 1 > max_depth_) return bad("JSON nested too deeply");
    ++pos_;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == close) {
      ++pos_;
      return true;
    }
    for (;;) {
      if (is_object) {
        if (pos_ >= s_.size() || s_[pos_] != '"') return bad("expected a string key");
        if (!parse_string()) return false;
        skip_ws();
        if (pos_ >= s_.size() || s_[pos_] != ':') return bad("expected ':'");
        ++pos_;
        skip_ws();
      }
      value v;
      if (!parse_value(depth + 1, v)) return false;
      skip_ws();
      if (pos_ >= s_.size()) return bad("unexpected end of JSON");
      if (s_[pos_] == ',') {
        ++pos_;
        skip_ws();
        continue;
      }
      if (s_[pos_] == close) {
        ++pos_;
        return true;
      }
      return bad(is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }

  static bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

  // The code unit of the "\uXXXX" escape starting at `at`, if well-formed.
  std::optional<unsigned> hex_escape(std::size_t at) const {
    if (at + 6 > s_.size()) return std::nullopt;
    unsigned v = 0;
    for (std::size_t i = at + 2; i < at + 6; ++i) {
      const char c = s_[i];
      if (!is_hex(c)) return std::nullopt;
      v = (v << 4) | static_cast<unsigned>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
  }

  bool parse_string() {
    ++pos_;  // opening quote
    const std::size_t n = s_.size();
    while (pos_ < n) {
      // Most of a string (an SDP) is plain printable ASCII: skip it in one tight loop.
      while (pos_ < n && plain_char(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      if (pos_ >= n) break;
      const auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c == '\\') {
        if (pos_ + 1 >= n) break;
        const char e = s_[pos_ + 1];
        if (e == 'u') {
          const auto cp = hex_escape(pos_);
          if (!cp) return bad("invalid \\u escape");
          pos_ += 6;
          // UTF-16 surrogates must come as a high-low pair (as the tree parser requires).
          if (*cp >= 0xDC00 && *cp <= 0xDFFF) return bad("lone low surrogate in string");
          if (*cp >= 0xD800 && *cp <= 0xDBFF) {
            const auto lo = pos_ + 1 < n && s_[pos_] == '\\' && s_[pos_ + 1] == 'u' ? hex_escape(pos_) : std::nullopt;
            if (!lo || *lo < 0xDC00 || *lo > 0xDFFF) return bad("lone high surrogate in string");
            pos_ += 6;
          }
          continue;
        }
        if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't')
          return bad("invalid escape in string");
        pos_ += 2;
        continue;
      }
      if (c < 0x20) return bad("control character in string");
      if (c < 0x80) {
        ++pos_;
        continue;
      }
      // Non-ASCII: validate the one UTF-8 sequence.
      std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      if (pos_ + len > n || !core::is_valid_utf8(s_.substr(pos_, len))) return bad("invalid UTF-8 in string");
      pos_ += len;
    }
    return bad("unterminated string");
  }

  bool parse_number() {
    const std::size_t n = s_.size();
    const auto digit = [&](std::size_t i) { return i < n && s_[i] >= '0' && s_[i] <= '9'; };
    if (pos_ < n && s_[pos_] == '-') ++pos_;
    if (!digit(pos_)) return bad("invalid value");
    if (s_[pos_] == '0') {
      ++pos_;
    } else {
      while (digit(pos_)) ++pos_;
    }
    if (pos_ < n && s_[pos_] == '.') {
      ++pos_;
      if (!digit(pos_)) return bad("invalid number");
      while (digit(pos_)) ++pos_;
    }
    if (pos_ < n && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < n && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digit(pos_)) return bad("invalid number");
      while (digit(pos_)) ++pos_;
    }
    return true;
  }

  std::string_view s_;
  std::size_t max_depth_;
  std::size_t pos_ = 0;
  std::string error_;
};

void append_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

unsigned hex4(std::string_view s) {
  unsigned v = 0;
  for (const char c : s.substr(0, 4)) {
    v <<= 4;
    v |= static_cast<unsigned>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return v;
}

}  // namespace

std::optional<value> validate(std::string_view text, std::size_t max_depth, std::string* why) {
  return scanner(text, max_depth).run(why);
}

std::optional<nlohmann::json> parse(std::string_view text, std::size_t max_depth, std::string* why) {
  if (!validate(text, max_depth, why)) return std::nullopt;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) {  // only numbers beyond a double's range get here
    if (why) *why = "number out of range";
    return std::nullopt;
  }
  return j;
}

namespace {

// On text `validate` accepted: the end of the string whose opening quote is at `pos` (memchr-fast).
std::size_t skip_string(std::string_view s, std::size_t pos) {
  for (++pos;;) {
    const void* hit = std::memchr(s.data() + pos, '"', s.size() - pos);
    if (!hit) return s.size();
    const std::size_t quote = static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
    std::size_t backslashes = 0;
    while (quote - backslashes > pos && s[quote - backslashes - 1] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return quote + 1;
    pos = quote + 1;
  }
}

// On validated text: the end of the value starting at `pos`.
std::size_t skip_value(std::string_view s, std::size_t pos) {
  const char c = s[pos];
  if (c == '"') return skip_string(s, pos);
  if (c == '{' || c == '[') {
    std::size_t depth = 0;
    while (pos < s.size()) {
      const char d = s[pos];
      if (d == '"') {
        pos = skip_string(s, pos);
        continue;
      }
      if (d == '{' || d == '[') ++depth;
      if ((d == '}' || d == ']') && --depth == 0) return pos + 1;
      ++pos;
    }
    return pos;
  }
  // Literal or number: up to the next delimiter.
  while (pos < s.size() && s[pos] != ',' && s[pos] != '}' && s[pos] != ']' && s[pos] != ' ' && s[pos] != '\t' &&
         s[pos] != '\n' && s[pos] != '\r')
    ++pos;
  return pos;
}

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::vector<member> members(const value& object) {
  std::vector<member> out;
  if (object.type != kind::object) return out;
  const auto s = object.raw;
  std::size_t pos = 1;
  for (;;) {
    while (pos < s.size() && (is_ws(s[pos]) || s[pos] == ',')) ++pos;
    if (pos >= s.size() || s[pos] == '}') break;
    const std::size_t key_end = skip_string(s, pos);
    const auto key = s.substr(pos, key_end - pos);
    pos = key_end;
    while (pos < s.size() && s[pos] != ':') ++pos;
    ++pos;
    while (pos < s.size() && is_ws(s[pos])) ++pos;
    const std::size_t end = skip_value(s, pos);
    value v;
    v.raw = s.substr(pos, end - pos);
    switch (s[pos]) {
      case '{': v.type = kind::object; break;
      case '[': v.type = kind::array; break;
      case '"': v.type = kind::string; break;
      case 't': case 'f': v.type = kind::boolean; break;
      case 'n': v.type = kind::null; break;
      default: v.type = kind::number; break;
    }
    out.push_back({key, v});
    pos = end;
  }
  return out;
}

std::optional<value> find(const std::vector<member>& members, std::string_view key) {
  for (auto it = members.rbegin(); it != members.rend(); ++it) {
    const auto raw = it->key_raw;
    if (raw.find('\\') == std::string_view::npos) {
      if (raw.substr(1, raw.size() - 2) == key) return it->val;
    } else if (unescape(raw) == key) {
      return it->val;
    }
  }
  return std::nullopt;
}

std::optional<std::string> unescape(std::string_view raw) {
  if (raw.size() < 2 || raw.front() != '"' || raw.back() != '"') return std::nullopt;
  const auto body = raw.substr(1, raw.size() - 2);
  std::string out;
  out.reserve(body.size());
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (i + 1 >= body.size()) return std::nullopt;
    const char e = body[++i];
    switch (e) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        if (i + 4 >= body.size()) return std::nullopt;  // needs four hex digits at i+1..i+4
        unsigned cp = hex4(body.substr(i + 1, 4));
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < body.size() && body.substr(i + 1, 2) == "\\u") {
          const unsigned lo = hex4(body.substr(i + 3, 4));
          if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;  // a lone surrogate
        append_utf8(out, cp);
        break;
      }
      default: return std::nullopt;
    }
  }
  return out;
}

}  // namespace core::json_scan
