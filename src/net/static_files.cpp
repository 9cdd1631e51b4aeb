#include "net/static_files.hpp"

#include <fstream>
#include <iterator>
#include <system_error>

namespace net {

std::string_view mime_type(std::string_view name) noexcept {
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  const auto ext = name.substr(dot + 1);
  if (ext == "html" || ext == "htm") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "json" || ext == "map") return "application/json; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "gif") return "image/gif";
  if (ext == "ico") return "image/x-icon";
  if (ext == "webp") return "image/webp";
  if (ext == "wasm") return "application/wasm";
  if (ext == "txt") return "text/plain; charset=utf-8";
  if (ext == "woff2") return "font/woff2";
  if (ext == "woff") return "font/woff";
  if (ext == "wav") return "audio/wav";
  if (ext == "mp4") return "video/mp4";
  return "application/octet-stream";
}

std::optional<http_response> serve_static(const http_request& req, const std::filesystem::path& root,
                                          std::string_view relative) {
  namespace fs = std::filesystem;
  // Segment-wise check: no "..", no empty tricks, no NUL or backslash, no hidden dot-files.
  std::string rel(relative);
  if (rel.find('\0') != std::string::npos || rel.find('\\') != std::string::npos) return std::nullopt;
  fs::path path = root;
  std::size_t pos = 0;
  while (pos <= rel.size()) {
    const auto slash = rel.find('/', pos);
    const auto seg = rel.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    if (seg == ".." || (!seg.empty() && seg.front() == '.')) return std::nullopt;
    if (!seg.empty()) path /= seg;
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  std::error_code ec;
  if (fs::is_directory(path, ec)) path /= "index.html";
  const auto canonical_root = fs::weakly_canonical(root, ec);
  const auto canonical = fs::weakly_canonical(path, ec);
  if (ec) return std::nullopt;
  const auto [root_end, _] = std::mismatch(canonical_root.begin(), canonical_root.end(), canonical.begin(), canonical.end());
  if (root_end != canonical_root.end()) return std::nullopt;  // a symlink led outside the root
  if (!fs::is_regular_file(canonical, ec)) return std::nullopt;
  const auto size = fs::file_size(canonical, ec);
  if (ec || size > max_static_file_bytes) return std::nullopt;
  const auto mtime = fs::last_write_time(canonical, ec);
  if (ec) return std::nullopt;

  http_response r;
  const auto stamp = static_cast<unsigned long long>(mtime.time_since_epoch().count());
  const std::string etag = "\"" + std::to_string(size) + "-" + std::to_string(stamp) + "\"";
  r.headers.emplace_back("ETag", etag);
  const std::string name = canonical.filename().string();
  // HTML revalidates every time so a deploy is picked up; assets may be cached briefly.
  r.headers.emplace_back("Cache-Control", name.ends_with(".html") ? "no-cache" : "public, max-age=300");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.content_type = std::string(mime_type(name));
  if (const auto inm = req.header("if-none-match"); inm && *inm == etag) {
    r.status = 304;
    return r;
  }
  std::ifstream in(canonical, std::ios::binary);
  if (!in) return std::nullopt;
  r.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return r;
}

}  // namespace net
