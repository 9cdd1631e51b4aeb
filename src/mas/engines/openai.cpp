#include "mas/engines/openai.hpp"

#include "mas/engines/sse.hpp"
#include "net/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <deque>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace mas::engines {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

namespace {

constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_response_head = std::size_t{16} * 1024;
constexpr milliseconds models_timeout = 3s;      // GET /v1/models is cheap; slower means the server is struggling
constexpr milliseconds not_ready_poll = 1s;      // poll faster until the server is ready (vLLM loads for minutes)
constexpr milliseconds error_body_timeout = 1s;  // reading a refusal's body is a courtesy, not worth a turn

struct server_url {
  std::string host;
  std::string port;
  std::string path;  ///< "/v1" or "/prefix/v1"
};

server_url parse_base(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme))
    throw std::invalid_argument("model server URL must start with http:// (put a TLS proxy in front for https): " +
                                std::string(url));
  url.remove_prefix(scheme.size());
  const auto slash = url.find('/');
  const auto authority = url.substr(0, slash);
  std::string path(slash == std::string_view::npos ? std::string_view() : url.substr(slash));
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (!path.ends_with("/v1")) path += "/v1";
  server_url out;
  out.path = path;
  const auto parsed = net::parse_authority(authority);
  if (!parsed || parsed->port.find_first_not_of("0123456789") != std::string::npos)
    throw std::invalid_argument("model server URL: bad host or port");
  out.host = parsed->host;
  out.port = parsed->port;
  return out;
}

std::string_view role_name(role r) {
  switch (r) {
    case role::caregiver:
      return "caregiver";
    case role::coach:
      return "coach";
    case role::supervisor:
      return "supervisor";
  }
  return "caregiver";
}

struct job {
  turn t;
  token_sink sink;
  completion done;
  clock_type::time_point enqueued;
};

/// One try at the model server. `retryable` is true only when the server cannot have started generating.
struct attempt_result {
  core::result<generation> r = core::make_error_code(core::errc::unavailable);
  bool retryable = false;
};

/// choices[0][member].content of a parsed completion or chunk; `finished` is set from its finish_reason.
core::result<std::string> text_at(const json& j, const char* member, bool* finished = nullptr) {
  if (!j.is_object() || !j.contains("choices") || !j["choices"].is_array() || j["choices"].empty() ||
      !j["choices"][0].is_object())
    return core::make_error_code(core::errc::malformed);
  const auto& choice = j["choices"][0];
  if (finished) *finished = choice.contains("finish_reason") && choice["finish_reason"].is_string();
  if (!choice.contains(member)) return std::string();
  const auto& m = choice[member];
  if (!m.is_object()) return core::make_error_code(core::errc::malformed);
  if (!m.contains("content") || m["content"].is_null()) return std::string();
  if (!m["content"].is_string()) return core::make_error_code(core::errc::wrong_type);
  return m["content"].get<std::string>();
}

}  // namespace

core::result<std::string> completion_text(std::string_view body) {
  return text_at(json::parse(body, nullptr, false), "message");
}

core::result<std::string> chunk_text(std::string_view data, bool* finished) {
  return text_at(json::parse(data, nullptr, false), "delta", finished);
}

struct openai_engine::impl {
  openai_config cfg;
  server_url url;
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  asio::steady_timer poll_timer{io};
  std::thread thread;

  // Engine thread only.
  std::deque<std::shared_ptr<job>> queue;
  std::size_t active = 0;
  std::set<beast::tcp_stream*> open_streams;
  bool stopping = false;

  // Any thread.
  mutable std::mutex mu;
  engine_health health_state{false, "not polled yet", {}, {}};
  openai_stats counters;

  explicit impl(openai_config c) : cfg(std::move(c)), url(parse_base(cfg.base_url)) {
    if (cfg.max_concurrency == 0) cfg.max_concurrency = 1;
    if (cfg.models_poll.count() == 0) health_state = {true, "not polled (models_poll = 0)", {}, {}};
  }

  std::string model_for(const turn& t) const {
    if (const auto it = cfg.models.find(t.agent); it != cfg.models.end() && !it->second.empty()) return it->second;
    return t.model;
  }

  sampling sampling_for(role r) const {
    const auto it = cfg.sampling_by_agent.find(r);
    return it == cfg.sampling_by_agent.end() ? sampling{} : it->second;
  }

