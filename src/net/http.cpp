#include "net/http.hpp"

#include "core/encoding.hpp"

#include <algorithm>
#include <charconv>

namespace net {
namespace {

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True when the comma-separated header value contains `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

parse_outcome fail(int status, std::string reason) {
  return {parse_status::error, 0, false, status, std::move(reason)};
}

}  // namespace

std::optional<std::string_view> http_request::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return std::string_view(v);
  return std::nullopt;
}

std::optional<std::string_view> http_request::query_param(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    const auto amp = q.find('&');
    const auto pair = q.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

bool http_request::keep_alive() const {
  const auto conn = header("connection");
  if (version_minor == 0) return conn && has_token(*conn, "keep-alive");
  return !(conn && has_token(*conn, "close"));
}

bool http_request::expects_continue() const {
  const auto expect = header("expect");
  return version_minor == 1 && expect && iequals(*expect, "100-continue");
}

bool http_request::wants_websocket() const {
  const auto upgrade = header("upgrade");
  const auto conn = header("connection");
  return upgrade && conn && has_token(*upgrade, "websocket") && has_token(*conn, "upgrade");
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    unsigned value = 0;
    const auto [p, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (ec != std::errc{} || p != text.data() + i + 3 || value == 0) return std::nullopt;
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

parse_outcome parse_request(std::string_view buf, const http_parse_limits& limits, http_request& out) {
  const auto end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (buf.size() > limits.max_header_bytes) return fail(431, "request header fields too large");
    return {};
  }
  if (end + 4 > limits.max_header_bytes) return fail(431, "request header fields too large");

  std::string_view head = buf.substr(0, end + 2);  // keep the final CRLF of the last header line
  const auto line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  head.remove_prefix(line_end + 2);

  // Request line: method SP target SP HTTP/1.x
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return fail(400, "malformed request line");
  const auto method = line.substr(0, sp1);
  const auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const auto version = line.substr(sp2 + 1);
  if (!is_token(method)) return fail(400, "malformed method");
  if (target.empty() || target.size() > 4096) return fail(target.empty() ? 400 : 414, "bad request target");
  for (const char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return fail(400, "bad request target");
  if (version == "HTTP/1.1") {
    out.version_minor = 1;
  } else if (version == "HTTP/1.0") {
    out.version_minor = 0;
  } else if (version.substr(0, 5) == "HTTP/") {
    return fail(505, "http version not supported");
  } else {
    return fail(400, "malformed request line");
  }

  out.method.assign(method);
  out.target.assign(target);
  out.headers.clear();
  out.body.clear();
  std::string_view path_part = target;
  out.query.clear();
  if (const auto q = target.find('?'); q != std::string_view::npos) {
    path_part = target.substr(0, q);
    out.query.assign(target.substr(q + 1));
  }
  if (path_part != "*" && (path_part.empty() || path_part.front() != '/')) {
    // absolute-form (proxies): keep only the path
    const auto scheme = path_part.find("://");
    if (scheme == std::string_view::npos) return fail(400, "bad request target");
    const auto slash = path_part.find('/', scheme + 3);
    path_part = slash == std::string_view::npos ? std::string_view("/") : path_part.substr(slash);
  }
  auto decoded = percent_decode(path_part);
  if (!decoded) return fail(400, "bad percent-encoding in path");
  out.path = std::move(*decoded);

  std::optional<std::size_t> content_length;
  while (!head.empty()) {
    const auto eol = head.find("\r\n");
    const auto hline = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    if (hline.empty()) continue;
    if (hline.front() == ' ' || hline.front() == '\t') return fail(400, "obsolete header folding");
    const auto colon = hline.find(':');
    if (colon == std::string_view::npos) return fail(400, "malformed header");
    const auto name = hline.substr(0, colon);
    if (!is_token(name)) return fail(400, "malformed header name");
    const auto value = trim(hline.substr(colon + 1));
    for (const char c : value)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return fail(400, "control character in header");
    if (out.headers.size() >= limits.max_headers) return fail(431, "too many headers");
    out.headers.emplace_back(core::ascii_lower(name), std::string(value));
    const auto& key = out.headers.back().first;
    if (key == "content-length") {
      std::size_t n = 0;
      const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc{} || p != value.data() + value.size() || value.empty()) return fail(400, "bad content-length");
      if (content_length && *content_length != n) return fail(400, "conflicting content-length");
      content_length = n;
    } else if (key == "transfer-encoding") {
      return fail(501, "transfer-encoding is not supported; send Content-Length");
    }
  }
  if (out.version_minor == 1 && !out.header("host")) return fail(400, "missing host header");

  const std::size_t body_len = content_length.value_or(0);
  if (body_len > limits.max_body_bytes) return fail(413, "request body too large");
  const std::size_t total = end + 4 + body_len;
  if (buf.size() < total) return {parse_status::need_more, 0, true, 0, {}};
  out.body.assign(buf.substr(end + 4, body_len));
  return {parse_status::done, total, true, 0, {}};
}

std::string_view status_text(int status) noexcept {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string serialize(const http_response& r, bool keep_alive, bool head_only) {
  std::string out;
  out.reserve(160 + r.body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out += status_text(r.status);
  out += "\r\n";
  if (!r.content_type.empty()) {
    out += "Content-Type: ";
    out += r.content_type;
    out += "\r\n";
  }
  for (const auto& [k, v] : r.headers) {
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  if (r.status != 101 && r.status != 204 && r.status != 304) {
    out += "Content-Length: ";
    out += std::to_string(r.body.size());
    out += "\r\n";
  }
  if (r.status != 101) out += (keep_alive && !r.close) ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "\r\n";
  if (!head_only) out += r.body;
  return out;
}

http_response text_response(int status, std::string body) {
  http_response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = body.empty() ? std::string(status_text(status)) : std::move(body);
  return r;
}

http_response json_error(int status, std::string_view code, std::string_view message) {
  http_response r;
  r.status = status;
  r.content_type = "application/json; charset=utf-8";
  r.body = R"({"error":{"code":)";
  core::append_json_string(r.body, code);
  r.body += R"(,"message":)";
  core::append_json_string(r.body, message);
  r.body += "}}";
  return r;
}

}  // namespace net
