#pragma once
#include "net/http.hpp"

#include <filesystem>
#include <optional>
#include <string_view>

namespace net {

/// Files above this size are not served (the web client is a few small files).
inline constexpr std::uintmax_t max_static_file_bytes = std::uintmax_t{16} * 1024 * 1024;

/// MIME type for a file name by extension; application/octet-stream when unknown.
std::string_view mime_type(std::string_view filename) noexcept;

/// Serves `relative` (a decoded URL path below the mount point) from `root` for GET/HEAD. Rejects
/// traversal ("..", NUL, backslashes) and symlinks that leave the root. A directory serves its
/// index.html. Returns nullopt when there is no such file. Sets ETag and Cache-Control and answers
/// If-None-Match with 304.
std::optional<http_response> serve_static(const http_request& request, const std::filesystem::path& root,
                                          std::string_view relative);

}  // namespace net
