#pragma once
#include <chrono>
#include <string_view>

namespace mas::engines {

/// Fails fast after repeated engine failures so a dead model server costs clients milliseconds, not timeouts.
/// Single-threaded (the event loop). Every allowed call should end in record_success() or record_failure().
class circuit_breaker {
 public:
  using clock = std::chrono::steady_clock;
  enum class state { closed, open, half_open };

  /// A threshold below 1 is raised to 1.
  circuit_breaker(int failure_threshold, std::chrono::milliseconds cooldown);

  /// closed: true. open: false until `cooldown` has passed since it opened, then half_open and true for exactly one
  /// trial call (false for others while the trial is outstanding). A trial that has not reported after another
  /// `cooldown` counts as lost (its caller vanished) and the next call becomes the trial, so a lost report cannot
  /// keep the breaker shut forever.
  bool allow(clock::time_point now);
  void record_success();                       ///< closes and resets the failure count
  void record_failure(clock::time_point now);  ///< opens at the threshold; a failed trial reopens
  /// The state a call at `now` would meet: an open breaker whose cooldown has passed reports half_open.
  state current(clock::time_point now) const;
  /// Time until a call would be allowed again (0 when allowed now); for Retry-After.
  std::chrono::milliseconds retry_after(clock::time_point now) const;
  /// Consecutive failures counted while closed, kept while open (for the log line when it opens).
  int failures() const noexcept { return failures_; }

 private:
  int threshold_;
  std::chrono::milliseconds cooldown_;
  state state_ = state::closed;
  int failures_ = 0;
  clock::time_point since_{};  // open: when it opened; half_open: when the trial was allowed
};

/// "closed", "open", "half_open".
std::string_view to_string(circuit_breaker::state s) noexcept;

}  // namespace mas::engines
