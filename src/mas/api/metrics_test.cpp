#include "mas/api/metrics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace {

using mas::api::metrics;
using namespace std::chrono_literals;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// The lines of `text` that start with `prefix`, in order.
std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  for (auto& line : lines_of(text))
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  return out;
}

TEST(metrics, turn_histogram_is_cumulative_with_sum_and_count) {
  metrics m;
  m.observe_turn("coach", 500us);     // exactly on the 0.0005 bound: counted there (le is inclusive)
  m.observe_turn("coach", 501us);     // first bucket above
  m.observe_turn("coach", 30ms);      // 0.05
  m.observe_turn("coach", 10s);       // the last finite bound
  m.observe_turn("coach", 11s);       // only +Inf
  m.observe_turn("caregiver", -5us);  // a clock glitch counts as zero
  const auto text = m.render({});
  EXPECT_EQ(lines_starting(text, "sparc_mas_turn_seconds_bucket{agent=\"coach\""),
            (std::vector<std::string>{
                R"(sparc_mas_turn_seconds_bucket{agent="coach",le="0.0005"} 1)",
                R"(sparc_mas_turn_seconds_bucket{agent="coach",le="0.001"} 2)",
                R"(sparc_mas_turn_seconds_bucket{agent="coach",le="0.002"} 2)",
                R"(sparc_mas_turn_seconds_bucket{agent="coach",le="0.005"} 2)",
                R"(sparc_mas_turn_seconds_bucket{agent="coach",le="0.01"} 2)",
                R"(sparc_mas_turn_seconds_bucket{agent="coach",le="0.025"} 2)",
                R"(sparc_mas_turn_seconds_bucket{agent="coach",le="0.05"} 3)",
                R"(sparc_mas_turn_seconds_bucket{agent="coach",le="0.1"} 3)",
                R"(sparc_mas_turn_seconds_bucket{agent="coach",le="0.25"} 3)",
                R"(sparc_mas_turn_seconds_bucket{agent="coach",le="0.5"} 3)",
                R"(sparc_mas_turn_seconds_bucket{agent="coach",le="1"} 3)",
                R"(sparc_mas_turn_seconds_bucket{agent="coach",le="2.5"} 3)",
                R"(sparc_mas_turn_seconds_bucket{agent="coach",le="5"} 3)",
                R"(sparc_mas_turn_seconds_bucket{agent="coach",le="10"} 4)",
                R"(sparc_mas_turn_seconds_bucket{agent="coach",le="+Inf"} 5)",
            }));
  EXPECT_EQ(lines_starting(text, "sparc_mas_turn_seconds_sum{agent=\"coach\"}"),
            (std::vector<std::string>{R"(sparc_mas_turn_seconds_sum{agent="coach"} 21.031001)"}));
  EXPECT_EQ(lines_starting(text, "sparc_mas_turn_seconds_count{agent=\"coach\"}"),
            (std::vector<std::string>{R"(sparc_mas_turn_seconds_count{agent="coach"} 5)"}));
  EXPECT_EQ(lines_starting(text, "sparc_mas_turn_seconds_bucket{agent=\"caregiver\",le=\"0.0005\"}"),
            (std::vector<std::string>{R"(sparc_mas_turn_seconds_bucket{agent="caregiver",le="0.0005"} 1)"}));
  EXPECT_EQ(lines_starting(text, "sparc_mas_turn_seconds_sum{agent=\"caregiver\"}"),
            (std::vector<std::string>{R"(sparc_mas_turn_seconds_sum{agent="caregiver"} 0)"}));
}

TEST(metrics, known_agents_have_series_before_their_first_turn) {
  const auto text = metrics{}.render({});
  EXPECT_EQ(lines_starting(text, "sparc_mas_turn_seconds_count"),
            (std::vector<std::string>{R"(sparc_mas_turn_seconds_count{agent="caregiver"} 0)",
                                      R"(sparc_mas_turn_seconds_count{agent="coach"} 0)",
                                      R"(sparc_mas_turn_seconds_count{agent="supervisor"} 0)"}));
  EXPECT_EQ(lines_starting(text, "sparc_mas_turn_seconds_bucket").size(), 3u * 15u);
}

