#pragma once
#include <string>
#include <string_view>

namespace core {

/// A random RFC 4122 version-4 UUID in lowercase, from the OS CSPRNG.
std::string uuid_v4();

/// True for the canonical 36-character lowercase or uppercase UUID text form.
bool is_uuid(std::string_view text) noexcept;

}  // namespace core