  std::string body_for(const turn& t, const std::string& model) const {
    const auto s = sampling_for(t.agent);
    json messages = json::array();
    for (auto& m : build_messages(t, {cfg.context_tokens, s.max_tokens}))
      messages.push_back({{"role", std::move(m.role)}, {"content", std::move(m.content)}});
    json body = {{"model", model},           {"messages", std::move(messages)}, {"max_tokens", s.max_tokens},
                 {"temperature", s.temperature}, {"top_p", s.top_p},              {"stream", cfg.stream}};
    if (t.agent == role::coach || t.agent == role::supervisor) {
      if (cfg.coach_format == "json_schema" && t.agent == role::coach)
        body["response_format"] = {
            {"type", "json_schema"},
            {"json_schema", {{"name", "clear_grade"}, {"schema", coach_schema()}, {"strict", true}}}};
      else if (cfg.coach_format != "none")
        body["response_format"] = {{"type", "json_object"}};
    }
    return body.dump();
  }

  http::request<http::string_body> request(http::verb verb, const std::string& target, std::string body) const {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, url.host + ":" + url.port);
    req.set(http::field::user_agent, "sparc-mas");
    if (!cfg.api_key.empty()) req.set(http::field::authorization, "Bearer " + cfg.api_key);
    if (verb == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.set(http::field::accept, cfg.stream ? "text/event-stream" : "application/json");
      req.body() = std::move(body);
    }
    req.keep_alive(false);
    req.prepare_payload();
    return req;
  }

  /// Connects `stream` under the connect deadline. Every failure here is safe to retry: nothing was sent.
  asio::awaitable<boost::system::error_code> connect(beast::tcp_stream& stream, milliseconds limit) {
    asio::ip::tcp::resolver resolver(io);
    auto [rec, endpoints] = co_await resolver.async_resolve(url.host, url.port, tuple);
    if (rec) co_return rec;
    stream.expires_after(limit);
    auto [cec, endpoint] = co_await stream.async_connect(endpoints, tuple);
    co_return cec;
  }

  static void close(beast::tcp_stream& stream) {
    boost::system::error_code ignored;
    (void)stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream.close();
  }

  asio::awaitable<attempt_result> attempt(job& j, const std::string& model, const std::string& body) {
    attempt_result out;
    const auto deadline = j.t.deadline;
    const auto left = [&] {
      return std::max(0ms, std::chrono::duration_cast<milliseconds>(deadline - clock_type::now()));
    };
    const auto fail = [&](core::errc e, bool retryable) {
      out.r = core::make_error_code(e);
      out.retryable = retryable;
      return out;
    };
    if (left() == 0ms) co_return fail(core::errc::timed_out, false);

    beast::tcp_stream stream(io);
    open_streams.insert(&stream);
    struct forget {
      impl& m;
      beast::tcp_stream& s;
      ~forget() {
        m.open_streams.erase(&s);
        close(s);
      }
    } forget_stream{*this, stream};

    if (const auto ec = co_await connect(stream, std::min(cfg.connect_timeout, left())))
      co_return fail(left() == 0ms ? core::errc::timed_out : core::errc::unavailable, left() > 0ms);

    const auto started = clock_type::now();
    auto req = request(http::verb::post, url.path + "/chat/completions", body);
    stream.expires_after(left());
    if (auto [wec, written] = co_await http::async_write(stream, req, tuple); wec)
      co_return fail(core::errc::unavailable, false);  // part of the request may have been read

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(max_response_head));
    parser.body_limit(cfg.max_response_bytes);
    stream.expires_after(std::min(cfg.first_token_timeout, left()));
    if (auto [hec, n] = co_await http::async_read_header(stream, buffer, parser, tuple); hec)
      co_return fail(hec == beast::error::timeout ? core::errc::timed_out : core::errc::unavailable, false);

    const auto status = static_cast<int>(parser.get().result_int());
    if (status != 200) {
      // Drain what the server says (bounded) so the connection ends cleanly; the reason is not logged (a server's
      // message may quote the prompt).
      stream.expires_after(std::min(error_body_timeout, left()));
      (void)co_await http::async_read(stream, buffer, parser, tuple);
      // 429 and 503 are refusals before any work: the same request may succeed shortly.
      if (status == 429 || status == 503) co_return fail(core::errc::unavailable, true);
      co_return fail(status >= 400 && status < 500 ? core::errc::invalid_argument : core::errc::unavailable, false);
    }

    generation g;
    g.engine = "openai:" + model;
    g.model = model;
    if (j.t.agent == role::coach) g.graded_by = "model";
    const auto content_type = parser.get()[http::field::content_type];
    const bool streamed = cfg.stream && content_type.starts_with("text/event-stream");
    if (!streamed) {
      stream.expires_after(left());
      if (auto [rec, n] = co_await http::async_read(stream, buffer, parser, tuple); rec)
        co_return fail(rec == beast::error::timeout ? core::errc::timed_out
                       : rec == http::error::body_limit ? core::errc::too_large
                                                        : core::errc::unavailable,
                       false);
      auto text = completion_text(parser.get().body());
      if (!text) co_return fail(core::errc::malformed, false);
      g.first_token = std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - started);
      g.text = std::move(*text);
      if (j.sink && !g.text.empty()) j.sink(g.text);
      out.r = std::move(g);
      co_return out;
    }

    sse_parser sse(cfg.max_response_bytes);
    bool done = false;
    bool finished = false;
    bool got_text = false;
    core::errc bad = core::errc::ok;
    const auto on_data = [&](std::string_view data) {
      if (done || bad != core::errc::ok) return;
      if (data == "[DONE]") {
        done = true;
        return;
      }
      bool fin = false;
      auto piece = chunk_text(data, &fin);
      if (!piece) {
        bad = core::errc::malformed;
        return;
      }
      finished = finished || fin;
      if (piece->empty()) return;
      if (!got_text) {
        got_text = true;
        g.first_token = std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - started);
      }
      g.text += *piece;
      if (j.sink) j.sink(*piece);
    };
    while (!done && bad == core::errc::ok) {
      // Before the first text the first-token deadline applies; after it, a stall between pieces is a failure.
      const auto since = std::chrono::duration_cast<milliseconds>(clock_type::now() - started);
      const auto wait = got_text ? cfg.stall_timeout : std::max(0ms, cfg.first_token_timeout - since);
      stream.expires_after(std::min(wait, left()));
      auto [rec, n] = co_await http::async_read_some(stream, buffer, parser, tuple);
      auto& piece = parser.get().body();
      if (!piece.empty()) {
        if (!sse.feed(piece, on_data)) bad = core::errc::too_large;
        piece.clear();  // the string body appends at its current size, so consumed bytes can go
      }
      if (done || bad != core::errc::ok) break;
      if (rec == http::error::end_of_stream || (!rec && parser.is_done())) {
        // The server ended the stream without "[DONE]": complete only if it said the choice had finished.
        if (finished) done = true;
        else bad = core::errc::unavailable;
        break;
      }
      if (rec) {
        bad = rec == beast::error::timeout ? core::errc::timed_out
              : rec == http::error::body_limit ? core::errc::too_large
                                               : core::errc::unavailable;
        break;
      }
    }
    if (bad != core::errc::ok) co_return fail(bad, false);
    out.r = std::move(g);
    co_return out;
  }

  asio::awaitable<void> run(std::shared_ptr<job> j) {
    const auto began = clock_type::now();
    const auto model = model_for(j->t);
    core::result<generation> result = core::make_error_code(core::errc::invalid_argument);
    int attempts = 0;
    if (!model.empty()) {
      const auto body = body_for(j->t, model);
      for (;;) {
        ++attempts;
        {
          const std::lock_guard lock(mu);
          ++counters.requests;
        }
        auto a = co_await attempt(*j, model, body);
        result = std::move(a.r);
        if (result || !a.retryable || attempts > cfg.retries || stopping) break;
        const auto backoff = cfg.retry_backoff * (1 << std::min(attempts - 1, 10));
        if (clock_type::now() + backoff >= j->t.deadline) break;
        {
          const std::lock_guard lock(mu);
          ++counters.retries;
        }
        asio::steady_timer pause(io, backoff);
        (void)co_await pause.async_wait(tuple);
      }
    }
    if (result) {
      result->queued = std::chrono::duration_cast<std::chrono::microseconds>(began - j->enqueued);
      result->attempts = attempts;
    } else {
      {
        const std::lock_guard lock(mu);
        ++counters.failures;
        if (result.error() == core::errc::timed_out) ++counters.timeouts;
      }
      // The server may have gone: let /health find out now rather than at the next scheduled poll.
      if (result.error() == core::errc::unavailable && cfg.models_poll.count() > 0) poll_timer.cancel();
    }
    --active;
    pump();
    j->done(std::move(result));
  }

  void pump() {
    while (!stopping && active < cfg.max_concurrency && !queue.empty()) {
      auto j = std::move(queue.front());
      queue.pop_front();
      ++active;
      asio::co_spawn(io, run(std::move(j)), asio::detached);
    }
    const std::lock_guard lock(mu);
    counters.active = active;
    counters.queued = queue.size();
  }

  void enqueue(std::shared_ptr<job> j) {
    if (stopping) return j->done(core::make_error_code(core::errc::unavailable));
    if (queue.size() >= cfg.max_queue) {
      {
        const std::lock_guard lock(mu);
        ++counters.rejected_queue_full;
      }
      return j->done(core::make_error_code(core::errc::unavailable));
    }
    queue.push_back(std::move(j));
    pump();
  }

  /// GET {base}/models: the server is ready when it answers and lists every model the agents use.
  asio::awaitable<void> poll_models() {
    while (!stopping) {
      engine_health h{false, "", {}, {}};
      {
        beast::tcp_stream stream(io);
        open_streams.insert(&stream);
        if (auto ec = co_await connect(stream, models_timeout)) {
          h.detail = "model server unreachable at " + url.host + ":" + url.port + " (" + ec.message() + ")";
        } else {
          auto req = request(http::verb::get, url.path + "/models", {});
          stream.expires_after(models_timeout);
          beast::flat_buffer buffer;
          http::response_parser<http::string_body> parser;
          parser.body_limit(std::size_t{1} << 20);
          auto [wec, w] = co_await http::async_write(stream, req, tuple);
          boost::system::error_code rec = wec;
          if (!wec) std::tie(rec, w) = co_await http::async_read(stream, buffer, parser, tuple);
          const auto list = json::parse(rec ? std::string() : parser.get().body(), nullptr, false);
          if (rec) {
            h.detail = "GET /v1/models failed (" + rec.message() + ")";
          } else if (parser.get().result_int() != 200 || !list.is_object() || !list.contains("data") ||
                     !list["data"].is_array()) {
            h.detail = "GET /v1/models answered HTTP " + std::to_string(parser.get().result_int()) +
                       " without a model list";
          } else {
            for (const auto& m : list["data"])
              if (m.is_object() && m.contains("id") && m["id"].is_string()) h.models.push_back(m["id"].get<std::string>());
            for (const auto& [r, name] : cfg.models)
              if (!name.empty() && std::find(h.models.begin(), h.models.end(), name) == h.models.end())
                h.missing_models.push_back(std::string(role_name(r)) + "=" + name);
            h.ready = h.missing_models.empty();
            h.detail = h.ready ? "ok" : "the server does not list every configured model";
          }
        }
        open_streams.erase(&stream);
        close(stream);
      }
      const bool ready = h.ready;
      {
        const std::lock_guard lock(mu);
        health_state = std::move(h);
      }
      poll_timer.expires_after(ready ? cfg.models_poll : std::min(cfg.models_poll, not_ready_poll));
      (void)co_await poll_timer.async_wait(tuple);  // a failed request cancels it: poll again at once
    }
  }

  void stop() {
    asio::post(io, [this] {
      stopping = true;
      poll_timer.cancel();
      for (auto& j : queue) j->done(core::make_error_code(core::errc::unavailable));
      queue.clear();
      // Closing the open connections ends their coroutines at once; the server aborts what it was generating.
      for (auto* s : open_streams) close(*s);
    });
    work.reset();
    if (thread.joinable()) thread.join();
  }
};

