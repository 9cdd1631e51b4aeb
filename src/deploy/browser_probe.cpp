#include "deploy/browser_probe.hpp"

#include "deploy/probe.hpp"
#include "net/ws_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

namespace deploy {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

/// The page's decoded video frames (-1 before the page has a peer connection); evaluated in the page.
constexpr const char* frames_expression =
    "(async () => { const pc = window.__sparc && window.__sparc.pc; if (!pc) return -1; let f = 0;"
    " for (const s of (await pc.getStats()).values())"
    "  if (s.type === 'inbound-rtp' && s.kind === 'video') f = Math.max(f, s.framesDecoded || 0);"
    " return f; })()";

/// A Chromium process in its own process group with a throwaway profile; stopped and cleaned up on destruction.
class chromium_process {
 public:
  chromium_process(const std::string& program, std::string& error) {
    char tmpl[] = "/tmp/sparc-check-chromium-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      error = "cannot make a profile folder";
      return;
    }
    profile_ = tmpl;
    std::vector<std::string> args{program,
                                  "--headless=new",
                                  "--no-sandbox",
                                  "--disable-gpu",
                                  "--no-first-run",
                                  "--disable-background-networking",
                                  "--disable-component-update",
                                  "--disable-sync",
                                  "--autoplay-policy=no-user-gesture-required",
                                  "--allow-loopback-in-peer-connection",
                                  "--disable-features=WebRtcHideLocalIpsWithMdns,LocalNetworkAccessChecks",
                                  "--remote-debugging-address=127.0.0.1",
                                  "--remote-debugging-port=0",
                                  "--user-data-dir=" + profile_.string(),
                                  "about:blank"};
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      const int null_fd = ::open("/dev/null", O_RDWR);
      ::dup2(null_fd, 0);
      ::dup2(null_fd, 1);
      ::dup2(null_fd, 2);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    if (pid_ < 0) error = "fork failed";
  }
  ~chromium_process() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGTERM);
      for (int i = 0; i < 40 && ::waitpid(pid_, nullptr, WNOHANG) == 0; ++i) std::this_thread::sleep_for(50ms);
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, WNOHANG);
    }
    std::error_code ec;
    if (!profile_.empty()) fs::remove_all(profile_, ec);
  }
  chromium_process(const chromium_process&) = delete;
  chromium_process& operator=(const chromium_process&) = delete;

  /// The DevTools port Chromium chose (it writes DevToolsActivePort into the profile), or 0 once `deadline` passes.
  std::uint16_t devtools_port(clock_type::time_point deadline) const {
    while (clock_type::now() < deadline) {
      if (pid_ <= 0 || ::waitpid(pid_, nullptr, WNOHANG) == pid_) return 0;
      std::ifstream in(profile_ / "DevToolsActivePort");
      unsigned long port = 0;
      if (in >> port && port > 0 && port < 65536) return static_cast<std::uint16_t>(port);
      std::this_thread::sleep_for(50ms);
    }
    return 0;
  }

 private:
  pid_t pid_ = -1;
  fs::path profile_;
};

}  // namespace

browser_result browser_frames(const std::string& chromium, const std::string& url, long want_frames,
                              std::chrono::milliseconds timeout) {
  browser_result r;
  const auto deadline = clock_type::now() + timeout;
  chromium_process browser(chromium, r.error);
  if (!r.error.empty()) return r;
  const auto port = browser.devtools_port(std::min(deadline, clock_type::now() + 10s));
  if (port == 0) {
    r.error = chromium + " did not start (no DevTools port)";
    return r;
  }
  // The page target Chromium opened with about:blank.
  const auto list = http_get("127.0.0.1", port, "/json/list", 3s);
  const auto targets = json::parse(list.body, nullptr, false);
  std::string target_path;
  if (targets.is_array())
    for (const auto& t : targets)
      if (t.value("type", "") == "page") {
        const auto ws = t.value("webSocketDebuggerUrl", "");
        if (const auto p = ws.find('/', ws.find("//") + 2); p != std::string::npos) target_path = ws.substr(p);
        break;
      }
  if (target_path.empty()) {
    r.error = "Chromium listed no page to drive";
    return r;
  }
  r.ran = true;

  asio::io_context io;
  net::ws_client ws(io.get_executor(), std::size_t{256} * 1024, 11);
  asio::steady_timer tick(io);
  asio::steady_timer stop(io);
  int next_id = 1;
  clock_type::time_point navigated{};
  const auto send = [&](const std::string& method, json params) {
    ws.send_text(json{{"id", next_id++}, {"method", method}, {"params", std::move(params)}}.dump());
  };
  auto poll = [&]() -> asio::awaitable<void> {
    while (true) {
      tick.expires_after(300ms);
      auto [ec] = co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      send("Runtime.evaluate", {{"expression", frames_expression}, {"awaitPromise", true}, {"returnByValue", true}});
    }
  };
  auto run = [&]() -> asio::awaitable<void> {
    const net::ws_url u{"127.0.0.1", std::to_string(port), target_path};
    if (auto ec = co_await ws.open(net::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), u)) {
      r.error = "DevTools WebSocket: " + ec.message();
      stop.cancel();
      co_return;
    }
    navigated = clock_type::now();
    send("Page.navigate", {{"url", url}});
    asio::co_spawn(io, poll(), asio::detached);
    (void)co_await ws.run([&](std::string_view text) {
      const auto m = json::parse(text, nullptr, false);
      if (!m.is_object() || !m.contains("result") || !m["result"].is_object()) return;
      const auto& res = m["result"];
      if (!res.contains("result") || !res["result"].is_object()) return;
      const auto value = res["result"].value("value", json());
      if (!value.is_number()) return;
      const auto frames = value.get<long>();
      if (frames > 0 && r.first_frame.count() == 0)
        r.first_frame = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - navigated);
      r.frames = std::max(r.frames, frames);
      if (r.frames >= want_frames) {
        tick.cancel();
        ws.close();
      }
    });
    tick.cancel();
    stop.cancel();
  };
  stop.expires_at(deadline);
  stop.async_wait([&](const boost::system::error_code& ec) {
    if (ec) return;
    tick.cancel();
    ws.abort();
  });
  asio::co_spawn(io, run(), asio::detached);
  io.run();
  if (r.frames < want_frames && r.error.empty())
    r.error = r.frames < 0 ? "the page never created a peer connection"
                           : "only " + std::to_string(std::max(0L, r.frames)) + " frame(s) decoded before the deadline";
  return r;
}

}  // namespace deploy
