#include "mas/api/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <system_error>

namespace mas::api {

namespace {

// The `le` label of each bucket, spelled as Prometheus clients spell these bounds.
constexpr std::array<std::string_view, metrics::turn_bucket_bounds_us.size()> bucket_labels = {
    "0.0005", "0.001", "0.002", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"};

/// The entry for `label`, created if there is room, else the shared "other" entry.
template <typename Map>
typename Map::mapped_type& slot(Map& map, std::string_view label) {
  if (const auto it = map.find(label); it != map.end()) return it->second;
  if (map.size() >= metrics::max_label_values) label = "other";
  return map.try_emplace(std::string(label)).first->second;
}

/// Label value escaping of the text format: backslash, double quote and line feed.
void append_label_value(std::string& out, std::string_view value) {
  for (const char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void append_number(std::string& out, std::uint64_t v) {
  std::array<char, 24> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), r.ptr);
}

void append_number(std::string& out, double v) {
  std::array<char, 32> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);  // shortest round-trip form
  out.append(buf.data(), r.ptr);
}

void append_header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

/// `name{label="value"} v` for each entry, in label order.
void append_counter(std::string& out, std::string_view name, std::string_view label, std::string_view help,
                    const std::map<std::string, std::uint64_t, std::less<>>& values) {
  append_header(out, name, "counter", help);
  for (const auto& [value, n] : values) {
    out.append(name).append("{").append(label).append("=\"");
    append_label_value(out, value);
    out.append("\"} ");
    append_number(out, n);
    out += '\n';
  }
}

void append_gauge(std::string& out, std::string_view name, std::string_view help, std::uint64_t value) {
  append_header(out, name, "gauge", help);
  out.append(name).append(" ");
  append_number(out, value);
  out += '\n';
}

}  // namespace

metrics::metrics() {
  for (const char* agent : {"caregiver", "coach", "supervisor"}) turns_.try_emplace(agent);
}

void metrics::observe_turn(std::string_view agent, std::chrono::microseconds server_time) {
  const auto us = std::max<std::int64_t>(server_time.count(), 0);
  auto& h = slot(turns_, agent);
  const auto bound = std::lower_bound(turn_bucket_bounds_us.begin(), turn_bucket_bounds_us.end(), us);
  if (bound != turn_bucket_bounds_us.end())
    ++h.buckets[static_cast<std::size_t>(bound - turn_bucket_bounds_us.begin())];
  ++h.count;
  h.sum_us += us;
}

void metrics::count_decision(std::string_view input_class) {
  ++slot(decisions_, input_class);
}
void metrics::count_error(std::string_view code) {
  ++slot(errors_, code);
}
void metrics::count_request(std::string_view route) {
  ++slot(requests_, route);
}

std::string metrics::render(const gauges& g) const {
  std::string out;
  out.reserve(4096);

  constexpr std::string_view turn = "sparc_mas_turn_seconds";
  append_header(out, turn, "histogram", "Server time of one answered turn, by agent.");
  for (const auto& [agent, h] : turns_) {
    std::string agent_label = "agent=\"";
    append_label_value(agent_label, agent);
    agent_label += '"';
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= h.buckets.size(); ++i) {
      const bool inf = i == h.buckets.size();
      cumulative = inf ? h.count : cumulative + h.buckets[i];
      out.append(turn).append("_bucket{").append(agent_label).append(",le=\"");
      out.append(inf ? "+Inf" : bucket_labels[i]).append("\"} ");
      append_number(out, cumulative);
      out += '\n';
    }
    out.append(turn).append("_sum{").append(agent_label).append("} ");
    append_number(out, static_cast<double>(h.sum_us) / 1e6);
    out.append("\n").append(turn).append("_count{").append(agent_label).append("} ");
    append_number(out, h.count);
    out += '\n';
  }

  append_counter(out, "sparc_mas_supervisor_decisions_total", "class", "Supervisor decisions, by input class.",
                 decisions_);
  append_counter(out, "sparc_mas_errors_total", "code", "Error replies, by error code.", errors_);
  append_counter(out, "sparc_mas_requests_total", "route", "Requests, by route template.", requests_);

  append_gauge(out, "sparc_mas_live_sessions", "Sessions in memory.", g.live_sessions);
  append_gauge(out, "sparc_mas_turns_active", "Turns being answered now.", g.turns_active);
  append_gauge(out, "sparc_mas_turns_queued", "Turns waiting for an answer slot.", g.turns_queued);
  append_gauge(out, "sparc_mas_store_queue_depth", "Writes waiting for the store's next commit.", g.store_queue);
  append_gauge(out, "sparc_mas_audio_clips", "WAV clips held for GET /v1/audio/{id}.", g.audio_clips);
  append_gauge(out, "sparc_mas_audio_cache_bytes", "Bytes of WAV clips held.", g.audio_bytes);
  append_gauge(out, "sparc_mas_engine_circuit_open", "1 while the engine circuit breaker fails calls fast.",
               g.engine_circuit_open ? 1 : 0);
  return out;
}

}  // namespace mas::api
