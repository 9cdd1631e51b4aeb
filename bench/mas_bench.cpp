// sparc-mas-bench: the load generator for sparc-mas (HTTP). One scenario per run, one JSON line on stdout.
#include "core/encoding.hpp"
#include "net/http_client.hpp"
#include "measure.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

namespace asio = boost::asio;
using net::http_client;
using net::http_response_view;
using net::tcp;
using clock = std::chrono::steady_clock;
using result = nlohmann::ordered_json;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// No response at all for this long means the server stalled; the run is aborted and reported.
constexpr auto stall_limit = 10s;
/// Every this-many turns of a session goes to the coach (it grades instead of answering in character).
constexpr std::size_t coach_every = 8;

/// What a clinician says in an HPV-vaccine visit: ordinary lines the supervisor lets through (no contact
/// details, no profanity, on topic), so every turn reaches an agent and the store.
constexpr std::array<std::string_view, 7> clinician_lines = {
    "Hi, I'm Dr. Lee. Riley is due for her HPV vaccine today.",
    "The HPV vaccine protects against several cancers later in life.",
    "It works best at this age, so I recommend we give the first dose today.",
    "Most children only have a sore arm for a day or two afterwards.",
    "That is a very common question, and I am glad you asked it.",
    "What worries you most about the vaccine?",
    "We will schedule the second dose for six months from now.",
};

struct target {
  std::string url;     ///< http://host:port
  int server_pid = 0;  ///< for VmRSS and CPU time from /proc; 0 = not reported
};

struct turns_options {
  std::size_t clients = 64;
  double seconds = 10;
  double warmup_s = 1;
  double health_interval_ms = 20;
  double rate = 0;  ///< turns per second over all clients; 0 = closed loop (each client as fast as replies come)
  double drain_s = 10;  ///< how long replies still in flight may take after the window (a model server's queue)
};

struct sessions_options {
  std::size_t sessions = 10000;
  std::size_t connections = 32;
  std::size_t window = 8;  ///< requests pipelined per connection
  double settle_s = 0.5;   ///< wait after the last reply before reading RSS
};

