#include "mas/speech/clip_cache.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <utility>

namespace mas::speech {

namespace {

constexpr std::size_t id_bytes = 16;
constexpr std::size_t id_chars = 2 * id_bytes;

std::string random_id() {
  std::array<unsigned char, id_bytes> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string id;
  id.reserve(id_chars);
  for (const unsigned char c : b) {
    id.push_back(hex[c >> 4]);
    id.push_back(hex[c & 0x0F]);
  }
  return id;
}

bool is_clip_id(std::string_view id) noexcept {
  return id.size() == id_chars &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

clip_cache::clip_cache(std::chrono::seconds ttl, std::size_t max_bytes, std::size_t max_clip_bytes)
    : ttl_(ttl), max_bytes_(max_bytes), max_clip_bytes_(std::min(max_clip_bytes, max_bytes)) {}

std::optional<std::string> clip_cache::put(std::string wav, clock::time_point now) {
  if (wav.size() > max_clip_bytes_) return std::nullopt;
  const auto size = wav.size();
  auto data = std::make_shared<const std::string>(std::move(wav));
  std::string id = random_id();  // outside the lock: RAND_bytes is thread-safe
  std::lock_guard lock(mutex_);
  prune_expired(now);
  while (clips_.contains(id)) id = random_id();  // 2^-128; cheap to rule out anyway
  clips_.emplace(id, clip{std::move(data), now});
  order_.push_back(id);
  bytes_ += size;
  while (bytes_ > max_bytes_) evict_oldest();  // never the new clip: it fits max_bytes on its own
  return id;
}

std::shared_ptr<const std::string> clip_cache::get(std::string_view id, clock::time_point now) {
  if (!is_clip_id(id)) return nullptr;
  std::lock_guard lock(mutex_);
  prune_expired(now);
  const auto it = clips_.find(id);
  // Checked again: with `now` from several threads a clip can sit behind a younger one in order_.
  if (it == clips_.end() || now - it->second.stored >= ttl_) return nullptr;
  return it->second.wav;
}

std::size_t clip_cache::clips() const {
  std::lock_guard lock(mutex_);
  return clips_.size();
}

std::size_t clip_cache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

void clip_cache::prune_expired(clock::time_point now) {
  while (!order_.empty()) {
    const auto it = clips_.find(order_.front());
    if (now - it->second.stored < ttl_) return;
    evict_oldest();
  }
}

void clip_cache::evict_oldest() {
  const auto it = clips_.find(order_.front());
  bytes_ -= it->second.wav->size();
  clips_.erase(it);
  order_.pop_front();
}

}  // namespace mas::speech
