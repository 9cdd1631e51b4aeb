#pragma once
#include <cstddef>
#include <deque>
#include <functional>

namespace mas::api {

/// A concurrency gate for expensive work (turns): at most `max_active` run, `max_queued` wait in FIFO order, the rest
/// are refused at once so overload costs a client a 503, not a timeout. Single-threaded (the event loop).
class admission {
 public:
  using task = std::function<void()>;

  /// max_active 0 is raised to 1 (a gate that never opens would only queue); max_queued 0 means no waiting.
  admission(std::size_t max_active, std::size_t max_queued);

  /// Runs `start` now (inside this call) when fewer than max_active are active, queues it when the queue has room,
  /// else returns false and drops it (the caller answers 503). Each started task must later call leave() exactly once.
  /// Called from inside a task's `start`, a task that may start at once runs right after that `start` returns.
  /// `start` must be callable and must not throw (it would propagate, and its task would stay counted as active).
  bool enter(task start);

  /// Ends one active task; starts the oldest queued one, if any (inside this call). A task may call it from inside
  /// its own `start`: queued tasks then start one after another in a loop, never by recursion.
  void leave();

  std::size_t active() const noexcept { return active_; }
  std::size_t queued() const noexcept { return queue_.size(); }

 private:
  /// Starts queued tasks while there is room; a no-op when already running further up the stack.
  void drain();

  std::size_t max_active_;
  std::size_t max_queued_;
  std::size_t active_ = 0;
  std::deque<task> queue_;
  bool draining_ = false;
};

}  // namespace mas::api