double seconds_between(clock::time_point from, clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

double ms_between(clock::time_point from, clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

clock::duration to_duration(double secs) {
  return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(secs));
}

void spawn(asio::io_context& io, asio::awaitable<void> task) {
  asio::co_spawn(io, std::move(task), [](const std::exception_ptr& e) {
    if (e) std::rethrow_exception(e);
  });
}

asio::awaitable<void> sleep_for(clock::duration duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(use_tuple);
}

/// Tasks still running; a coroutine can wait, with a deadline, for the last one to finish.
class countdown {
 public:
  explicit countdown(const asio::any_io_executor& executor) : timer_(executor) {}
  void add() { ++running_; }
  void done() {
    if (--running_ == 0) timer_.cancel();
  }
  std::size_t running() const { return running_; }
  /// True once none is running; false when `limit` passed first.
  asio::awaitable<bool> wait_for(clock::duration limit) {
    if (running_ > 0) {
      timer_.expires_after(limit);
      co_await timer_.async_wait(use_tuple);
    }
    co_return running_ == 0;
  }

 private:
  asio::steady_timer timer_;
  std::size_t running_ = 0;
};

/// Latency samples in milliseconds, summarised as `<prefix>_p50_ms` ... in a result.
class samples {
 public:
  explicit samples(std::size_t expected) { values_.reserve(expected); }
  void add(double ms) { values_.push_back(ms); }
  std::size_t size() const { return values_.size(); }
  void summarise(result& r, const std::string& prefix, bool with_p90) {
    std::sort(values_.begin(), values_.end());
    if (values_.empty()) return;
    r[prefix + "_p50_ms"] = bench::round_to(bench::percentile(values_, 0.50), 3);
    if (with_p90) r[prefix + "_p90_ms"] = bench::round_to(bench::percentile(values_, 0.90), 3);
    r[prefix + "_p99_ms"] = bench::round_to(bench::percentile(values_, 0.99), 3);
    r[prefix + "_max_ms"] = bench::round_to(values_.back(), 3);
  }
  double p(double q) const { return bench::percentile(values_, q); }

 private:
  std::vector<double> values_;
};

/// Responses by status code, and how they are reported: non-200 total and "status:count,..." for run.sh.
class status_counts {
 public:
  void add(int status) { ++counts_[status]; }
  std::uint64_t ok() const { return counts_.contains(200) ? counts_.at(200) : 0; }
  std::uint64_t others() const {
    std::uint64_t n = 0;
    for (const auto& [status, count] : counts_) n += status == 200 ? 0 : count;
    return n;
  }
  std::string others_text() const {
    std::string out;
    for (const auto& [status, count] : counts_)
      if (status != 200) out += fmt::format("{}{}:{}", out.empty() ? "" : ",", status, count);
    return out;
  }

 private:
  std::map<int, std::uint64_t> counts_;
};

/// A chat request body in the Unity client's shape (v2 contract).
std::string chat_body(std::string_view session_id, std::string_view message, std::string_view agent) {
  std::string body = R"({"session_id":)";
  core::append_json_string(body, session_id);
  body += R"(,"user_message":)";
  core::append_json_string(body, message);
  body += R"(,"target_agent":)";
  core::append_json_string(body, agent);
  body += '}';
  return body;
}

std::string shorten(std::string_view text) {
  return std::string(text.substr(0, 200));
}

/// What both scenarios share: the event loop, the resolved server, error notes and the stall watchdog.
class harness {
 public:
  explicit harness(const target& server) : server_(server), watchdog_(io_.get_executor()) {
    auto url = net::parse_http_url(server.url);
    if (!url) throw std::invalid_argument("--url must look like http://127.0.0.1:8000 (got '" + server.url + "')");
    tcp::resolver resolver(io_);
    endpoint_ = resolver.resolve(url->host, url->port).begin()->endpoint();
    host_header_ = (url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host) + ":" + url->port;
    std::random_device random;
    tag_ = fmt::format("{:08x}", random());  // distinct session ids per run, also against a reused server
  }

  asio::io_context& io() { return io_; }
  const target& server() const { return server_; }
  const std::string& host_header() const { return host_header_; }
  const std::string& tag() const { return tag_; }

  http_client& add_client() {
    clients_.push_back(std::make_unique<http_client>(io_.get_executor()));
    return *clients_.back();
  }

  /// Connects every client added so far; false (with the error noted) if one fails.
  asio::awaitable<bool> connect_all() {
    for (auto& c : clients_) {
      if (auto ec = co_await c->connect(endpoint_); ec) {
        note_error("connect: " + ec.message());
        co_return false;
      }
    }
    co_return true;
  }

  void abort_all() {
    for (auto& c : clients_) c->abort();
  }

  /// Counts a response for the watchdog.
  void progress() { ++responses_; }

  /// Aborts every connection when no response arrived for stall_limit, until stop_watchdog().
  asio::awaitable<void> watchdog() {
    auto last = responses_;
    auto last_change = clock::now();
    while (!watchdog_stopped_) {
      watchdog_.expires_after(1s);
      co_await watchdog_.async_wait(use_tuple);
      if (watchdog_stopped_) break;
      if (responses_ != last) {
        last = responses_;
        last_change = clock::now();
      } else if (clock::now() - last_change >= stall_limit) {
        stalled_ = true;
        note_error(fmt::format("no response for {} s; connections aborted", stall_limit.count()));
        abort_all();
        break;
      }
    }
  }
  void stop_watchdog() {
    watchdog_stopped_ = true;
    watchdog_.cancel();
  }
  bool stalled() const { return stalled_; }

  void note_error(std::string what) {
    ++errors_;
    if (first_error_.empty()) first_error_ = std::move(what);
  }

  /// Adds errors, first_error and ok to `r`.
  void finish(result& r, bool complete) const {
    r["errors"] = errors_;
    if (!first_error_.empty()) r["first_error"] = first_error_;
    r["ok"] = complete && errors_ == 0;
  }

  void run(asio::awaitable<void> main) {
    spawn(io_, std::move(main));
    spawn(io_, watchdog());
    io_.run();
  }

 private:
  asio::io_context io_;
  target server_;
  tcp::endpoint endpoint_;
  std::string host_header_;
  std::string tag_;
  std::vector<std::unique_ptr<http_client>> clients_;
  asio::steady_timer watchdog_;
  bool watchdog_stopped_ = false;
  bool stalled_ = false;
  std::uint64_t responses_ = 0;
  std::size_t errors_ = 0;
  std::string first_error_;
};

/// The `app` metric of a response's Server-Timing header, if the server sent one.
std::optional<double> app_time_ms(const http_response_view& response) {
  const auto value = response.header("server-timing");
  return value ? net::server_timing_ms(*value, "app") : std::nullopt;
}

/// The `queue` metric: how long the turn waited for a connection slot to the model server.
std::optional<double> queue_time_ms(const http_response_view& response) {
  const auto value = response.header("server-timing");
  return value ? net::server_timing_ms(*value, "queue") : std::nullopt;
}

/// sparc-mas's own share of a turn: `app` minus `engine` (the time it waited for the text engine), when both came.
std::optional<double> own_time_ms(const http_response_view& response) {
  const auto value = response.header("server-timing");
  if (!value) return std::nullopt;
  const auto app = net::server_timing_ms(*value, "app");
  const auto engine = net::server_timing_ms(*value, "engine");
  if (!app || !engine) return std::nullopt;
  return *app - *engine;
}

// ---------------------------------------------------------------------------------------------------

/// N keep-alive clients, each on its own session, closed-loop or paced to a total rate, and one more connection
/// polling /health: durable turns per second and the latency of both under that load.
class turns_scenario {
 public:
  turns_scenario(const target& server, const turns_options& options)
      : h_(server),
        options_(options),
        finished_(h_.io().get_executor()),
        turn_client_ms_(1u << 18),
        turn_server_ms_(1u << 18),
        turn_own_ms_(1u << 18),
        turn_queue_ms_(1u << 18),
        health_client_ms_(4096),
        health_server_ms_(4096) {}

  result run() {
    h_.run(main());
    return std::move(result_);
  }

 private:
  enum class phase { warmup, measure, drain };

  struct client {
    http_client* http = nullptr;
    std::vector<std::string> requests;  ///< [2 * line + 1 if coach]: built once, sent as they are
    http_response_view response;
  };

  asio::awaitable<void> main() {
    const int pid = h_.server().server_pid;
    result_ = {{"scenario", "turns"},
               {"clients", options_.clients},
               {"rate", options_.rate},
               {"warmup_s", options_.warmup_s},
               {"health_interval_ms", options_.health_interval_ms},
               {"coach_every", coach_every}};
    clients_.resize(options_.clients);
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      auto& c = clients_[i];
      c.http = &h_.add_client();
      const auto session = fmt::format("bench-{}-{}", h_.tag(), i);
      for (const auto line : clinician_lines)
        for (const auto agent : {"caregiver", "coach"})
          c.requests.push_back(
              net::http_post(h_.host_header(), "/v1/chat", "application/json", chat_body(session, line, agent)));
    }
    health_ = &h_.add_client();
    health_request_ = net::http_get(h_.host_header(), "/health");
    if (!co_await h_.connect_all()) {
      h_.stop_watchdog();
      h_.abort_all();
      h_.finish(result_, false);
      co_return;
    }
    const auto rss_before = bench::read_rss_kb(pid);
    fmt::print(
        stderr, "turns: {} clients, {}, {} s warm-up, {} s measured; /health every {} ms\n", clients_.size(),
        options_.rate > 0 ? fmt::format("paced at {} turns/s in all", options_.rate) : std::string("closed loop"),
        options_.warmup_s, options_.seconds, options_.health_interval_ms);

    for (std::size_t i = 0; i < clients_.size(); ++i) {
      finished_.add();
      spawn(h_.io(), turn_loop(i));
    }
    finished_.add();
    spawn(h_.io(), health_loop());

    co_await sleep_for(to_duration(options_.warmup_s));
    const auto start = clock::now();
    const auto server_cpu_start = bench::read_cpu_s(pid);
    const auto self_cpu_start = bench::self_cpu_s();
    const auto machine_start = bench::machine_busy_s();
    phase_ = phase::measure;

    const auto deadline = start + to_duration(options_.seconds);
    std::vector<std::uint64_t> per_second;
    auto last_count = turn_statuses_.ok();
    auto last_time = start;
    while (clock::now() < deadline && !h_.stalled() && finished_.running() > 0) {
      co_await sleep_for(std::min<clock::duration>(1s, deadline - clock::now()));
      const auto now = clock::now();
      const double rate = static_cast<double>(turn_statuses_.ok() - last_count) / seconds_between(last_time, now);
      per_second.push_back(static_cast<std::uint64_t>(std::lround(rate)));
      fmt::print(stderr, "  {:.0f} turns/s\n", rate);
      last_count = turn_statuses_.ok();
      last_time = now;
    }
    const auto end = clock::now();
    phase_ = phase::drain;
    const auto server_cpu_end = bench::read_cpu_s(pid);
    const double self_cpu = bench::self_cpu_s() - self_cpu_start;
    const double machine = bench::machine_busy_s() - machine_start;
    const double elapsed = seconds_between(start, end);

    // Requests still in flight when the measured window ends get --drain seconds to finish.
    const auto drain = std::chrono::milliseconds(std::lround(options_.drain_s * 1000));
    if (!co_await finished_.wait_for(drain)) {
      h_.note_error(fmt::format("{} connections still waiting for a reply {} s after the window closed",
                                finished_.running(), options_.drain_s));
      h_.abort_all();
      co_await finished_.wait_for(2s);
    }
    const auto rss_after = bench::read_rss_kb(pid);
    h_.stop_watchdog();
    h_.abort_all();

    const auto turns = turn_statuses_.ok();
    result_["seconds"] = bench::round_to(elapsed, 3);
    result_["turns"] = turns;
    result_["turns_per_s"] = std::lround(static_cast<double>(turns) / elapsed);
    result_["coach_turns"] = coach_turns_;
    result_["turns_stored"] = stored_;  // warm-up and drain included: what the database holds
    if (options_.rate > 0) result_["late_sends"] = late_sends_;
    result_["per_second"] = per_second;
    result_["non_200"] = turn_statuses_.others();
    result_["non_200_by_status"] = turn_statuses_.others_text();
    result_["server_timing"] = turn_server_ms_.size() > 0;
    result_["server_timed"] = turn_server_ms_.size();
    turn_server_ms_.summarise(result_, "server", true);
    turn_own_ms_.summarise(result_, "own", true);
    turn_queue_ms_.summarise(result_, "queue", true);
    turn_client_ms_.summarise(result_, "client", true);
    result_["health_requests"] = health_statuses_.ok() + health_statuses_.others();
    result_["health_non_200"] = health_statuses_.others();
    health_client_ms_.summarise(result_, "health", false);
    health_server_ms_.summarise(result_, "health_server", false);
    result_["connection_errors"] = connection_errors_;
    if (server_cpu_start && server_cpu_end) {
      const double server_cpu = *server_cpu_end - *server_cpu_start;
      result_["server_cpu_pct"] = std::lround(100.0 * server_cpu / elapsed);
      if (turns > 0)
        result_["server_cpu_us_per_turn"] = bench::round_to(server_cpu * 1e6 / static_cast<double>(turns), 1);
      result_["other_cpu_pct"] = bench::other_cpu_pct(machine, server_cpu, self_cpu, elapsed);
    }
    result_["bench_cpu_pct"] = std::lround(100.0 * self_cpu / elapsed);
    if (turns > 0) result_["bench_cpu_us_per_turn"] = bench::round_to(self_cpu * 1e6 / static_cast<double>(turns), 1);
    if (rss_before && rss_after) {
      result_["rss_before_kb"] = *rss_before;
      result_["rss_after_kb"] = *rss_after;
    }
    fmt::print(stderr, "turns: {:.0f} durable turns/s; client p99 {:.3f} ms; /health p99 {:.3f} ms{}\n",
               static_cast<double>(turns) / elapsed, turn_client_ms_.p(0.99), health_client_ms_.p(0.99),
               turn_server_ms_.size() > 0 ? fmt::format("; server p99 {:.3f} ms", turn_server_ms_.p(0.99))
                                          : std::string("; no Server-Timing header"));
    h_.finish(result_, turns > 0 && !h_.stalled());
  }

  /// One client's loop: closed (the next turn as soon as the reply arrives) or paced (one turn per
  /// clients / rate seconds, clients spread evenly over the interval). Every coach_every-th turn goes to the coach.
  asio::awaitable<void> turn_loop(std::size_t index) {
    auto& c = clients_[index];
    const bool paced = options_.rate > 0;
    const auto interval = paced ? to_duration(static_cast<double>(clients_.size()) / options_.rate) : clock::duration{};
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto next = clock::now() + interval * static_cast<long>(index) / static_cast<long>(clients_.size());
    for (std::size_t turn = 0; phase_ != phase::drain; ++turn) {
      if (paced) {
        timer.expires_at(next);
        co_await timer.async_wait(use_tuple);
        if (phase_ == phase::drain) break;
      }
      const std::size_t line = (index + turn) % clinician_lines.size();
      const bool coach = turn % coach_every == coach_every - 1;
      const auto sent = clock::now();
      c.http->send(c.requests[2 * line + (coach ? 1 : 0)]);
      const auto ec = co_await c.http->read_response(c.response);
      const auto now = clock::now();
      h_.progress();
      if (ec) {
        if (!h_.stalled() && ec != asio::error::operation_aborted) {
          ++connection_errors_;
          h_.note_error("chat: " + ec.message());
        }
        break;
      }
      if (c.response.status == 200) ++stored_;
      if (phase_ == phase::measure) {
        turn_statuses_.add(c.response.status);
        if (c.response.status == 200) {
          turn_client_ms_.add(ms_between(sent, now));
          if (const auto ms = app_time_ms(c.response)) turn_server_ms_.add(*ms);
          if (const auto ms = own_time_ms(c.response)) turn_own_ms_.add(*ms);
          if (const auto ms = queue_time_ms(c.response)) turn_queue_ms_.add(*ms);
          if (coach) ++coach_turns_;
        } else if (turn_statuses_.others() == 1) {
          fmt::print(stderr, "  first non-200: {} {}\n", c.response.status, shorten(c.response.body));
        }
      }
      if (!c.response.keep_alive) {
        h_.note_error(fmt::format("the server closed a keep-alive connection after a {}", c.response.status));
        break;
      }
      if (paced) {
        // A reply later than the next slot: send at once rather than in a burst to catch up, and count it
        // (many late sends mean the server did not keep up with --rate, and the achieved rate says by how much).
        next += interval;
        if (next < now) {
          next = now;
          if (phase_ == phase::measure) ++late_sends_;
        }
      }
    }
    finished_.done();
  }

  /// GET /health every interval on its own connection (immediately again when a reply took longer).
  asio::awaitable<void> health_loop() {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    http_response_view response;
    const auto interval = to_duration(options_.health_interval_ms / 1000.0);
    auto next = clock::now();
    while (phase_ != phase::drain) {
      timer.expires_at(next);
      co_await timer.async_wait(use_tuple);
      if (phase_ == phase::drain) break;
      const auto sent = clock::now();
      health_->send(health_request_);
      const auto ec = co_await health_->read_response(response);
      const auto now = clock::now();
      h_.progress();
      if (ec) {
        if (!h_.stalled() && ec != asio::error::operation_aborted) {
          ++connection_errors_;
          h_.note_error("health: " + ec.message());
        }
        break;
      }
      if (phase_ == phase::measure) {
        health_statuses_.add(response.status);
        health_client_ms_.add(ms_between(sent, now));
        if (const auto ms = app_time_ms(response)) health_server_ms_.add(*ms);
      }
      if (!response.keep_alive) {
        h_.note_error(fmt::format("the server closed the /health connection after a {}", response.status));
        break;
      }
      next = std::max(next + interval, now);
    }
    finished_.done();
  }

  harness h_;
  turns_options options_;
  phase phase_ = phase::warmup;
  std::vector<client> clients_;
  http_client* health_ = nullptr;
  std::string health_request_;
  countdown finished_;
  status_counts turn_statuses_;
  status_counts health_statuses_;
  samples turn_client_ms_;
  samples turn_server_ms_;
  samples turn_own_ms_;    ///< app minus engine: sparc-mas's own time per turn
  samples turn_queue_ms_;  ///< waiting for a connection slot to the model server
  samples health_client_ms_;
  samples health_server_ms_;
  std::uint64_t coach_turns_ = 0;
  std::uint64_t stored_ = 0;
  std::uint64_t late_sends_ = 0;
  std::uint64_t connection_errors_ = 0;
  result result_;
};

