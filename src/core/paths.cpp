#include "core/paths.hpp"

#include <filesystem>
#include <system_error>

namespace core {

std::string shipped_dir(std::string_view source_path, std::string_view name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(fs::path(source_path), ec)) return std::string(source_path);
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto installed = self.parent_path().parent_path() / "share" / "sparc" / std::string(name);
    if (fs::is_directory(installed, ec)) return installed.string();
  }
  return std::string(source_path);
}

}  // namespace core