TEST(metrics, counters_are_sorted_by_label) {
  metrics m;
  m.count_request("/v1/sessions/{id}");
  m.count_request("/v1/chat");
  m.count_request("/v1/chat");
  m.count_error("rate_limited");
  m.count_error("engine_unavailable");
  m.count_decision("safe");
  m.count_decision("violation");
  m.count_decision("safe");
  const auto text = m.render({});
  EXPECT_EQ(lines_starting(text, "sparc_mas_requests_total"),
            (std::vector<std::string>{R"(sparc_mas_requests_total{route="/v1/chat"} 2)",
                                      R"(sparc_mas_requests_total{route="/v1/sessions/{id}"} 1)"}));
  EXPECT_EQ(lines_starting(text, "sparc_mas_errors_total"),
            (std::vector<std::string>{R"(sparc_mas_errors_total{code="engine_unavailable"} 1)",
                                      R"(sparc_mas_errors_total{code="rate_limited"} 1)"}));
  EXPECT_EQ(lines_starting(text, "sparc_mas_supervisor_decisions_total"),
            (std::vector<std::string>{R"(sparc_mas_supervisor_decisions_total{class="safe"} 2)",
                                      R"(sparc_mas_supervisor_decisions_total{class="violation"} 1)"}));
}

TEST(metrics, every_metric_has_help_and_type_before_its_samples) {
  metrics m;
  m.count_request("/health");
  m.count_error("e");
  m.count_decision("c");
  m.observe_engine(std::chrono::microseconds(120), std::chrono::milliseconds(40));
  const auto text = m.render({});
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  const std::vector<std::pair<std::string, std::string>> families = {
      {"sparc_mas_turn_seconds", "histogram"},    {"sparc_mas_engine_seconds", "histogram"},
      {"sparc_mas_supervisor_decisions_total", "counter"},
      {"sparc_mas_errors_total", "counter"},      {"sparc_mas_requests_total", "counter"},
      {"sparc_mas_live_sessions", "gauge"},       {"sparc_mas_turns_active", "gauge"},
      {"sparc_mas_turns_queued", "gauge"},        {"sparc_mas_store_queue_depth", "gauge"},
      {"sparc_mas_audio_clips", "gauge"},         {"sparc_mas_audio_cache_bytes", "gauge"},
      {"sparc_mas_engine_circuit_open", "gauge"}, {"sparc_mas_model_server_ready", "gauge"},
  };
  // The text is a sequence of blocks: HELP, TYPE, then only that family's samples.
  const auto lines = lines_of(text);
  std::size_t at = 0;
  for (const auto& family : families) {
    const std::string& name = family.first;
    ASSERT_LT(at + 1, lines.size()) << name;
    EXPECT_EQ(lines[at].rfind("# HELP " + name + " ", 0), 0u) << lines[at];
    EXPECT_EQ(lines[at + 1], "# TYPE " + name + " " + family.second);
    std::size_t samples = 0;
    for (at += 2; at < lines.size() && lines[at].rfind("# ", 0) != 0; ++at, ++samples) {
      const std::string& line = lines[at];
      EXPECT_EQ(line.rfind(name, 0), 0u) << line;
      const char after = line.size() > name.size() ? line[name.size()] : '\0';
      EXPECT_TRUE(after == ' ' || after == '{' || (family.second == "histogram" && after == '_')) << line;
    }
    EXPECT_GT(samples, 0u) << name;
  }
  EXPECT_EQ(at, lines.size());
}