// ---------------------------------------------------------------------------------------------------

/// Many new sessions, one caregiver turn each, pipelined over a few connections; then the server's RSS.
class sessions_scenario {
 public:
  sessions_scenario(const target& server, const sessions_options& options)
      : h_(server),
        options_(options),
        finished_(h_.io().get_executor()),
        client_ms_(options.sessions),
        server_ms_(options.sessions) {}

  result run() {
    h_.run(main());
    return std::move(result_);
  }

 private:
  struct connection {
    http_client* http = nullptr;
    http_response_view response;
    std::vector<clock::time_point> sent;  ///< ring of send times, one slot per pipelined request
    std::string scratch;                  ///< the next request, built in place
  };

  asio::awaitable<void> main() {
    const int pid = h_.server().server_pid;
    result_ = {{"scenario", "sessions"},
               {"sessions", options_.sessions},
               {"connections", options_.connections},
               {"window", options_.window}};
    connections_.resize(options_.connections);
    for (auto& c : connections_) {
      c.http = &h_.add_client();
      c.sent.resize(options_.window);
    }
    if (!co_await h_.connect_all()) {
      h_.stop_watchdog();
      h_.abort_all();
      h_.finish(result_, false);
      co_return;
    }
    const auto rss_before = bench::read_rss_kb(pid);
    fmt::print(stderr, "sessions: {} new sessions over {} connections, {} pipelined each (server RSS {} KiB)\n",
               options_.sessions, connections_.size(), options_.window, rss_before.value_or(-1));

    const auto start = clock::now();
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      finished_.add();
      spawn(h_.io(), connection_loop(i));
    }
    while (!co_await finished_.wait_for(1s))
      fmt::print(stderr, "  {}/{} sessions created\n", statuses_.ok(), options_.sessions);
    const double elapsed = seconds_between(start, clock::now());

