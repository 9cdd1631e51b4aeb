#include "scenarios.hpp"

#include "core/encoding.hpp"
#include "core/ids.hpp"
#include "measure.hpp"
#include "net/ws_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/core.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <vector>

namespace bench {
namespace asio = boost::asio;
using error_code = boost::system::error_code;
using net::parse_ws_url;
using net::tcp;
using net::ws_client;
using net::ws_url;
namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// A scenario whose progress counter stays still this long has met a server that lost messages.
constexpr auto stall_limit = 10s;
/// Receive buffer per socket: idle sockets need only room for an ack; relay sockets read batches.
constexpr std::size_t idle_read_chunk = 512;
constexpr std::size_t busy_read_chunk = 64 * 1024;

double seconds_between(clock::time_point from, clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

/// Where the value of `"key":` starts in compact JSON, or npos.
std::size_t value_position(std::string_view json, std::string_view key) {
  for (std::size_t pos = json.find(key); pos != std::string_view::npos; pos = json.find(key, pos + 1)) {
    if (pos == 0 || json[pos - 1] != '"' || json.substr(pos + key.size(), 1) != "\"") continue;
    std::size_t i = pos + key.size() + 1;
    while (i < json.size() && json[i] == ' ') ++i;
    if (i >= json.size() || json[i] != ':') continue;
    ++i;
    while (i < json.size() && json[i] == ' ') ++i;
    return i;
  }
  return std::string_view::npos;
}

/// The first `"key":"value"` in a server reply. A scan, not a parse: relayed messages are counted at
/// hundreds of thousands per second and the generator shares the server's cores.
std::string_view string_field(std::string_view json, std::string_view key) {
  const auto i = value_position(json, key);
  if (i == std::string_view::npos || i >= json.size() || json[i] != '"') return {};
  const auto end = json.find('"', i + 1);
  return end == std::string_view::npos ? std::string_view{} : json.substr(i + 1, end - i - 1);
}

std::optional<bool> bool_field(std::string_view json, std::string_view key) {
  const auto i = value_position(json, key);
  if (i == std::string_view::npos) return std::nullopt;
  if (json.substr(i, 4) == "true") return true;
  if (json.substr(i, 5) == "false") return false;
  return std::nullopt;
}

/// SDP-shaped text of exactly `bytes` bytes (CRLF lines, escaped by the server like a real offer).
std::string sdp_text(std::size_t bytes) {
  std::string sdp = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
  while (sdp.size() < bytes) sdp += "a=x-sparc-bench:0123456789abcdef0123456789abcdef\r\n";
  sdp.resize(bytes);
  return sdp;
}

std::string connect_message(std::string_view id) {
  return R"({"type":"connect","connectionId":")" + std::string(id) + R"("})";
}

/// An offer or answer as Unity sends it: routed by data.connectionId.
std::string signal_message(std::string_view type, std::string_view id, std::string_view sdp) {
  std::string out = R"({"type":")" + std::string(type) + R"(","from":")" + std::string(id) +
                    R"(","data":{"connectionId":")" + std::string(id) + R"(","sdp":)";
  core::append_json_string(out, sdp);
  out += "}}";
  return out;
}

std::string shorten(std::string_view text) { return std::string(text.substr(0, 200)); }

void spawn(asio::io_context& io, asio::awaitable<void> task) {
  asio::co_spawn(io, std::move(task), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
}

asio::awaitable<void> sleep_for(clock::duration duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(use_tuple);
}

/// A one-shot flag a coroutine can wait on with a deadline.
class event {
 public:
  explicit event(asio::any_io_executor executor) : timer_(std::move(executor)) {}
  void set() {
    set_ = true;
    timer_.cancel();
  }
  /// True once set; false when `limit` passed first.
  asio::awaitable<bool> wait_for(clock::duration limit) {
    if (!set_) {
      timer_.expires_after(limit);
      co_await timer_.async_wait(use_tuple);
    }
    co_return set_;
  }

 private:
  asio::steady_timer timer_;
  bool set_ = false;
};

/// Waits for `done`, reporting progress each second; false when progress stalls for stall_limit.
asio::awaitable<bool> wait_with_progress(event& done, std::string label, std::function<std::size_t()> progress,
                                         std::size_t total) {
  auto last = progress();
  auto last_change = clock::now();
  while (!co_await done.wait_for(1s)) {
    const auto now_value = progress();
    fmt::print(stderr, "  {}: {}/{}\n", label, now_value, total);
    if (now_value != last) {
      last = now_value;
      last_change = clock::now();
    } else if (clock::now() - last_change >= stall_limit) {
      co_return false;
    }
  }
  co_return true;
}

/// What every scenario shares: the event loop, the resolved server, socket factory and close-down.
class harness {
 public:
  explicit harness(const target& server) : server_(server), all_closed_(io_.get_executor()) {
    auto url = parse_ws_url(server.url);
    if (!url) throw std::invalid_argument("--url must look like ws://127.0.0.1:8080/ (got '" + server.url + "')");
    url_ = *url;
    tcp::resolver resolver(io_);
    endpoint_ = resolver.resolve(url_.host, url_.port).begin()->endpoint();
    seed_ = (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  }

  asio::io_context& io() { return io_; }
  const target& server() const { return server_; }

  ws_client& add_client(std::size_t read_chunk) {
    clients_.push_back(std::make_unique<ws_client>(io_.get_executor(), read_chunk, seed_ + clients_.size()));
    return *clients_.back();
  }
  std::size_t client_count() const { return clients_.size(); }
  ws_client& client(std::size_t index) { return *clients_[index]; }

  asio::awaitable<error_code> open(ws_client& client) { return client.open(endpoint_, url_); }

  /// Runs `client`'s reader until the connection ends; errors before close-down are remembered.
  asio::awaitable<void> read(ws_client& client, ws_client::message_handler on_message) {
    ++running_;
    const auto ec = co_await client.run(std::move(on_message));
    --running_;
    if (ec && !closing_) note_error("connection ended early: " + ec.message());
    if (closing_ && running_ == 0) all_closed_.set();
  }

  /// Closing handshake on every socket; sockets that do not finish within `limit` are aborted.
  asio::awaitable<void> close_all(clock::duration limit) {
    closing_ = true;
    for (auto& c : clients_) c->close();
    if (running_ == 0) all_closed_.set();
    if (!co_await all_closed_.wait_for(limit)) {
      fmt::print(stderr, "  {} sockets did not finish the closing handshake in time; aborting them\n", running_);
      for (auto& c : clients_) c->abort();
      co_await all_closed_.wait_for(2s);
    }
    for (auto& c : clients_) c->abort();  // also ends connection attempts still in their handshake
  }
  bool closing() const { return closing_; }

  void note_error(std::string what) {
    ++errors_;
    if (first_error_.empty()) first_error_ = std::move(what);
  }
  std::size_t errors() const { return errors_; }
  const std::string& first_error() const { return first_error_; }

  /// Runs `main` and every socket task to completion.
  void run(asio::awaitable<void> main) {
    spawn(io_, std::move(main));
    io_.run();
  }

 private:
  asio::io_context io_;
  target server_;
  ws_url url_;
  tcp::endpoint endpoint_;
  std::uint64_t seed_ = 0;
  std::vector<std::unique_ptr<ws_client>> clients_;
  std::size_t running_ = 0;
  bool closing_ = false;
  event all_closed_;
  std::size_t errors_ = 0;
  std::string first_error_;
};

void finish(result& r, const harness& h, bool complete) {
  r["errors"] = h.errors();
  if (!h.first_error().empty()) r["first_error"] = h.first_error();
  r["ok"] = complete && h.errors() == 0;
}

// ---------------------------------------------------------------------------------------------------

class sockets_scenario {
 public:
  sockets_scenario(const target& server, const sockets_options& options)
      : h_(server), options_(options), all_settled_(h_.io().get_executor()) {}

  result run() {
    ensure_fd_limit(options_.count);
    h_.run(main());
    return std::move(result_);
  }

 private:
  /// Each socket is a descriptor here as well as in the server. Raises the soft limit if the hard one allows.
  static void ensure_fd_limit(std::size_t sockets) {
    constexpr rlim_t spare = 32;  // stdio, epoll, eventfd, /proc reads
    const rlim_t needed = static_cast<rlim_t>(sockets) + spare;
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < needed && limit.rlim_max >= needed) {
      limit.rlim_cur = needed;
      setrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur < needed)
      throw std::runtime_error(fmt::format(
          "{} sockets need {} file descriptors; this process may open {} (hard limit {}). Run several generator "
          "processes (each has its own limit), each with a share of --count",
          sockets, needed, limit.rlim_cur, limit.rlim_max));
  }

  asio::awaitable<void> main() {
    const int pid = h_.server().server_pid;
    const auto n = options_.count;
    result_ = {{"scenario", "sockets"}, {"count", n}};
    const auto rss_idle = read_rss_kb(pid);
    fmt::print(stderr, "sockets: opening {} sockets, {} at a time (server RSS {} KiB)\n", n, options_.batch,
               rss_idle.value_or(-1));
    for (std::size_t i = 0; i < n; ++i) h_.add_client(idle_read_chunk);

    const auto start = clock::now();
    while (launched_ < std::min(options_.batch, n)) launch_next();
    const bool complete = co_await wait_with_progress(all_settled_, "acked", [this] { return acked_; }, n);
    const double connect_s = seconds_between(start, clock::now());
    const auto rss_open = read_rss_kb(pid);
    const auto bench_rss = read_rss_kb(static_cast<int>(getpid()));
    fmt::print(stderr, "sockets: {} acked, {} failed in {:.2f} s; server RSS {} KiB; closing\n", acked_, failed_,
               connect_s, rss_open.value_or(-1));

    co_await h_.close_all(10s);
    co_await sleep_for(std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(options_.settle_s)));
    const auto rss_after = read_rss_kb(pid);
    fmt::print(stderr, "sockets: closed; server RSS {} KiB after {:.1f} s\n", rss_after.value_or(-1),
               options_.settle_s);

    result_["opened"] = acked_;
    result_["failed"] = failed_;
    result_["connect_s"] = round_to(connect_s, 3);
    result_["connects_per_s"] = std::lround(static_cast<double>(acked_) / connect_s);
    if (rss_idle && rss_open && rss_after && acked_ > 0) {
      result_["rss_idle_kb"] = *rss_idle;
      result_["rss_open_kb"] = *rss_open;
      result_["rss_after_close_kb"] = *rss_after;
      result_["per_socket_bytes"] = std::lround(static_cast<double>(*rss_open - *rss_idle) * 1024.0 /
                                                static_cast<double>(acked_));
      const auto grown = *rss_open - *rss_idle;
      result_["returned_pct"] =
          grown > 0 ? round_to(100.0 * static_cast<double>(*rss_open - *rss_after) / static_cast<double>(grown), 1)
                    : 100.0;
    }
    if (bench_rss) result_["bench_rss_kb"] = *bench_rss;
    finish(result_, h_, complete && acked_ == n);
  }

  void launch_next() {
    const auto index = launched_++;
    spawn(h_.io(), open_one(index));
  }

  /// An ack or a failure: either way the slot is free for the next connection.
  void settle() {
    ++settled_;
    if (launched_ < options_.count && !h_.closing()) launch_next();
    if (settled_ == options_.count) all_settled_.set();
  }

  void fail(std::string what) {
    ++failed_;
    h_.note_error(std::move(what));
    settle();
  }

  asio::awaitable<void> open_one(std::size_t index) {
    auto& client = h_.client(index);
    if (const auto ec = co_await h_.open(client); ec) {
      client.abort();
      fail("open: " + ec.message());
      co_return;
    }
    client.send_text(connect_message(core::uuid_v4()));
    bool acked = false;
    co_await h_.read(client, [this, &acked](std::string_view message) {
      const auto type = string_field(message, "type");
      if (type == "connect" && !acked) {
        acked = true;
        ++acked_;
        settle();
      } else if (!h_.closing()) {
        h_.note_error("unexpected message: " + shorten(message));
      }
    });
    if (!acked) fail("closed before the connect ack");
  }

  harness h_;
  sockets_options options_;
  std::size_t launched_ = 0;
  std::size_t settled_ = 0;
  std::size_t acked_ = 0;
  std::size_t failed_ = 0;
  event all_settled_;
  result result_;
};

// ---------------------------------------------------------------------------------------------------

class rtt_scenario {
 public:
  rtt_scenario(const target& server, const rtt_options& options)
      : h_(server),
        options_(options),
        id_(core::uuid_v4()),
        offer_(signal_message("offer", id_, sdp_text(server.sdp_bytes))),
        answer_(signal_message("answer", id_, sdp_text(server.sdp_bytes))),
        acked_(h_.io().get_executor()),
        done_(h_.io().get_executor()) {}

