// net::server in-process over loopback: asynchronous handlers answering from another thread.
#include "core/log.hpp"
#include "net/server.hpp"

#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// Answers /slow from a worker thread once the test opens the gate (like a model call finishing), after at
/// least 300 ms (longer than the idle timeout); everything else at once.
class async_handler final : public net::http_handler {
 public:
  void open_gate() { gate_.set_value(); }

  ~async_handler() override {
    for (auto& t : workers_) t.join();
  }
  net::http_response handle(const net::http_request& req, std::string_view) override {
    return net::text_response(200, "fast " + req.path);
  }
  void handle_async(const net::http_request& req, std::string_view ip, net::responder respond) override {
    if (req.path != "/slow") return respond(handle(req, ip));
    const std::string body = "slow " + req.body;  // copied: the request is only valid until respond()
    workers_.emplace_back([body, opened = opened_, respond = std::move(respond)]() mutable {
      std::this_thread::sleep_for(300ms);
      opened.wait();
      respond(net::text_response(200, body));
    });
  }
  net::ws_handler* websocket(const net::http_request&, net::http_response& refusal) override {
    refusal = net::text_response(404);
    return nullptr;
  }

 private:
  std::promise<void> gate_;
  std::shared_future<void> opened_ = gate_.get_future().share();
  std::vector<std::thread> workers_;
};

class server_fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    net::server_limits limits;
    limits.http_idle_timeout = 100ms;  // shorter than the slow handler: waiting on it must not count as idle
    server_ = std::make_unique<net::server>(io_, limits, handler_, nullptr, core::log::get("net-test"));
    port_ = server_->listen("127.0.0.1", 0);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (!gate_opened_) handler_.open_gate();
    asio::post(io_, [this] { server_->shutdown(50ms); });
    thread_.join();
  }
  std::string exchange(asio::ip::tcp::socket& s, const std::string& request) {
    asio::write(s, asio::buffer(request));
    std::string response;
    asio::read_until(s, asio::dynamic_buffer(response), "\r\n\r\n");
    const auto length_at = response.find("Content-Length: ");
    const auto length = std::stoul(response.substr(length_at + 16));
    const auto body_at = response.find("\r\n\r\n") + 4;
    while (response.size() < body_at + length) {
      char buf[512];
      response.append(buf, s.read_some(asio::buffer(buf)));
    }
    return response.substr(body_at, length);
  }

  asio::io_context io_{1};
  async_handler handler_;
  std::unique_ptr<net::server> server_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  bool gate_opened_ = false;
};

TEST_F(server_fixture, an_async_answer_arrives_and_the_connection_stays_usable) {
  asio::io_context client;
  asio::ip::tcp::socket s(client);
  s.connect({asio::ip::make_address("127.0.0.1"), port_});
  handler_.open_gate();
  gate_opened_ = true;
  // The answer takes longer than the idle timeout: waiting on a handler must not count as idle.
  EXPECT_EQ(exchange(s, "POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"), "slow hi");
  EXPECT_EQ(exchange(s, "GET /again HTTP/1.1\r\nHost: a\r\n\r\n"), "fast /again") << "keep-alive after an async answer";
}

TEST_F(server_fixture, other_connections_are_served_while_one_waits) {
  asio::io_context client;
  asio::ip::tcp::socket slow(client), fast(client);
  slow.connect({asio::ip::make_address("127.0.0.1"), port_});
  fast.connect({asio::ip::make_address("127.0.0.1"), port_});
  asio::write(slow, asio::buffer(std::string("POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx")));
  // The slow answer cannot come before the gate opens, so this exchange proves the loop kept serving.
  EXPECT_EQ(exchange(fast, "GET /now HTTP/1.1\r\nHost: a\r\n\r\n"), "fast /now");
  handler_.open_gate();
  gate_opened_ = true;
  std::string rest;
  asio::read_until(slow, asio::dynamic_buffer(rest), "slow x");
}

}  // namespace
