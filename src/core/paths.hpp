#pragma once
// Where read-only data the binaries ship with (web/, data/) lives: the source tree a build was made from, or an
// installed tree (cmake --install: bin/ beside share/sparc/), so copied or installed binaries still find it.

#include <string>
#include <string_view>

namespace core {

/// `source_path` when it exists; else `<folder of this executable>/../share/sparc/<name>` when that exists; else
/// `source_path` (the caller's error then names the path it expected).
std::string shipped_dir(std::string_view source_path, std::string_view name);

}  // namespace core
