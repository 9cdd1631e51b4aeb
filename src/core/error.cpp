#include "core/error.hpp"

namespace core {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "sparc"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "ok";
      case errc::invalid_argument: return "invalid argument";
      case errc::malformed: return "malformed input";
      case errc::wrong_type: return "field has the wrong type";
      case errc::missing_field: return "required field missing";
      case errc::too_large: return "size limit exceeded";
      case errc::too_deep: return "nesting limit exceeded";
      case errc::not_found: return "not found";
      case errc::conflict: return "already in use";
      case errc::rate_limited: return "rate limited";
      case errc::unavailable: return "unavailable";
      case errc::timed_out: return "timed out";
      case errc::io_error: return "i/o error";
      case errc::unsupported: return "unsupported";
    }
    return "unknown error";
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace core
