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

template <typename Histogram>
void observe(Histogram& h, std::chrono::microseconds t) {
  const auto us = std::max<std::int64_t>(t.count(), 0);
  const auto bound = std::lower_bound(metrics::turn_bucket_bounds_us.begin(), metrics::turn_bucket_bounds_us.end(), us);
  if (bound != metrics::turn_bucket_bounds_us.end())
    ++h.buckets[static_cast<std::size_t>(bound - metrics::turn_bucket_bounds_us.begin())];
  ++h.count;
  h.sum_us += us;
}

/// One histogram series per label value, with cumulative buckets as the text format wants them.
template <typename Map>
void append_histograms(std::string& out, std::string_view name, std::string_view label, std::string_view help,
                       const Map& series) {
  append_header(out, name, "histogram", help);
  for (const auto& [value, h] : series) {
    std::string l(label);
    l += "=\"";
    append_label_value(l, value);
    l += '"';
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= h.buckets.size(); ++i) {
      const bool inf = i == h.buckets.size();
      cumulative = inf ? h.count : cumulative + h.buckets[i];
      out.append(name).append("_bucket{").append(l).append(",le=\"");
      out.append(inf ? "+Inf" : bucket_labels[i]).append("\"} ");
      append_number(out, cumulative);
      out += '\n';
    }
    out.append(name).append("_sum{").append(l).append("} ");
    append_number(out, static_cast<double>(h.sum_us) / 1e6);
    out.append("\n").append(name).append("_count{").append(l).append("} ");
    append_number(out, h.count);
    out += '\n';
  }
}

}  // namespace

metrics::metrics() {
  for (const char* agent : {"caregiver", "coach", "supervisor"}) turns_.try_emplace(agent);
}

void metrics::observe_engine(std::chrono::microseconds queued, std::chrono::microseconds first_token) {
  observe(engine_["queue"], queued);
  observe(engine_["first_token"], first_token);
}

void metrics::observe_turn(std::string_view agent, std::chrono::microseconds server_time) {
  observe(slot(turns_, agent), server_time);
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

  append_histograms(out, "sparc_mas_turn_seconds", "agent", "Server time of one answered turn, by agent.", turns_);
  if (!engine_.empty())
    append_histograms(out, "sparc_mas_engine_seconds", "stage",
                      "Model server requests: waiting for a connection slot (queue) and to the first text "
                      "(first_token).",
                      engine_);

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
  append_gauge(out, "sparc_mas_model_server_ready", "1 when the model server answers and lists every configured model.",
               g.model_server_ready ? 1 : 0);
  return out;
}

}  // namespace mas::api
