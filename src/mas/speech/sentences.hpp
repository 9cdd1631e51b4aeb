#pragma once
// Whole sentences out of streamed text, so speech can start on the first one while the rest is generated.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mas::speech {

class sentence_splitter {
 public:
  /// A sentence ends at '.', '!' or '?' (with any closing quotes or brackets) followed by white space; one longer
  /// than this many bytes is cut at the last space, so a reply without punctuation still speaks in pieces.
  static constexpr std::size_t max_sentence_bytes = 400;

  /// Adds the next piece of text; returns the sentences it completed, trimmed, in order.
  std::vector<std::string> feed(std::string_view piece);
  /// The rest once the text is complete (trimmed), if any.
  std::optional<std::string> flush();

 private:
  std::string pending_;
};

}  // namespace mas::speech
