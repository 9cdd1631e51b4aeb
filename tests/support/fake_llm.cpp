#include "support/fake_llm.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <deque>
#include <thread>

namespace sparc_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr auto tuple = asio::as_tuple(asio::use_awaitable);

/// Words with their trailing space, as a tokenizer streams them; JSON replies in short runs of characters.
std::vector<std::string> tokens_of(const std::string& text) {
  std::vector<std::string> out;
  if (!text.empty() && text.front() == '{') {
    for (std::size_t i = 0; i < text.size(); i += 4) out.push_back(text.substr(i, 4));
    return out;
  }
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find(' ', start);
    end = end == std::string::npos ? text.size() : end + 1;
    out.push_back(text.substr(start, end - start));
    start = end;
  }
  return out;
}

std::string chunk_json(const std::string& model, const json& delta, const json& finish) {
  return json{{"id", "chatcmpl-fake"},
              {"object", "chat.completion.chunk"},
              {"model", model},
              {"choices", json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}}
      .dump();
}

}  // namespace

struct fake_llm::impl {
  fake_llm_options opts;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  tcp::acceptor acceptor{io};
  std::vector<std::thread> threads;
  std::uint16_t bound_port = 0;

  mutable std::mutex mu;
  llm_faults faults;
  fake_llm_stats counters;
  std::size_t in_generation = 0;
  std::deque<std::shared_ptr<asio::steady_timer>> waiters;  ///< requests waiting for a generation slot

  explicit impl(fake_llm_options o) : opts(std::move(o)), io(static_cast<int>(std::max<std::size_t>(1, o.threads))) {}

  llm_faults take_faults() {
    const std::lock_guard lock(mu);
    llm_faults f = faults;
    if (faults.status_count > 0 && --faults.status_count == 0) faults.status = 0;
    if (f.status_count == 0) f.status = 0;
    return f;
  }

  asio::awaitable<void> acquire_slot() {
    for (;;) {
      std::shared_ptr<asio::steady_timer> waiter;
      {
        const std::lock_guard lock(mu);
        if (opts.max_concurrent == 0 || in_generation < opts.max_concurrent) {
          ++in_generation;
          counters.max_in_generation = std::max(counters.max_in_generation, in_generation);
          co_return;
        }
        waiter = std::make_shared<asio::steady_timer>(io, asio::steady_timer::time_point::max());
        waiters.push_back(waiter);
      }
      (void)co_await waiter->async_wait(tuple);  // cancelled by release_slot
    }
  }

  void release_slot() {
    const std::lock_guard lock(mu);
    --in_generation;
    if (!waiters.empty()) {
      waiters.front()->cancel();
      waiters.pop_front();
    }
  }

  asio::awaitable<bool> pause(std::chrono::microseconds d) {
    if (d.count() <= 0) co_return true;
    asio::steady_timer t(io, d);
    auto [ec] = co_await t.async_wait(tuple);
    co_return !ec;
  }

  static http::response<http::string_body> reply(unsigned version, http::status status, std::string body,
                                                  std::string_view type = "application/json") {
    http::response<http::string_body> res{status, version};
    res.set(http::field::content_type, type);
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
  }