    // One more request proves the server still answers after the load.
    auto& check = connections_.front();
    bool alive = false;
    if (check.http->is_open()) {
      check.http->send(net::http_get(h_.host_header(), "/health"));
      const auto ec = co_await check.http->read_response(check.response);
      alive = !ec && check.response.status == 200;
    }
    if (!alive) h_.note_error("GET /health failed after the sessions were created");
    co_await sleep_for(to_duration(options_.settle_s));
    const auto rss_after = bench::read_rss_kb(pid);
    h_.stop_watchdog();
    h_.abort_all();

    const auto created = statuses_.ok();
    result_["created"] = created;
    result_["seconds"] = bench::round_to(elapsed, 3);
    result_["sessions_per_s"] = std::lround(static_cast<double>(created) / elapsed);
    result_["non_200"] = statuses_.others();
    result_["non_200_by_status"] = statuses_.others_text();
    result_["connection_errors"] = connection_errors_;
    result_["server_timing"] = server_ms_.size() > 0;
    server_ms_.summarise(result_, "server", false);
    client_ms_.summarise(result_, "client", false);
    if (rss_before && rss_after) {
      result_["rss_before_kb"] = *rss_before;
      result_["rss_after_kb"] = *rss_after;
      if (created > 0)
        result_["per_session_bytes"] =
            std::lround(static_cast<double>(*rss_after - *rss_before) * 1024.0 / static_cast<double>(created));
      // Anonymous memory is the heap; file and shared memory are the binary, libraries and SQLite's WAL index.
      constexpr std::array<std::pair<std::string_view, std::string_view>, 3> parts = {
          {{"RssAnon:", "rss_after_anon_kb"}, {"RssFile:", "rss_after_file_kb"}, {"RssShmem:", "rss_after_shmem_kb"}}};
      for (const auto& [field, key] : parts)
        if (const auto kb = bench::read_status_kb(pid, field)) result_[std::string(key)] = *kb;
    }
    if (const auto bench_rss = bench::read_rss_kb(static_cast<int>(getpid()))) result_["bench_rss_kb"] = *bench_rss;
    fmt::print(stderr, "sessions: {} created in {:.2f} s; server RSS {} -> {} KiB\n", created, elapsed,
               rss_before.value_or(-1), rss_after.value_or(-1));
    h_.finish(result_, created == options_.sessions && !h_.stalled());
  }

  /// Keeps `window` requests in flight on one connection until every session has been asked for.
  asio::awaitable<void> connection_loop(std::size_t index) {
    auto& c = connections_[index];
    std::size_t oldest = 0;
    std::size_t in_flight = 0;
    auto send_next = [&] {
      if (launched_ == options_.sessions) return;
      const auto n = launched_++;
      const auto session = fmt::format("bench-{}-s{}", h_.tag(), n);
      c.scratch = net::http_post(h_.host_header(), "/v1/chat", "application/json",
                                   chat_body(session, clinician_lines[n % clinician_lines.size()], "caregiver"));
      c.sent[(oldest + in_flight) % c.sent.size()] = clock::now();
      ++in_flight;
      c.http->send(c.scratch);
    };
    while (in_flight < options_.window && launched_ < options_.sessions) send_next();
    while (in_flight > 0) {
      const auto ec = co_await c.http->read_response(c.response);
      const auto now = clock::now();
      h_.progress();
      if (ec) {
        if (!h_.stalled()) {
          ++connection_errors_;
          h_.note_error("chat: " + ec.message());
        }
        break;
      }
      statuses_.add(c.response.status);
      if (c.response.status == 200) {
        client_ms_.add(ms_between(c.sent[oldest], now));
        if (const auto ms = app_time_ms(c.response)) server_ms_.add(*ms);
      } else if (statuses_.others() == 1) {
        fmt::print(stderr, "  first non-200: {} {}\n", c.response.status, shorten(c.response.body));
      }
      oldest = (oldest + 1) % c.sent.size();
      --in_flight;
      if (!c.response.keep_alive) {
        h_.note_error(fmt::format("the server closed a keep-alive connection after a {}", c.response.status));
        break;
      }
      send_next();
    }
    finished_.done();
  }

  harness h_;
  sessions_options options_;
  std::vector<connection> connections_;
  countdown finished_;
  std::size_t launched_ = 0;
  status_counts statuses_;
  samples client_ms_;
  samples server_ms_;
  std::uint64_t connection_errors_ = 0;
  result result_;
};

