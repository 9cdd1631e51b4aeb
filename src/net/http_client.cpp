#include "net/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace net {
namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// Initial receive buffer: a chat reply with its head is about 1.5 KiB; pipelined replies grow it once.
constexpr std::size_t initial_buffer = 4096;
/// Smallest free space offered to a read, so a response is never read a few bytes at a time.
constexpr std::size_t min_read = 1024;

class http_error_category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "net.http_client"; }
  std::string message(int value) const override {
    switch (static_cast<http_error>(value)) {
      case http_error::head_too_large:
        return "response head over 16 KiB";
      case http_error::body_too_large:
        return "response body over 8 MiB";
      case http_error::too_many_headers:
        return "more than 64 response headers";
      case http_error::malformed_status_line:
        return "malformed status line";
      case http_error::malformed_header:
        return "malformed response header";
      case http_error::chunked_not_supported:
        return "Transfer-Encoding in a response (only Content-Length bodies are supported)";
      case http_error::no_content_length:
        return "response without Content-Length (close-delimited bodies are not supported)";
      case http_error::closed:
        return "connection closed by the server before a complete response";
    }
    return "unknown bench.http error";
  }
};

bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

/// True when the comma-separated header value contains `token` (ASCII case-insensitive).
bool has_token(std::string_view value, std::string_view token) noexcept {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (ascii_iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

/// Splits `text` at `separator` outside double-quoted strings; calls `each` per trimmed piece until it returns true.
template <typename Visit>
bool split_unquoted(std::string_view text, char separator, Visit each) {
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted && c == '\\') {
      ++i;  // quoted-pair: the next character is literal
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == separator && !quoted) {
      if (each(trim(text.substr(start, i - start)))) return true;
      start = i + 1;
    }
  }
  return each(trim(text.substr(std::min(start, text.size()))));
}

}  // namespace

const boost::system::error_category& http_category() noexcept {
  static const http_error_category category;
  return category;
}

std::optional<std::string_view> http_response_view::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (ascii_iequals(k, name)) return v;
  return std::nullopt;
}

std::optional<http_url> parse_http_url(std::string_view text) {
  constexpr std::string_view scheme = "http://";
  if (text.size() < scheme.size() || !ascii_iequals(text.substr(0, scheme.size()), scheme)) return std::nullopt;
  text.remove_prefix(scheme.size());
  const auto authority = text.substr(0, text.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) return std::nullopt;
  return parse_authority(authority);
}

std::optional<http_url> parse_authority(std::string_view authority) {
  if (authority.empty()) return std::nullopt;
  http_url url;
  if (authority.front() == '[') {  // [v6]:port
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    url.host = authority.substr(1, close - 1);
    const auto rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
    url.port = rest.empty() ? "80" : std::string(rest.substr(1));
  } else {
    const auto colon = authority.rfind(':');
    url.host = authority.substr(0, colon);
    url.port = colon == std::string_view::npos ? "80" : std::string(authority.substr(colon + 1));
  }
  if (url.host.empty() || url.port.empty()) return std::nullopt;
  return url;
}

std::string http_post(std::string_view host_header, std::string_view target, std::string_view content_type,
                      std::string_view body) {
  std::string out;
  out.reserve(128 + host_header.size() + target.size() + content_type.size() + body.size());
  out.append("POST ").append(target).append(" HTTP/1.1\r\nHost: ").append(host_header);
  out.append("\r\nContent-Type: ").append(content_type);
  out.append("\r\nContent-Length: ").append(std::to_string(body.size())).append("\r\n\r\n").append(body);
  return out;
}

std::string http_request_text(std::string_view method, std::string_view host_header, std::string_view target,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              std::string_view content_type, std::string_view body) {
  std::string out;
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ").append(host_header);
  for (const auto& [name, value] : headers) out.append("\r\n").append(name).append(": ").append(value);
  if (!content_type.empty()) out.append("\r\nContent-Type: ").append(content_type);
  if (!body.empty() || method == "POST" || method == "PUT")
    out.append("\r\nContent-Length: ").append(std::to_string(body.size()));
  out.append("\r\n\r\n").append(body);
  return out;
}