  result run() {
    h_.run(main());
    return std::move(result_);
  }

 private:
  asio::awaitable<void> main() {
    total_ = options_.warmup + options_.iterations;
    result_ = {{"scenario", "rtt"}, {"iterations", options_.iterations}, {"warmup", options_.warmup},
               {"sdp_bytes", h_.server().sdp_bytes}};
    a_ = &h_.add_client(busy_read_chunk);
    b_ = &h_.add_client(busy_read_chunk);
    for (auto* c : {a_, b_}) {
      if (const auto ec = co_await h_.open(*c); ec) {
        h_.note_error("open: " + ec.message());
        co_await h_.close_all(1s);
        finish(result_, h_, false);
        co_return;
      }
    }
    spawn(h_.io(), h_.read(*a_, [this](std::string_view m) { on_a(m); }));
    spawn(h_.io(), h_.read(*b_, [this](std::string_view m) { on_b(m); }));
    a_->send_text(connect_message(id_));
    bool complete = co_await acked_.wait_for(5s);
    if (!complete) h_.note_error("no connect ack within 5 s");

    if (complete) {
      fmt::print(stderr, "rtt: {} round trips ({} warm-up), offer A -> server -> B, answer B -> server -> A\n",
                 total_, options_.warmup);
      samples_.reserve(options_.iterations);
      const auto server_cpu_start = read_cpu_s(h_.server().server_pid);
      const auto self_cpu_start = self_cpu_s();
      const auto machine_start = machine_busy_s();
      const auto start = clock::now();
      sent_at_ = start;
      a_->send_text(offer_);
      complete = co_await wait_with_progress(done_, "round trips", [this] { return count_; }, total_);
      // CPU per round trip (two relays) against its wall time: how much of the latency is work.
      const auto server_cpu_end = read_cpu_s(h_.server().server_pid);
      const double self_cpu = self_cpu_s() - self_cpu_start;
      const double machine = machine_busy_s() - machine_start;
      const double elapsed = seconds_between(start, clock::now());
      if (complete) {
        auto per_round_trip = [this](double secs) { return round_to(secs * 1e6 / static_cast<double>(total_), 1); };
        result_["bench_cpu_us_per_round_trip"] = per_round_trip(self_cpu);
        if (server_cpu_start && server_cpu_end) {
          const double server_cpu = *server_cpu_end - *server_cpu_start;
          result_["server_cpu_us_per_round_trip"] = per_round_trip(server_cpu);
          result_["other_cpu_pct"] = other_cpu_pct(machine, server_cpu, self_cpu, elapsed);
        }
      }
    }
    co_await h_.close_all(5s);

    if (!samples_.empty()) {
      std::sort(samples_.begin(), samples_.end());
      auto percentile = [this](double q) { return bench::percentile(samples_, q); };
      double sum = 0;
      for (double s : samples_) sum += s;
      result_["samples"] = samples_.size();
      result_["p50_ms"] = round_to(percentile(0.50), 4);
      result_["p90_ms"] = round_to(percentile(0.90), 4);
      result_["p99_ms"] = round_to(percentile(0.99), 4);
      result_["max_ms"] = round_to(samples_.back(), 4);
      result_["mean_ms"] = round_to(sum / static_cast<double>(samples_.size()), 4);
      fmt::print(stderr, "rtt: p50 {:.3f} ms, p99 {:.3f} ms, max {:.3f} ms\n", percentile(0.5), percentile(0.99),
                 samples_.back());
    }
    finish(result_, h_, complete && samples_.size() == options_.iterations);
  }

