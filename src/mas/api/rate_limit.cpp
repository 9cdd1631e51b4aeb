#include "mas/api/rate_limit.hpp"

#include <algorithm>

namespace mas::api {

namespace {

// A burst so large it could overflow the clock is no limit in practice; one year of tokens is plenty.
constexpr double max_tolerance_seconds = 365.0 * 24 * 3600;

std::chrono::milliseconds wait_ms(rate_limiter::clock::duration d) {
  return std::max(std::chrono::milliseconds{1}, std::chrono::ceil<std::chrono::milliseconds>(d));
}

}  // namespace

rate_limiter::rate_limiter(double rate, double burst, std::size_t max_keys)
    : enabled_(rate > 0), max_keys_(std::max<std::size_t>(max_keys, 1)) {
  if (!enabled_) return;
  if (!(burst >= 1)) burst = 1;  // also catches NaN
  const double interval_s = 1.0 / rate;
  const double tolerance_s = std::min((burst - 1) * interval_s, max_tolerance_seconds);
  interval_ =
      std::chrono::round<clock::duration>(std::chrono::duration<double>(std::min(interval_s, max_tolerance_seconds)));
  tolerance_ = std::chrono::round<clock::duration>(std::chrono::duration<double>(tolerance_s));
}

std::chrono::milliseconds rate_limiter::acquire(std::string_view key, clock::time_point now) {
  if (!enabled_) return std::chrono::milliseconds{0};
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_ && !drop_full(now)) return wait_ms(next_drop_ - now);
    // A new key starts with a full bucket and takes one token from it.
    const auto full_at = now + interval_;
    buckets_.emplace(std::string(key), full_at);
    next_drop_ = std::min(next_drop_, full_at);
    return std::chrono::milliseconds{0};
  }
  const auto full_at = std::max(it->second, now);
  // Fewer than one token left: the bucket runs more than `tolerance_` ahead once this token is taken.
  if (full_at - now > tolerance_) return wait_ms(full_at - tolerance_ - now);
  it->second = full_at + interval_;
  return std::chrono::milliseconds{0};
}

bool rate_limiter::drop_full(clock::time_point now) {
  if (now < next_drop_) return false;
  const auto before = buckets_.size();
  auto earliest = clock::time_point::max();
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if (it->second <= now) {
      it = buckets_.erase(it);
    } else {
      earliest = std::min(earliest, it->second);
      ++it;
    }
  }
  next_drop_ = earliest;
  return buckets_.size() < before;
}

}  // namespace mas::api