void add_target_options(CLI::App& command, target& server, bool pid_required) {
  command.add_option("--url", server.url, "Server base URL, e.g. http://127.0.0.1:8000")->required();
  auto* pid = command.add_option("--server-pid", server.server_pid,
                                 "Server process id, for VmRSS and CPU time read from /proc/PID");
  if (pid_required) pid->required();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Load generator for sparc-mas (POST /v1/chat, GET /health over HTTP/1.1 keep-alive).\n"
      "Runs one scenario against a running server, prints progress on stderr and one JSON result line on\n"
      "stdout; exits 0 when the scenario completed without errors. Start the server with its admission\n"
      "limits out of the way, e.g.\n"
      "  sparc-mas -p 0 --ready-file ready.json --db /tmp/mas.db --log-level warn --rate-per-key 0 \\\n"
      "            --rate-per-session 0 --max-inflight 1024 --max-queue 4096 --max-sessions 20000\n"
      "bench/run.sh runs every scenario and writes docs/benchmarks.md.",
      "sparc-mas-bench"};
  app.require_subcommand(1);
  app.footer(
      "Single-threaded: the generator shares the machine with the server. When its own CPU (bench_cpu_pct)\n"
      "nears 100 %, it is the limit, not the server.");

  target server;

  turns_options turns_opts;
  auto* turns =
      app.add_subcommand("turns", "Closed-loop chat turns, one session per client, with /health polled alongside");
  turns->footer(
      "Each client sends a turn and the next one when the 200 arrives (which the server sends only after\n"
      "the turn is committed to SQLite), or with --rate at its share of that rate; every 8th turn of a session\n"
      "goes to the coach. Replies that complete within the measured window count. A closed loop keeps every\n"
      "client's turn inside the server, so its latency is clients / throughput; --rate measures latency at a\n"
      "given load. Server time comes from `Server-Timing: app;dur=<ms>` when the server\n"
      "sends it (server_timing false otherwise: then only client-observed latency is reported).");
  add_target_options(*turns, server, false);
  turns->add_option("-c,--clients", turns_opts.clients, "Keep-alive connections, each with its own session")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  turns->add_option("--seconds", turns_opts.seconds, "Measured duration")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  turns->add_option("--warmup", turns_opts.warmup_s, "Seconds of load before measuring")
      ->check(CLI::Range(0.0, 60.0))
      ->capture_default_str();
  turns->add_option("--drain", turns_opts.drain_s, "Seconds replies in flight may still take after the window")
      ->check(CLI::Range(1.0, 600.0))
      ->capture_default_str();
  turns->add_option("--rate", turns_opts.rate, "Turns per second over all clients (0: closed loop, as fast as it goes)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  turns->add_option("--health-interval-ms", turns_opts.health_interval_ms, "GET /health period")
      ->check(CLI::Range(1.0, 10000.0))
      ->capture_default_str();

  sessions_options sessions_opts;
  auto* sessions = app.add_subcommand(
      "sessions", "Create live sessions (one chat turn each) and read the server's RSS before and after");
  sessions->footer(
      "Every request names a new session_id, which the server creates implicitly. per_session_bytes =\n"
      "(VmRSS after - VmRSS before) / sessions created. The server's --max-sessions must allow --sessions.");
  add_target_options(*sessions, server, true);
  sessions->add_option("-n,--sessions", sessions_opts.sessions, "Sessions to create")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  sessions->add_option("--connections", sessions_opts.connections, "Keep-alive connections")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  sessions->add_option("--window", sessions_opts.window, "Requests pipelined per connection")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  sessions->add_option("--settle", sessions_opts.settle_s, "Seconds to wait before reading RSS")
      ->check(CLI::Range(0.0, 60.0))
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  try {
    result r;
    if (turns->parsed()) r = turns_scenario(server, turns_opts).run();
    if (sessions->parsed()) r = sessions_scenario(server, sessions_opts).run();
    std::cout << r.dump() << std::endl;
    return r.value("ok", false) ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "sparc-mas-bench: {}\n", e.what());
    return 2;
  }
}
