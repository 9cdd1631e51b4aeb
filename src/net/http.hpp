#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace net {

/// Bounds applied while parsing one HTTP/1.1 request.
struct http_parse_limits {
  std::size_t max_header_bytes = std::size_t{8} * 1024;  ///< request line + headers; browsers send < 2 KiB
  std::size_t max_headers = 64;
  std::size_t max_body_bytes = std::size_t{256} * 1024;  ///< SDP offers with many codecs stay far below this
};

struct http_request {
  std::string method;
  std::string target;  ///< as sent: path plus optional query
  std::string path;    ///< percent-decoded path, no query
  std::string query;   ///< raw query string without '?'
  int version_minor = 1;
  std::vector<std::pair<std::string, std::string>> headers;  ///< names lowercased, values trimmed
  std::string body;

  /// The first header with this lowercase name, if any.
  std::optional<std::string_view> header(std::string_view lower_name) const;
  /// A query parameter (raw, not decoded), if present.
  std::optional<std::string_view> query_param(std::string_view name) const;
  bool keep_alive() const;
  bool wants_websocket() const;
  /// The client sent "Expect: 100-continue" and waits before sending the body (RFC 9110 10.1.1).
  bool expects_continue() const;
};

enum class parse_status { need_more, done, error };

struct parse_outcome {
  parse_status status = parse_status::need_more;
  std::size_t consumed = 0;  ///< bytes of the buffer that made up the request (when done)
  bool headers_complete = false;  ///< need_more, but only the body is missing
  int error_status = 0;      ///< HTTP status to answer with (when error)
  std::string error;         ///< short reason (when error)
};

/// Parses one request from the start of `buffer`. Pure and bounded; never throws on any input.
parse_outcome parse_request(std::string_view buffer, const http_parse_limits& limits, http_request& out);

struct http_response {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;  ///< close the connection after sending
};

/// Serialises a response; `head_only` omits the body but keeps Content-Length.
std::string serialize(const http_response& response, bool keep_alive, bool head_only = false);

/// Reason phrase for a status code ("Not Found").
std::string_view status_text(int status) noexcept;

/// A response whose body is the reason phrase as text/plain, the way the reference server answers errors.
http_response text_response(int status, std::string body = {});

/// A JSON error response with body {"error":{"code":..,"message":..}}.
http_response json_error(int status, std::string_view code, std::string_view message);

/// Decodes %XX escapes; returns nullopt on a malformed escape or an encoded NUL.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace net
