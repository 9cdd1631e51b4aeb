#include "mas/api/admission.hpp"

#include <algorithm>
#include <utility>

namespace mas::api {

admission::admission(std::size_t max_active, std::size_t max_queued)
    : max_active_(std::max<std::size_t>(max_active, 1)), max_queued_(max_queued) {}

bool admission::enter(task start) {
  // A task may start now only if nobody is waiting ahead of it (FIFO); otherwise it needs a place in the queue.
  const bool may_start = active_ < max_active_ && queue_.empty();
  if (!may_start && queue_.size() >= max_queued_) return false;
  queue_.push_back(std::move(start));
  drain();
  return true;
}

void admission::leave() {
  if (active_ > 0) --active_;  // an unmatched leave() is a caller bug; never let the count wrap
  drain();
}

void admission::drain() {
  if (draining_) return;  // an outer drain() on this stack picks up whatever became possible
  draining_ = true;
  struct reset {
    bool& flag;
    ~reset() { flag = false; }
  } guard{draining_};
  while (active_ < max_active_ && !queue_.empty()) {
    task next = std::move(queue_.front());
    queue_.pop_front();
    ++active_;
    next();
  }
}

}  // namespace mas::api
