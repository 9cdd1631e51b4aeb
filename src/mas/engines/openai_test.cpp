// The OpenAI-compatible engine against the test model server (tests/support/fake_llm): every path of the
// request, with the faults a real server shows.
#include "mas/engines/openai.hpp"

#include "mas/agents/coach.hpp"
#include "support/fake_llm.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <future>
#include <thread>

namespace mas::engines {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

agents::persona anne() {
  agents::persona p;
  p.id = "anne-palmer";
  p.name = "Anne Palmer";
  p.child_name = "Riley";
  p.child_age = 10;
  p.child_relation = "daughter";
  p.concern = "she is too young";
  return p;
}

const agents::persona& persona() {
  static const auto p = anne();
  return p;
}

turn caregiver_turn(std::chrono::milliseconds deadline = 5s) {
  turn t;
  t.persona = &persona();
  t.clinician_text = "Riley is due for her HPV vaccine today.";
  t.deadline = clock_type::now() + deadline;
  return t;
}

openai_config config_for(const sparc_test::fake_llm& server) {
  openai_config c;
  c.base_url = server.base_url();
  c.models = {{role::caregiver, "caregiver-lora"}, {role::coach, "coach-lora"}};
  c.retry_backoff = 20ms;
  c.models_poll = 0ms;
  return c;
}

sparc_test::fake_llm_options quick() {
  sparc_test::fake_llm_options o;
  o.models = {"base-model", "caregiver-lora", "coach-lora"};
  return o;
}

TEST(openai_engine, streams_the_caregiver_reply_in_pieces_with_the_agents_model) {
  sparc_test::fake_llm server(quick());
  auto c = config_for(server);
  c.api_key = "sk-test";
  openai_engine engine(c);
  std::vector<std::string> pieces;
  const auto g = engine.generate(caregiver_turn(), [&](std::string_view p) { pieces.emplace_back(p); });
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_EQ(g->text, sparc_test::fake_llm::default_reply("{}"));
  EXPECT_GT(pieces.size(), 10u) << "one piece per token";
  std::string joined;
  for (const auto& p : pieces) joined += p;
  EXPECT_EQ(joined, g->text);
  EXPECT_EQ(g->model, "caregiver-lora");
  EXPECT_EQ(g->engine, "openai:caregiver-lora");
  EXPECT_EQ(g->attempts, 1);
  const auto seen = server.stats();
  EXPECT_EQ(seen.last_authorization, "Bearer sk-test");
  const auto body = json::parse(seen.last_body);
  EXPECT_EQ(body["model"], "caregiver-lora");
  EXPECT_TRUE(body["stream"].get<bool>());
  EXPECT_EQ(body["messages"][0]["role"], "system");
  EXPECT_EQ(body["messages"].back()["content"], "Riley is due for her HPV vaccine today.");
  EXPECT_FALSE(body.contains("response_format"));
}

TEST(openai_engine, a_non_streamed_reply_works_too) {
  sparc_test::fake_llm server(quick());
  auto c = config_for(server);
  c.stream = false;
  openai_engine engine(c);
  const auto g = engine.generate(caregiver_turn());
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_EQ(g->text, sparc_test::fake_llm::default_reply("{}"));
  EXPECT_FALSE(json::parse(server.stats().last_body)["stream"].get<bool>());
}

TEST(openai_engine, the_coach_asks_for_the_clear_schema_and_its_answer_passes_the_contract) {
  sparc_test::fake_llm server(quick());
  openai_engine engine(config_for(server));
  auto t = caregiver_turn();
  t.agent = role::coach;
  t.phase = agents::phase::counsel;
  const auto g = engine.generate(t);
  ASSERT_TRUE(g) << g.error().message();
  std::string why;
  EXPECT_TRUE(agents::parse_coach_contract(g->text, &why)) << why;
  const auto body = json::parse(server.stats().last_body);
  EXPECT_EQ(body["model"], "coach-lora");
  EXPECT_EQ(body["response_format"]["type"], "json_schema");
  EXPECT_EQ(body["response_format"]["json_schema"]["schema"]["required"].size(), 6u);
}

TEST(openai_engine, a_slow_first_token_misses_its_deadline_and_the_request_is_abandoned) {
  sparc_test::fake_llm server(quick());
  sparc_test::llm_faults f;
  f.first_token_delay = 3s;
  server.set_faults(f);
  auto c = config_for(server);
  c.first_token_timeout = 200ms;
  openai_engine engine(c);
  const auto t0 = clock_type::now();
  const auto g = engine.generate(caregiver_turn());
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error(), core::errc::timed_out);
  EXPECT_LT(clock_type::now() - t0, 2s);
  EXPECT_EQ(server.stats().requests, 1u) << "a timeout is not retried: the server may be generating";
}