  asio::awaitable<void> chat(beast::tcp_stream& stream, const http::request<http::string_body>& req) {
    {
      const std::lock_guard lock(mu);
      ++counters.requests;
      counters.last_body = req.body();
      counters.last_authorization = std::string(req[http::field::authorization]);
    }
    const auto f = take_faults();
    if (f.status != 0) {
      auto res = reply(req.version(), static_cast<http::status>(f.status),
                       json{{"error", {{"message", "injected failure"}, {"code", f.status}}}}.dump());
      (void)co_await http::async_write(stream, res, tuple);
      co_return;
    }
    const auto body = json::parse(req.body(), nullptr, false);
    if (!body.is_object() || !body.contains("messages") || !body["messages"].is_array()) {
      auto res = reply(req.version(), http::status::bad_request, R"({"error":{"message":"messages required"}})");
      (void)co_await http::async_write(stream, res, tuple);
      co_return;
    }
    const std::string model = body.value("model", "base-model");
    const bool streamed = body.value("stream", false);
    const std::string text = f.reply.empty() ? default_reply(req.body()) : f.reply;
    const auto tokens = tokens_of(text);

    co_await acquire_slot();
    struct slot_guard {
      impl& m;
      ~slot_guard() { m.release_slot(); }
    } slot{*this};

    if (!co_await pause(f.first_token_delay)) co_return;
    const auto gone = [&] {
      const std::lock_guard lock(mu);
      ++counters.client_gone;
    };
    if (!streamed) {
      if (!co_await pause(opts.per_token * static_cast<long>(tokens.size()))) co_return;
      auto res = reply(req.version(), http::status::ok,
                       json{{"id", "chatcmpl-fake"},
                            {"object", "chat.completion"},
                            {"model", model},
                            {"choices", json::array({{{"index", 0},
                                                      {"message", {{"role", "assistant"}, {"content", text}}},
                                                      {"finish_reason", "stop"}}})}}
                           .dump());
      if (auto [ec, n] = co_await http::async_write(stream, res, tuple); ec) co_return gone();
      const std::lock_guard lock(mu);
      ++counters.completed;
      co_return;
    }

    http::response<http::empty_body> head{http::status::ok, req.version()};
    head.set(http::field::content_type, "text/event-stream");
    head.set(http::field::cache_control, "no-cache");
    head.chunked(true);
    http::response_serializer<http::empty_body> sr{head};
    if (auto [ec, n] = co_await http::async_write_header(stream, sr, tuple); ec) co_return gone();
    const auto send = [&](std::string data) -> asio::awaitable<bool> {
      data = "data: " + data + "\n\n";
      auto [ec, n] = co_await asio::async_write(stream, http::make_chunk(asio::buffer(data)), tuple);
      co_return !ec;
    };
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (static_cast<int>(i) == f.stall_after_tokens) {
        // Hold the connection without sending until the client gives up: its read ends with EOF or a reset.
        stream.expires_after(60s);
        char byte = 0;
        (void)co_await stream.async_read_some(asio::buffer(&byte, 1), tuple);
        co_return gone();
      }
      if (static_cast<int>(i) == f.drop_after_tokens) {
        stream.close();
        co_return;
      }
      if (!co_await pause(opts.per_token)) co_return;
      if (f.malformed_chunk && i == 1) {
        if (!co_await send(std::string("{\"choices\": [ not json"))) co_return gone();
        continue;
      }
      // Built before the co_await: GCC 12 cannot keep braced temporaries alive across a suspension point.
      auto chunk = chunk_json(model, json{{"content", tokens[i]}}, json());
      if (!co_await send(std::move(chunk))) co_return gone();
    }
    if (!f.no_done) {
      auto last = chunk_json(model, json::object(), json("stop"));
      if (!co_await send(std::move(last))) co_return gone();
      if (!co_await send(std::string("[DONE]"))) co_return gone();
    }
    if (auto [ec, n] = co_await asio::async_write(stream, http::make_chunk_last(), tuple); ec) co_return gone();
    const std::lock_guard lock(mu);
    ++counters.completed;
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(std::size_t{4} << 20);
      stream.expires_after(30s);
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, tuple);
      if (ec) co_return;
      stream.expires_never();
      const auto& req = parser.get();
      const auto target = std::string(req.target());
      if (req.method() == http::verb::get && target.ends_with("/v1/models")) {
        json data = json::array();
        {
          const std::lock_guard lock(mu);
          ++counters.model_list_requests;
          for (const auto& m : opts.models) data.push_back({{"id", m}, {"object", "model"}, {"owned_by", "fake"}});
        }
        auto res = reply(req.version(), http::status::ok, json{{"object", "list"}, {"data", data}}.dump());
        res.keep_alive(req.keep_alive());
        if (auto [wec, w] = co_await http::async_write(stream, res, tuple); wec) co_return;
      } else if (req.method() == http::verb::get && target == "/debug/stats") {
        json st;
        {
          const std::lock_guard lock(mu);
          st = {{"requests", counters.requests}, {"completed", counters.completed}, {"client_gone", counters.client_gone}};
        }
        auto res = reply(req.version(), http::status::ok, st.dump());
        res.keep_alive(req.keep_alive());
        if (auto [wec, w] = co_await http::async_write(stream, res, tuple); wec) co_return;
      } else if (req.method() == http::verb::get && target == "/debug/last-request") {
        // For black-box tests: the last chat completion request's body, as sparc-mas sent it.
        std::string last;
        {
          const std::lock_guard lock(mu);
          last = counters.last_body;
        }
        auto res = reply(req.version(), http::status::ok, std::move(last));
        res.keep_alive(req.keep_alive());
        if (auto [wec, w] = co_await http::async_write(stream, res, tuple); wec) co_return;
      } else if (req.method() == http::verb::post && target.ends_with("/v1/chat/completions")) {
        co_await chat(stream, req);
        co_return;  // one generation per connection, as the engine asks (Connection: close)
      } else {
        auto res = reply(req.version(), http::status::not_found, R"({"error":{"message":"not found"}})");
        if (auto [wec, w] = co_await http::async_write(stream, res, tuple); wec) co_return;
      }
      if (!req.keep_alive()) co_return;
    }
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(tuple);
      if (ec) co_return;
      asio::co_spawn(io, session(std::move(socket)), asio::detached);
    }
  }
};

