#include "mas/engines/sse.hpp"

namespace mas::engines {

void sse_parser::line_done(const std::function<void(std::string_view)>& on_data) {
  if (line_.empty()) {  // a blank line dispatches the event
    if (has_data_) on_data(data_);
    data_.clear();
    has_data_ = false;
    return;
  }
  std::string_view line = line_;
  if (line.front() == ':') return;  // a comment (servers send them as keep-alives)
  const auto colon = line.find(':');
  const auto field = line.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field != "data") return;
  if (has_data_) data_ += '\n';
  data_ += value;
  has_data_ = true;
}

core::result<void> sse_parser::feed(std::string_view bytes, const std::function<void(std::string_view)>& on_data) {
  for (const char c : bytes) {
    if (c == '\n' && after_cr_) {
      after_cr_ = false;
      continue;
    }
    after_cr_ = c == '\r';
    if (c == '\n' || c == '\r') {
      line_done(on_data);
      line_.clear();
      continue;
    }
    line_ += c;
    if (line_.size() > max_event_ || data_.size() + line_.size() > max_event_)
      return core::make_error_code(core::errc::too_large);
  }
  return {};
}

}  // namespace mas::engines