TEST(openai_engine, a_stream_that_stalls_is_cut_and_the_server_sees_the_client_go) {
  sparc_test::fake_llm server(quick());
  sparc_test::llm_faults f;
  f.stall_after_tokens = 3;
  server.set_faults(f);
  auto c = config_for(server);
  c.stall_timeout = 200ms;
  openai_engine engine(c);
  std::string streamed;
  const auto g = engine.generate(caregiver_turn(), [&](std::string_view p) { streamed += p; });
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error(), core::errc::timed_out);
  EXPECT_FALSE(streamed.empty()) << "the first tokens arrived before the stall";
  for (int i = 0; i < 100 && server.stats().client_gone == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server.stats().client_gone, 1u) << "closing the connection cancels the generation upstream";
}

TEST(openai_engine, the_turn_deadline_bounds_the_whole_generation) {
  auto o = quick();
  o.per_token = 50ms;  // about 25 tokens: longer than the turn may take
  sparc_test::fake_llm server(o);
  openai_engine engine(config_for(server));
  const auto t0 = clock_type::now();
  const auto g = engine.generate(caregiver_turn(300ms));
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error(), core::errc::timed_out);
  EXPECT_LT(clock_type::now() - t0, 1s);
}

TEST(openai_engine, refusals_before_any_work_are_retried_with_backoff) {
  sparc_test::fake_llm server(quick());
  sparc_test::llm_faults f;
  f.status = 503;
  f.status_count = 2;
  server.set_faults(f);
  openai_engine engine(config_for(server));
  const auto g = engine.generate(caregiver_turn());
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_EQ(g->attempts, 3);
  EXPECT_EQ(server.stats().requests, 3u);
  EXPECT_EQ(engine.stats().retries, 2u);

  f.status = 429;
  f.status_count = -1;  // every request
  server.set_faults(f);
  const auto busy = engine.generate(caregiver_turn());
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error(), core::errc::unavailable);
  EXPECT_EQ(server.stats().requests, 6u) << "the first try and two retries";
}

TEST(openai_engine, a_server_error_is_not_retried) {
  sparc_test::fake_llm server(quick());
  sparc_test::llm_faults f;
  f.status = 500;
  f.status_count = 1;
  server.set_faults(f);
  openai_engine engine(config_for(server));
  const auto g = engine.generate(caregiver_turn());
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error(), core::errc::unavailable);
  EXPECT_EQ(server.stats().requests, 1u);

  f.status = 400;  // e.g. an unknown adapter name
  server.set_faults(f);
  const auto bad = engine.generate(caregiver_turn());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), core::errc::invalid_argument);
}

TEST(openai_engine, malformed_chunks_dropped_connections_and_truncated_streams_fail_cleanly) {
  sparc_test::fake_llm server(quick());
  openai_engine engine(config_for(server));
  sparc_test::llm_faults f;
  f.malformed_chunk = true;
  server.set_faults(f);
  auto g = engine.generate(caregiver_turn());
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error(), core::errc::malformed);

  f = {};
  f.drop_after_tokens = 4;
  server.set_faults(f);
  g = engine.generate(caregiver_turn());
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error(), core::errc::unavailable);

  f = {};
  f.no_done = true;
  server.set_faults(f);
  g = engine.generate(caregiver_turn());
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error(), core::errc::unavailable);
  EXPECT_EQ(server.stats().requests, 3u) << "none of these is retried: output had started";
}

TEST(openai_engine, nothing_listening_fails_fast_after_the_retries) {
  std::uint16_t port = 0;
  {
    sparc_test::fake_llm gone(quick());
    port = gone.port();
  }
  openai_config c;
  c.base_url = "http://127.0.0.1:" + std::to_string(port);  // without /v1: the engine adds it
  c.models = {{role::caregiver, "m"}};
  c.retry_backoff = 10ms;
  c.models_poll = 0ms;
  openai_engine engine(c);
  const auto t0 = clock_type::now();
  const auto g = engine.generate(caregiver_turn());
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error(), core::errc::unavailable);
  EXPECT_LT(clock_type::now() - t0, 1s);
  EXPECT_EQ(engine.stats().retries, 2u) << "a refused connection cannot have started anything";
}

