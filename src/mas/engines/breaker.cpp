#include "mas/engines/breaker.hpp"

#include <algorithm>

namespace mas::engines {

circuit_breaker::circuit_breaker(int failure_threshold, std::chrono::milliseconds cooldown)
    : threshold_(std::max(failure_threshold, 1)), cooldown_(std::max(cooldown, std::chrono::milliseconds{0})) {}

bool circuit_breaker::allow(clock::time_point now) {
  switch (state_) {
    case state::closed:
      return true;
    case state::open:
    case state::half_open:
      // open: the cooldown since opening; half_open: the trial outstanding for a whole cooldown is presumed lost.
      if (now - since_ < cooldown_) return false;
      state_ = state::half_open;
      since_ = now;
      return true;
  }
  return false;
}

void circuit_breaker::record_success() {
  state_ = state::closed;
  failures_ = 0;
}

void circuit_breaker::record_failure(clock::time_point now) {
  switch (state_) {
    case state::closed:
      if (++failures_ < threshold_) return;
      break;
    case state::half_open:
      break;
    case state::open:
      return;  // a call let through before it opened: the cooldown keeps running from the opening
  }
  state_ = state::open;
  since_ = now;
}

circuit_breaker::state circuit_breaker::current(clock::time_point now) const {
  if (state_ == state::open && now - since_ >= cooldown_) return state::half_open;
  return state_;
}

std::chrono::milliseconds circuit_breaker::retry_after(clock::time_point now) const {
  if (state_ == state::closed) return std::chrono::milliseconds{0};
  const auto left = since_ + cooldown_ - now;
  if (left <= clock::duration::zero()) return std::chrono::milliseconds{0};
  return std::chrono::ceil<std::chrono::milliseconds>(left);
}

std::string_view to_string(circuit_breaker::state s) noexcept {
  switch (s) {
    case circuit_breaker::state::closed:
      return "closed";
    case circuit_breaker::state::open:
      return "open";
    case circuit_breaker::state::half_open:
      return "half_open";
  }
  return "unknown";
}

}  // namespace mas::engines