  void on_a(std::string_view message) {
    const auto type = string_field(message, "type");
    if (type == "answer") {
      const auto now = clock::now();
      if (count_ >= options_.warmup) samples_.push_back(std::chrono::duration<double, std::milli>(now - sent_at_).count());
      if (++count_ == total_) {
        done_.set();
        return;
      }
      sent_at_ = now;
      a_->send_text(offer_);
    } else if (type == "connect") {
      acked_.set();
    } else if (!h_.closing()) {  // closing sockets make the server tell partners "disconnect"
      h_.note_error("A got an unexpected message: " + shorten(message));
    }
  }

  void on_b(std::string_view message) {
    if (string_field(message, "type") == "offer") {
      b_->send_text(answer_);
    } else if (!h_.closing()) {
      h_.note_error("B got an unexpected message: " + shorten(message));
    }
  }

  harness h_;
  rtt_options options_;
  std::string id_;
  std::string offer_;
  std::string answer_;
  ws_client* a_ = nullptr;
  ws_client* b_ = nullptr;
  std::size_t total_ = 0;
  std::size_t count_ = 0;
  clock::time_point sent_at_;
  std::vector<double> samples_;  ///< milliseconds
  event acked_;
  event done_;
  result result_;
};

// ---------------------------------------------------------------------------------------------------

class relay_scenario {
 public:
  relay_scenario(const target& server, const relay_options& options)
      : h_(server), options_(options), ready_(h_.io().get_executor()) {}

