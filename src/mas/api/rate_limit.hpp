#pragma once
// Per-key request rate limits for sparc-mas.
//
// Each key's bucket is kept as the time its bucket will be full again (the "theoretical arrival time" of the generic
// cell rate algorithm), which is the token bucket in one time point: integer arithmetic, no refill step, and "full
// again" is simply `full_at <= now`. A full bucket is indistinguishable from an absent key, so dropping it loses
// nothing; that is what keeps memory bounded without changing anyone's limit.

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mas::api {

/// Token buckets keyed by a string (an API key id, a session id): `rate` tokens per second, at most `burst`.
class rate_limiter {
 public:
  using clock = std::chrono::steady_clock;

  /// rate <= 0 disables the limiter (every acquire succeeds). max_keys bounds memory: when a new key would exceed it,
  /// buckets that are full again (idle long enough) are dropped first; if none can be dropped the new key is refused.
  /// A burst below 1 is raised to 1 (else no request could ever pass) and max_keys 0 to 1.
  rate_limiter(double rate, double burst, std::size_t max_keys);

  /// Takes one token for `key`. Returns 0 ms when allowed, else how long until a token will be available (>= 1 ms).
  /// A refused new key (table full) gets the time until the first bucket can be dropped.
  std::chrono::milliseconds acquire(std::string_view key, clock::time_point now);

  /// Keys currently tracked (full buckets may linger until room is needed).
  std::size_t keys() const noexcept { return buckets_.size(); }
  /// False when constructed with rate <= 0.
  bool enabled() const noexcept { return enabled_; }

 private:
  struct key_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  /// Drops every full bucket; returns false when none could be dropped.
  bool drop_full(clock::time_point now);

  bool enabled_;
  clock::duration interval_{};   // time to earn one token (1 / rate)
  clock::duration tolerance_{};  // (burst - 1) intervals: how far full_at may run ahead of now
  std::size_t max_keys_;
  // key -> the time its bucket is full again
  std::unordered_map<std::string, clock::time_point, key_hash, std::equal_to<>> buckets_;
  // No bucket is full before this, so a table-full refusal before it needs no scan (keeps refusals O(1)).
  clock::time_point next_drop_ = clock::time_point::min();
};

}  // namespace mas::api
