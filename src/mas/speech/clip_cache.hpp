#pragma once
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mas::speech {

/// Recent synthesized WAV clips for GET /v1/audio/{id}, so a reply can carry a short link instead of base64 audio.
/// Bounded in age, total bytes and clip size. Thread-safe: synthesis threads put, the event loop gets.
class clip_cache {
 public:
  using clock = std::chrono::steady_clock;

  /// A clip is gone once `ttl` has passed since it was stored. A clip over max_clip_bytes or over max_bytes is refused.
  clip_cache(std::chrono::seconds ttl, std::size_t max_bytes, std::size_t max_clip_bytes);

  /// Stores `wav` and returns its id: 32 lowercase hex characters from the OS CSPRNG (128 bits, so the id is also the
  /// capability to fetch the clip). nullopt when the clip is too large. Expired clips are pruned, then the oldest are
  /// evicted until the total fits max_bytes.
  std::optional<std::string> put(std::string wav, clock::time_point now);

  /// The clip, or nullptr when unknown or expired. Anything but 32 lowercase hex characters is simply unknown.
  /// The pointer keeps a clip alive while it is being sent even if it is evicted meanwhile.
  std::shared_ptr<const std::string> get(std::string_view id, clock::time_point now);

  std::size_t clips() const;
  std::size_t bytes() const;  ///< total WAV bytes held

 private:
  struct id_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct clip {
    std::shared_ptr<const std::string> wav;
    clock::time_point stored;
  };

  void prune_expired(clock::time_point now);  // mutex_ held
  void evict_oldest();                        // mutex_ held

  const std::chrono::seconds ttl_;
  const std::size_t max_bytes_;
  const std::size_t max_clip_bytes_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, clip, id_hash, std::equal_to<>> clips_;  // guarded by mutex_
  std::deque<std::string> order_;                                          // ids, oldest first; guarded by mutex_
  std::size_t bytes_ = 0;                                                  // guarded by mutex_
};

}  // namespace mas::speech
