#include "mas/speech/sentences.hpp"

namespace mas::speech {

namespace {

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

std::string trimmed(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

std::vector<std::string> sentence_splitter::feed(std::string_view piece) {
  pending_ += piece;
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    const char c = pending_[i];
    if (c != '.' && c != '!' && c != '?') continue;
    auto end = i + 1;
    while (end < pending_.size() && (pending_[end] == '"' || pending_[end] == '\'' || pending_[end] == ')')) ++end;
    if (end >= pending_.size() || !is_space(pending_[end])) continue;  // "3.5", "Dr.Lee", or not known yet
    if (auto s = trimmed(std::string_view(pending_).substr(start, end - start)); !s.empty()) out.push_back(std::move(s));
    start = end;
    i = end;
  }
  pending_.erase(0, start);
  if (pending_.size() > max_sentence_bytes) {
    auto cut = pending_.rfind(' ', max_sentence_bytes);
    if (cut == std::string::npos || cut == 0) cut = max_sentence_bytes;
    if (auto s = trimmed(std::string_view(pending_).substr(0, cut)); !s.empty()) out.push_back(std::move(s));
    pending_.erase(0, cut);
  }
  return out;
}

std::optional<std::string> sentence_splitter::flush() {
  auto s = trimmed(pending_);
  pending_.clear();
  if (s.empty()) return std::nullopt;
  return s;
}

}  // namespace mas::speech