asio::awaitable<boost::system::result<fetched>> fetch(asio::any_io_executor executor, http_url url,
                                                      std::string request, std::chrono::milliseconds timeout) {
  using namespace asio::experimental::awaitable_operators;
  auto exchange = [&]() -> asio::awaitable<boost::system::result<fetched>> {
    tcp::resolver resolver(executor);
    auto [rec, endpoints] = co_await resolver.async_resolve(url.host, url.port, use_tuple);
    if (rec) co_return rec;
    http_client client(executor);
    error_code ec = asio::error::host_not_found;
    for (const auto& e : endpoints) {
      ec = co_await client.connect(e.endpoint());
      if (!ec) break;
      client.abort();
    }
    if (ec) co_return ec;
    client.send(request);
    http_response_view view;
    if (ec = co_await client.read_response(view); ec) co_return ec;
    fetched out;
    out.status = view.status;
    for (const auto& [k, v] : view.headers) out.headers.emplace_back(std::string(k), std::string(v));
    out.body = std::string(view.body);
    client.abort();
    co_return out;
  };
  asio::steady_timer timer(executor, timeout);
  auto outcome = co_await (exchange() || timer.async_wait(use_tuple));
  if (outcome.index() == 1) co_return error_code(asio::error::timed_out);
  co_return std::get<0>(std::move(outcome));
}

std::string http_get(std::string_view host_header, std::string_view target) {
  std::string out;
  out.append("GET ").append(target).append(" HTTP/1.1\r\nHost: ").append(host_header).append("\r\n\r\n");
  return out;
}

std::optional<double> server_timing_ms(std::string_view value, std::string_view metric) {
  std::optional<double> found;
  split_unquoted(value, ',', [&](std::string_view entry) {
    bool first = true;
    bool ours = false;
    split_unquoted(entry, ';', [&](std::string_view part) {
      if (first) {
        first = false;
        ours = ascii_iequals(part, metric);
        return !ours;  // another metric: stop looking at its parameters
      }
      const auto eq = part.find('=');
      if (eq == std::string_view::npos || !ascii_iequals(trim(part.substr(0, eq)), "dur")) return false;
      auto number = trim(part.substr(eq + 1));
      if (number.size() >= 2 && number.front() == '"' && number.back() == '"')
        number = number.substr(1, number.size() - 2);
      double ms = 0;
      const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), ms);
      if (ec == std::errc{} && end == number.data() + number.size() && ms >= 0) found = ms;
      return true;
    });
    return ours;
  });
  return found;
}

http_client::http_client(const asio::any_io_executor& executor) : socket_(executor), in_(initial_buffer) {}

asio::awaitable<error_code> http_client::connect(tcp::endpoint server) {
  if (auto [ec] = co_await socket_.async_connect(server, use_tuple); ec) co_return ec;
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  co_return error_code{};
}

void http_client::send(std::string_view request) {
  out_.append(request);
  flush();
}

void http_client::flush() {
  if (write_in_flight_ || out_.empty() || !socket_.is_open()) return;
  write_in_flight_ = true;
  writing_.swap(out_);
  out_.clear();
  asio::async_write(socket_, asio::buffer(writing_), [this](error_code ec, std::size_t) {
    write_in_flight_ = false;
    writing_.clear();
    if (ec) {
      write_error_ = ec;
      abort();  // the pending read ends and reports write_error_
      return;
    }
    flush();
  });
}

void http_client::abort() {
  error_code ignored;
  socket_.close(ignored);
}

