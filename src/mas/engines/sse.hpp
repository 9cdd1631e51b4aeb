#pragma once
// Server-sent events (the WHATWG event-stream format) as OpenAI-compatible servers stream completions: lines of
// "data: ..." ending in a blank line. Only the data field matters here; comments, event names and ids are skipped.
#include "core/error.hpp"

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace mas::engines {

class sse_parser {
 public:
  /// `max_event` bounds one event's data (and one line): a longer one is a broken stream, not a long reply.
  explicit sse_parser(std::size_t max_event = std::size_t{1} << 20) : max_event_(max_event) {}

  /// Feeds the next bytes; `on_data` receives each complete event's data (multi-line data joined with "\n").
  /// Fails with too_large when a line or an event exceeds the bound; the parser is then unusable.
  core::result<void> feed(std::string_view bytes, const std::function<void(std::string_view)>& on_data);

 private:
  void line_done(const std::function<void(std::string_view)>& on_data);

  std::size_t max_event_;
  std::string line_;
  std::string data_;
  bool has_data_ = false;
  bool after_cr_ = false;  ///< the last byte was CR: a following LF belongs to the same line end
};

}  // namespace mas::engines