  result run() {
    h_.run(main());
    return std::move(result_);
  }

 private:
  /// Both sockets own the same connectionId (private mode): A is impolite and offers, B answers.
  struct pair {
    std::string connect;
    std::string offer;
    std::string answer;
    ws_client* a = nullptr;
    ws_client* b = nullptr;
    std::uint64_t received = 0;
    std::uint64_t received_at_check = 0;
  };

  asio::awaitable<void> main() {
    const int pid = h_.server().server_pid;
    result_ = {{"scenario", "relay"}, {"pairs", options_.pairs}, {"window", options_.window},
               {"sdp_bytes", h_.server().sdp_bytes}};
    const auto sdp = sdp_text(h_.server().sdp_bytes);
    pairs_.resize(options_.pairs);
    for (auto& p : pairs_) {
      const auto id = core::uuid_v4();
      p.connect = connect_message(id);
      p.offer = signal_message("offer", id, sdp);
      p.answer = signal_message("answer", id, sdp);
      p.a = &h_.add_client(busy_read_chunk);
      p.b = &h_.add_client(busy_read_chunk);
    }
    for (std::size_t i = 0; i < h_.client_count(); ++i) {
      if (const auto ec = co_await h_.open(h_.client(i)); ec) {
        h_.note_error("open: " + ec.message());
        co_await h_.close_all(1s);
        finish(result_, h_, false);
        co_return;
      }
    }
    for (auto& p : pairs_) {
      spawn(h_.io(), h_.read(*p.a, [this, &p](std::string_view m) { on_a(p, m); }));
      spawn(h_.io(), h_.read(*p.b, [this, &p](std::string_view m) { on_b(p, m); }));
      p.a->send_text(p.connect);
    }
    bool complete = co_await ready_.wait_for(10s);
    if (!complete) h_.note_error(fmt::format("only {} of {} pairs formed within 10 s", ready_count_, pairs_.size()));

    if (complete) {
      fmt::print(stderr, "relay: {} pairs, window {}, {} s (+{} s warm-up)\n", pairs_.size(), options_.window,
                 options_.seconds, options_.warmup_s);
      traffic_ = true;
      for (auto& p : pairs_)
        for (std::size_t w = 0; w < options_.window; ++w) p.a->send_text(p.offer);
      co_await sleep_for(to_duration(options_.warmup_s));

      const auto start_count = received_;
      const auto start = clock::now();
      const auto server_cpu_start = read_cpu_s(pid);
      const auto self_cpu_start = self_cpu_s();
      const auto machine_start = machine_busy_s();
      const auto deadline = start + to_duration(options_.seconds);
      auto last_count = start_count;
      auto last_time = start;
      std::vector<long> per_second;
      while (clock::now() < deadline) {
        co_await sleep_for(std::min<clock::duration>(1s, deadline - clock::now()));
        const auto now = clock::now();
        const double rate = static_cast<double>(received_ - last_count) / seconds_between(last_time, now);
        per_second.push_back(std::lround(rate));
        fmt::print(stderr, "  {:.0f} msgs/s\n", rate);
        last_count = received_;
        last_time = now;
        stalled_ = 0;
        for (auto& p : pairs_) {
          if (p.received == p.received_at_check) ++stalled_;
          p.received_at_check = p.received;
        }
      }
      const auto end = clock::now();
      const auto counted = received_ - start_count;
      const double elapsed = seconds_between(start, end);
      const auto server_cpu_end = read_cpu_s(pid);
      const auto self_cpu_end = self_cpu_s();
      const auto machine_end = machine_busy_s();
      traffic_ = false;

      result_["seconds"] = round_to(elapsed, 3);
      result_["messages"] = counted;
      result_["msgs_per_s"] = std::lround(static_cast<double>(counted) / elapsed);
      result_["per_second"] = per_second;
      result_["stalled_pairs"] = stalled_;
      if (server_cpu_start && server_cpu_end) {
        result_["server_cpu_pct"] = std::lround(100.0 * (*server_cpu_end - *server_cpu_start) / elapsed);
        if (counted > 0)
          result_["server_cpu_us_per_msg"] =
              round_to((*server_cpu_end - *server_cpu_start) * 1e6 / static_cast<double>(counted), 2);
      }
      result_["bench_cpu_pct"] = std::lround(100.0 * (self_cpu_end - self_cpu_start) / elapsed);
      if (counted > 0)
        result_["bench_cpu_us_per_msg"] =
            round_to((self_cpu_end - self_cpu_start) * 1e6 / static_cast<double>(counted), 2);
      if (server_cpu_start && server_cpu_end)
        result_["other_cpu_pct"] = other_cpu_pct(machine_end - machine_start, *server_cpu_end - *server_cpu_start,
                                                 self_cpu_end - self_cpu_start, elapsed);
      result_["pairing_errors"] = pairing_errors_;
      fmt::print(stderr, "relay: {:.0f} relayed msgs/s\n", static_cast<double>(counted) / elapsed);
      complete = counted > 0 && stalled_ == 0 && pairing_errors_ == 0;
      co_await sleep_for(200ms);  // let in-flight answers drain before closing
    }
    co_await h_.close_all(5s);
    finish(result_, h_, complete);
  }