TEST(openai_engine, concurrency_to_the_server_is_bounded_and_the_queue_is_fifo) {
  auto o = quick();
  o.per_token = 2ms;
  sparc_test::fake_llm server(o);
  auto c = config_for(server);
  c.max_concurrency = 2;
  openai_engine engine(c);
  constexpr int n = 6;
  std::vector<std::promise<core::result<generation>>> results(n);
  std::mutex order_mu;
  std::vector<int> finished;
  for (int i = 0; i < n; ++i)
    engine.generate_async(caregiver_turn(10s), {}, [&, i](core::result<generation> r) {
      {
        const std::lock_guard lock(order_mu);
        finished.push_back(i);
      }
      results[static_cast<std::size_t>(i)].set_value(std::move(r));
    });
  for (auto& r : results) {
    auto g = r.get_future().get();
    ASSERT_TRUE(g) << g.error().message();
  }
  EXPECT_EQ(server.stats().max_in_generation, 2u);
  EXPECT_EQ(finished.front(), 0);
  EXPECT_EQ(finished.back(), n - 1) << "first come, first served";
}

TEST(openai_engine, a_full_queue_fails_the_turn_at_once) {
  auto o = quick();
  o.per_token = 20ms;
  sparc_test::fake_llm server(o);
  auto c = config_for(server);
  c.max_concurrency = 1;
  c.max_queue = 1;
  openai_engine engine(c);
  std::promise<core::result<generation>> a;
  std::promise<core::result<generation>> b;
  engine.generate_async(caregiver_turn(), {}, [&](core::result<generation> r) { a.set_value(std::move(r)); });
  engine.generate_async(caregiver_turn(), {}, [&](core::result<generation> r) { b.set_value(std::move(r)); });
  const auto third = engine.generate(caregiver_turn());
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error(), core::errc::unavailable);
  EXPECT_EQ(engine.stats().rejected_queue_full, 1u);
  EXPECT_TRUE(a.get_future().get());
  EXPECT_TRUE(b.get_future().get());
}

TEST(openai_engine, health_lists_the_models_and_names_a_missing_adapter) {
  sparc_test::fake_llm server(quick());
  auto c = config_for(server);
  c.models_poll = 50ms;
  openai_engine engine(c);
  engine_health h;
  for (int i = 0; i < 200 && !(h = engine.health()).ready; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(h.ready) << h.detail;
  EXPECT_EQ(h.models, (std::vector<std::string>{"base-model", "caregiver-lora", "coach-lora"}));

  server.set_models({"base-model", "caregiver-lora"});
  for (int i = 0; i < 200 && (h = engine.health()).ready; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(h.ready);
  EXPECT_EQ(h.missing_models, std::vector<std::string>{"coach=coach-lora"});
}

TEST(openai_engine, health_says_when_nothing_answers) {
  std::uint16_t port = 0;
  {
    sparc_test::fake_llm gone(quick());
    port = gone.port();
  }
  openai_config c;
  c.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  c.models_poll = 50ms;
  openai_engine engine(c);
  engine_health h;
  for (int i = 0; i < 200 && (h = engine.health()).detail == "not polled yet"; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(h.ready);
  EXPECT_NE(h.detail.find("unreachable"), std::string::npos) << h.detail;
}

TEST(openai_engine, a_base_url_it_cannot_use_stops_the_start) {
  openai_config c;
  c.base_url = "https://models.example.org/v1";
  EXPECT_THROW(openai_engine{c}, std::invalid_argument);
  c.base_url = "http://:80";
  EXPECT_THROW(openai_engine{c}, std::invalid_argument);
}

TEST(openai_engine, stopping_with_requests_in_flight_answers_every_caller) {
  auto o = quick();
  o.per_token = 100ms;
  sparc_test::fake_llm server(o);
  std::vector<std::promise<core::result<generation>>> results(3);
  {
    auto c = config_for(server);
    c.max_concurrency = 1;
    openai_engine engine(c);
    for (std::size_t i = 0; i < results.size(); ++i)
      engine.generate_async(caregiver_turn(10s), {}, [&, i](core::result<generation> r) {
        results[i].set_value(std::move(r));
      });
    std::this_thread::sleep_for(50ms);
  }
  for (auto& r : results) EXPECT_FALSE(r.get_future().get());
}

}  // namespace
}  // namespace mas::engines