TEST(metrics, gauges_render_exact_text) {
  metrics::gauges g;
  g.live_sessions = 7;
  g.turns_active = 2;
  g.turns_queued = 3;
  g.store_queue = 11;
  g.audio_clips = 4;
  g.audio_bytes = 123456789012;
  g.engine_circuit_open = true;
  const auto text = metrics{}.render(g);
  const auto start = text.find("# HELP sparc_mas_live_sessions ");
  ASSERT_NE(start, std::string::npos);
  EXPECT_EQ(text.substr(start),
            "# HELP sparc_mas_live_sessions Sessions in memory.\n"
            "# TYPE sparc_mas_live_sessions gauge\n"
            "sparc_mas_live_sessions 7\n"
            "# HELP sparc_mas_turns_active Turns being answered now.\n"
            "# TYPE sparc_mas_turns_active gauge\n"
            "sparc_mas_turns_active 2\n"
            "# HELP sparc_mas_turns_queued Turns waiting for an answer slot.\n"
            "# TYPE sparc_mas_turns_queued gauge\n"
            "sparc_mas_turns_queued 3\n"
            "# HELP sparc_mas_store_queue_depth Writes waiting for the store's next commit.\n"
            "# TYPE sparc_mas_store_queue_depth gauge\n"
            "sparc_mas_store_queue_depth 11\n"
            "# HELP sparc_mas_audio_clips WAV clips held for GET /v1/audio/{id}.\n"
            "# TYPE sparc_mas_audio_clips gauge\n"
            "sparc_mas_audio_clips 4\n"
            "# HELP sparc_mas_audio_cache_bytes Bytes of WAV clips held.\n"
            "# TYPE sparc_mas_audio_cache_bytes gauge\n"
            "sparc_mas_audio_cache_bytes 123456789012\n"
            "# HELP sparc_mas_engine_circuit_open 1 while the engine circuit breaker fails calls fast.\n"
            "# TYPE sparc_mas_engine_circuit_open gauge\n"
            "sparc_mas_engine_circuit_open 1\n"
            "# HELP sparc_mas_model_server_ready 1 when the model server answers and lists every configured model.\n"
            "# TYPE sparc_mas_model_server_ready gauge\n"
            "sparc_mas_model_server_ready 1\n");
  EXPECT_EQ(lines_starting(metrics{}.render({}), "sparc_mas_engine_circuit_open "),
            (std::vector<std::string>{"sparc_mas_engine_circuit_open 0"}));
}

TEST(metrics, label_values_are_escaped) {
  metrics m;
  m.count_error("a\\b\"c\nd");
  EXPECT_EQ(lines_starting(m.render({}), "sparc_mas_errors_total{"),
            (std::vector<std::string>{R"(sparc_mas_errors_total{code="a\\b\"c\nd"} 1)"}));
}

TEST(metrics, distinct_label_values_are_capped_and_folded_into_other) {
  metrics m;
  for (std::size_t i = 0; i < metrics::max_label_values; ++i) m.count_request("/r" + std::to_string(100 + i));
  for (int i = 0; i < 50; ++i) m.count_request("/late" + std::to_string(i));
  m.count_request("/r100");  // a value already kept still counts under its own name
  const auto text = m.render({});
  const auto requests = lines_starting(text, "sparc_mas_requests_total{");
  EXPECT_EQ(requests.size(), metrics::max_label_values + 1);
  EXPECT_NE(std::find(requests.begin(), requests.end(), R"(sparc_mas_requests_total{route="other"} 50)"),
            requests.end());
  EXPECT_NE(std::find(requests.begin(), requests.end(), R"(sparc_mas_requests_total{route="/r100"} 2)"),
            requests.end());
  EXPECT_EQ(lines_starting(text, "sparc_mas_requests_total{route=\"/late").size(), 0u);

  metrics turns;
  for (std::size_t i = 0; i < metrics::max_label_values + 5; ++i) turns.observe_turn("a" + std::to_string(i), 1ms);
  const auto counts = lines_starting(turns.render({}), "sparc_mas_turn_seconds_count{");
  EXPECT_EQ(counts.size(), metrics::max_label_values + 1);  // the 3 known agents count towards the cap
  EXPECT_NE(std::find(counts.begin(), counts.end(), R"(sparc_mas_turn_seconds_count{agent="other"} 8)"), counts.end());
}

TEST(metrics, render_is_deterministic) {
  metrics a;
  metrics b;
  a.count_error("x");
  a.count_error("y");
  b.count_error("y");
  b.count_error("x");
  a.observe_turn("coach", 3ms);
  b.observe_turn("coach", 3ms);
  EXPECT_EQ(a.render({}), b.render({}));
  EXPECT_EQ(a.render({}), a.render({}));
}

}  // namespace