  static clock::duration to_duration(double secs) {
    return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(secs));
  }

  void on_a(pair& p, std::string_view message) {
    const auto type = string_field(message, "type");
    if (type == "answer") {
      ++received_;
      ++p.received;
      if (traffic_) p.a->send_text(p.offer);
    } else if (type == "connect") {
      if (bool_field(message, "polite") != false) ++pairing_errors_;
      p.b->send_text(p.connect);
    } else if (!h_.closing()) {  // closing sockets make the server tell partners "disconnect"
      h_.note_error("A got an unexpected message: " + shorten(message));
    }
  }

  void on_b(pair& p, std::string_view message) {
    const auto type = string_field(message, "type");
    if (type == "offer") {
      ++received_;
      ++p.received;
      p.b->send_text(p.answer);
    } else if (type == "connect") {
      if (bool_field(message, "polite") != true) ++pairing_errors_;
      if (++ready_count_ == pairs_.size()) ready_.set();
    } else if (!h_.closing()) {
      h_.note_error("B got an unexpected message: " + shorten(message));
    }
  }

  harness h_;
  relay_options options_;
  std::vector<pair> pairs_;
  std::size_t ready_count_ = 0;
  std::size_t pairing_errors_ = 0;
  std::size_t stalled_ = 0;
  std::uint64_t received_ = 0;
  bool traffic_ = false;
  event ready_;
  result result_;
};

}  // namespace

result run_sockets(const target& server, const sockets_options& options) {
  return sockets_scenario(server, options).run();
}

result run_rtt(const target& server, const rtt_options& options) { return rtt_scenario(server, options).run(); }

result run_relay(const target& server, const relay_options& options) {
  return relay_scenario(server, options).run();
}

}  // namespace bench