fake_llm::fake_llm(fake_llm_options options) : impl_(std::make_unique<impl>(std::move(options))) {
  auto& m = *impl_;
  const tcp::endpoint ep(asio::ip::make_address(m.opts.bind), m.opts.port);
  m.acceptor.open(ep.protocol());
  m.acceptor.set_option(tcp::acceptor::reuse_address(true));
  m.acceptor.bind(ep);
  m.acceptor.listen(asio::socket_base::max_listen_connections);
  m.bound_port = m.acceptor.local_endpoint().port();
  asio::co_spawn(m.io, m.accept_loop(), asio::detached);
  for (std::size_t i = 0; i < std::max<std::size_t>(1, m.opts.threads); ++i) m.threads.emplace_back([&m] { m.io.run(); });
}

fake_llm::~fake_llm() {
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
}

std::uint16_t fake_llm::port() const {
  return impl_->bound_port;
}

std::string fake_llm::base_url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->bound_port) + "/v1";
}

void fake_llm::set_faults(const llm_faults& f) {
  const std::lock_guard lock(impl_->mu);
  impl_->faults = f;
}

void fake_llm::set_models(std::vector<std::string> models) {
  const std::lock_guard lock(impl_->mu);
  impl_->opts.models = std::move(models);
}

fake_llm_stats fake_llm::stats() const {
  const std::lock_guard lock(impl_->mu);
  return impl_->counters;
}

std::string fake_llm::default_reply(const std::string& request_body) {
  const auto body = json::parse(request_body, nullptr, false);
  if (body.is_object() && body.contains("response_format")) {
    const auto& messages = body["messages"];
    const bool supervisor = messages.is_array() && !messages.empty() && messages[0].is_object() &&
                            messages[0].value("content", "").find("You screen") != std::string::npos;
    if (supervisor) {
      // A test marks an input the classifier should call unsafe with "[unsafe:CATEGORY]".
      const std::string said = messages.back().value("content", "");
      if (const auto at = said.find("[unsafe:"); at != std::string::npos) {
        const auto end = said.find(']', at);
        const auto category = said.substr(at + 8, end == std::string::npos ? std::string::npos : end - at - 8);
        return json{{"safe", false}, {"category", category}, {"reason", "marked by the test"}}.dump();
      }
      return json{{"safe", true}, {"category", "safe"}, {"reason", "clinical question"}}.dump();
    }
    return json{{"score", 1},
                {"summary", "A clear recommendation that names the age and the cancers it prevents."},
                {"evidence", json::array({"I recommend the HPV vaccine today."})},
                {"keepDoing", json::array({"Lead with the recommendation."})},
                {"tryNextTime", json::array({"Pause to invite questions."})},
                {"notes", ""}}
        .dump();
  }
  return "Oh, okay. I hadn't really thought about that one yet. She's still pretty young, isn't she? "
         "Can you tell me a bit more about why now?";
}

}  // namespace sparc_test