openai_engine::openai_engine(openai_config cfg) : impl_(std::make_unique<impl>(std::move(cfg))) {
  auto& m = *impl_;
  if (m.cfg.models_poll.count() > 0) asio::co_spawn(m.io, m.poll_models(), asio::detached);
  m.thread = std::thread([&m] { m.io.run(); });
}

openai_engine::~openai_engine() {
  impl_->stop();
}

void openai_engine::generate_async(turn t, token_sink sink, completion done) {
  auto j = std::make_shared<job>(job{std::move(t), std::move(sink), std::move(done), clock_type::now()});
  asio::post(impl_->io, [this, j = std::move(j)]() mutable { impl_->enqueue(std::move(j)); });
}

core::result<generation> openai_engine::generate(const turn& t, const token_sink& sink) {
  std::promise<core::result<generation>> promise;
  auto future = promise.get_future();
  generate_async(t, sink, [&promise](core::result<generation> r) { promise.set_value(std::move(r)); });
  return future.get();
}

engine_health openai_engine::health() const {
  const std::lock_guard lock(impl_->mu);
  return impl_->health_state;
}

openai_stats openai_engine::stats() const {
  const std::lock_guard lock(impl_->mu);
  return impl_->counters;
}

std::string openai_engine::request_body(const turn& t) const {
  return impl_->body_for(t, impl_->model_for(t));
}

}  // namespace mas::engines
