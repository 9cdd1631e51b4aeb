#pragma once
// The /metrics page of sparc-mas in the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format).

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace mas::api {

/// Counters and turn-time histograms for sparc-mas, rendered for Prometheus. Single-threaded (the event loop).
/// Label values are our own fixed identifiers; still, each metric keeps at most `max_label_values` distinct ones and
/// folds further ones into "other", so a bug that labels with user input cannot grow memory without bound.
class metrics {
 public:
  /// The Content-Type of `render()`'s output.
  static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";
  /// Distinct label values kept per metric before folding into "other".
  static constexpr std::size_t max_label_values = 64;

  /// Starts the turn histogram of each agent at zero so its series exist before the first turn.
  metrics();

  /// Server time of one answered turn, by agent ("caregiver", "coach", "supervisor").
  void observe_turn(std::string_view agent, std::chrono::microseconds server_time);
  void count_decision(std::string_view input_class);  ///< supervisor decisions by class
  void count_error(std::string_view code);            ///< error replies by error code
  void count_request(std::string_view route);         ///< requests by route template ("/v1/chat", "/v1/sessions/{id}")
  /// A model server's answer: time waiting for a connection slot, and from the request to the first text.
  void observe_engine(std::chrono::microseconds queued, std::chrono::microseconds first_token);

  /// Gauges sampled at render time.
  struct gauges {
    std::size_t live_sessions = 0, turns_active = 0, turns_queued = 0, store_queue = 0, audio_clips = 0,
                audio_bytes = 0;
    bool engine_circuit_open = false;
    bool model_server_ready = true;  ///< the embedded engine is always ready
  };

  /// The whole exposition text; labels sorted, so equal state renders byte-identical.
  std::string render(const gauges& g) const;

  /// Upper bounds of the turn histogram's buckets in microseconds (0.5 ms to 10 s; +Inf is implicit).
  static constexpr std::array<std::int64_t, 14> turn_bucket_bounds_us = {
      500,     1'000,   2'000,   5'000,     10'000,    25'000,    50'000,
      100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};

 private:
  struct histogram {
    std::array<std::uint64_t, turn_bucket_bounds_us.size()> buckets{};  // per bucket, not cumulative
    std::uint64_t count = 0;
    std::int64_t sum_us = 0;
  };
  using counter = std::map<std::string, std::uint64_t, std::less<>>;

  std::map<std::string, histogram, std::less<>> turns_;
  std::map<std::string, histogram, std::less<>> engine_;  ///< by stage: "queue", "first_token"
  counter decisions_;
  counter errors_;
  counter requests_;
};

}  // namespace mas::api