void http_client::make_room(std::size_t want) {
  if (in_.size() - end_ >= want) return;
  if (begin_ > 0) {
    std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (in_.size() - end_ < want) in_.resize(std::max(end_ + want, in_.size() * 2));
}

asio::awaitable<error_code> http_client::read_response(http_response_view& out) {
  begin_ += consumed_;
  consumed_ = 0;
  if (begin_ == end_) begin_ = end_ = 0;
  out.headers.clear();
  out.body = {};
  out.status = 0;

  auto read_more = [this]() -> asio::awaitable<error_code> {
    make_room(min_read);
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(in_.data() + end_, in_.size() - end_), use_tuple);
    if (ec && write_error_) co_return write_error_;
    if (ec == asio::error::eof) co_return make_error_code(http_error::closed);
    if (!ec) end_ += n;
    co_return ec;
  };

  for (;;) {
    std::size_t head_bytes = 0;
    std::size_t scanned = 0;  // bytes after begin_ already searched for the blank line
    for (;;) {
      const std::string_view avail(in_.data() + begin_, end_ - begin_);
      const auto pos = avail.find("\r\n\r\n", scanned >= 3 ? scanned - 3 : 0);
      if (pos != std::string_view::npos) {
        head_bytes = pos + 4;
        break;
      }
      if (avail.size() >= http_limits::max_response_head) co_return make_error_code(http_error::head_too_large);
      scanned = avail.size();
      if (auto ec = co_await read_more(); ec) co_return ec;
    }
    if (head_bytes > http_limits::max_response_head) co_return make_error_code(http_error::head_too_large);

    std::size_t length = 0;
    if (auto ec = parse_head(head_bytes, out, length); ec) co_return ec;
    if (out.status >= 100 && out.status < 200) {  // interim response (RFC 9110 15.2): the final one follows
      begin_ += head_bytes;
      out.headers.clear();
      continue;
    }
    const std::size_t total = head_bytes + length;
    if (end_ - begin_ < total) {
      make_room(total - (end_ - begin_));
      while (end_ - begin_ < total)
        if (auto ec = co_await read_more(); ec) co_return ec;
      // The buffer may have moved under the views: take them again from the bytes' new place.
      out.headers.clear();
      if (auto ec = parse_head(head_bytes, out, length); ec) co_return ec;
    }
    out.body = std::string_view(in_.data() + begin_ + head_bytes, length);
    consumed_ = total;
    co_return error_code{};
  }
}

error_code http_client::parse_head(std::size_t head_bytes, http_response_view& out, std::size_t& content_length) const {
  // RFC 9112 section 4: HTTP-version SP 3DIGIT SP [reason-phrase] CRLF.
  const std::string_view head(in_.data() + begin_, head_bytes - 2);  // every line ends with CRLF
  const auto status_end = head.find("\r\n");
  const auto line = head.substr(0, status_end);
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[7] < '0' || line[7] > '9' || line[8] != ' ' ||
      (line.size() > 12 && line[12] != ' '))
    return make_error_code(http_error::malformed_status_line);
  int status = 0;
  if (auto [end, ec] = std::from_chars(line.data() + 9, line.data() + 12, status);
      ec != std::errc{} || end != line.data() + 12)
    return make_error_code(http_error::malformed_status_line);
  out.status = status;
  out.version_minor = line[7] - '0';

  bool close = false;
  bool keep_alive_token = false;
  std::optional<std::size_t> length;
  for (std::size_t pos = status_end + 2; pos < head.size();) {
    const auto eol = head.find("\r\n", pos);
    const auto field = head.substr(pos, eol - pos);
    pos = eol + 2;
    const auto colon = field.find(':');
    // A line starting with whitespace is obsolete line folding (RFC 9112 5.2): refused, as servers must.
    if (colon == std::string_view::npos || colon == 0 || field.front() == ' ' || field.front() == '\t')
      return make_error_code(http_error::malformed_header);
    if (out.headers.size() == http_limits::max_response_headers) return make_error_code(http_error::too_many_headers);
    const auto name = field.substr(0, colon);
    const auto value = trim(field.substr(colon + 1));
    out.headers.emplace_back(name, value);
    if (ascii_iequals(name, "content-length")) {
      std::size_t n = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc{} || end != value.data() + value.size() || (length && *length != n))
        return make_error_code(http_error::malformed_header);
      length = n;
    } else if (ascii_iequals(name, "transfer-encoding")) {
      return make_error_code(http_error::chunked_not_supported);
    } else if (ascii_iequals(name, "connection")) {
      close = close || has_token(value, "close");
      keep_alive_token = keep_alive_token || has_token(value, "keep-alive");
    }
  }
  out.keep_alive = !close && (out.version_minor >= 1 || keep_alive_token);

  // RFC 9112 section 6.3: these never carry a body, whatever the headers say.
  if ((status >= 100 && status < 200) || status == 204 || status == 304) {
    content_length = 0;
    return {};
  }
  if (!length) return make_error_code(http_error::no_content_length);
  if (*length > http_limits::max_response_body) return make_error_code(http_error::body_too_large);
  content_length = *length;
  return {};
}

}  // namespace net
