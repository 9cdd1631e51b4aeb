#pragma once
#include <boost/system/result.hpp>
#include <string>
#include <system_error>

namespace core {

/// Every failure the project reports, independent of the boundary (HTTP, WebSocket, CLI) it ends at.
enum class errc {
  ok = 0,
  invalid_argument = 1,  ///< a value is present but unusable
  malformed,             ///< input does not parse (JSON, HTTP, WebSocket framing)
  wrong_type,            ///< parsed, but a field has the wrong JSON type
  missing_field,         ///< a required field is absent
  too_large,             ///< a size limit was exceeded
  too_deep,              ///< nesting limit exceeded
  not_found,             ///< unknown session, file or route
  conflict,              ///< the resource is taken (private-mode connection id in use)
  rate_limited,          ///< too many requests or messages
  unavailable,           ///< a dependency or capacity is missing
  timed_out,
  io_error,
  unsupported,
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

template <class T>
using result = boost::system::result<T>;

}  // namespace core

template <>
struct boost::system::is_error_code_enum<core::errc> : std::true_type {};
