// WS /ws/audio's message protocol with a scripted recognizer and a recording socket: no network, no engine.
#include "mas/audio_socket.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <thread>

namespace mas {
namespace {

using json = nlohmann::json;

class recording_socket final : public net::ws_connection {
 public:
  std::uint64_t id() const noexcept override { return 7; }
  const std::string& remote_ip() const noexcept override { return ip_; }
  void send(const net::shared_frame& frame) override {
    // Frames arrive encoded (RFC 6455); a short server text frame is 2 header bytes, a longer one 4.
    const auto& f = *frame;
    const std::size_t header = (static_cast<unsigned char>(f[1]) & 0x7f) == 126 ? 4 : 2;
    sent.push_back(json::parse(f.substr(header)));
  }
  void close(std::uint16_t code, std::string_view) override { closed = code; }
  std::vector<json> sent;
  std::uint16_t closed = 0;

 private:
  std::string ip_ = "127.0.0.1";
};

/// A recognizer whose stream answers "hello world" at finish, with one interim per push.
class scripted_recognizer final : public speech::asr_engine {
 public:
  struct stream final : speech::asr_stream {
    speech::asr_handler h;
    scripted_recognizer* owner = nullptr;
    bool finished = false;
    core::result<void> push(std::span<const std::int16_t> samples) override {
      if (finished) return core::make_error_code(core::errc::invalid_argument);
      owner->pushed += samples.size();
      h.on_event({false, "hello", 0});
      return {};
    }
    void finish() override {
      finished = true;
      h.on_event({true, "hello world", 0.9f});
      h.on_end(core::result<void>{});
    }
    void cancel() override { ++owner->cancelled; }
  };
  std::string_view name() const noexcept override { return "scripted"; }
  core::result<std::unique_ptr<speech::asr_stream>> start(const speech::asr_config& c, speech::asr_handler h) override {
    last_rate = c.sample_rate;
    auto s = std::make_unique<stream>();
    s->h = std::move(h);
    s->owner = this;
    return std::unique_ptr<speech::asr_stream>(std::move(s));
  }
  std::size_t pushed = 0;
  int cancelled = 0;
  int last_rate = 0;
};

net::http_request upgrade(std::string key = {}) {
  net::http_request r;
  r.method = "GET";
  r.path = "/ws/audio";
  if (!key.empty()) r.headers.emplace_back("x-api-key", key);
  return r;
}

struct fixture {
  boost::asio::io_context io;
  scripted_recognizer engine;
  recording_socket socket;
  audio_socket ws;
  explicit fixture(bool auth = false, bool with_engine = true)
      : ws(io, with_engine ? &engine : nullptr, [](std::string_view k) { return k == "good-key-0123456789"; }, auth,
           spdlog::default_logger()) {}
  void text(const json& j) { ws.on_message(socket, net::ws::opcode::text, j.dump()); }
  void audio(std::size_t samples) {
    const std::string bytes(samples * 2, '\0');
    ws.on_message(socket, net::ws::opcode::binary, bytes);
  }
  void settle() {
    io.restart();
    io.poll();
  }
  std::vector<json> of_type(std::string_view t) const {
    std::vector<json> out;
    for (const auto& m : socket.sent)
      if (m["type"] == t) out.push_back(m);
    return out;
  }
};

TEST(audio_socket, a_recognition_from_ready_to_stopped) {
  fixture f;
  f.ws.on_open(f.socket, upgrade());
  ASSERT_EQ(f.socket.sent.size(), 1u);
  EXPECT_EQ(f.socket.sent[0]["status"], "ready");
  EXPECT_EQ(f.socket.sent[0]["engine"], "scripted");
  f.text({{"type", "start_recognition"}, {"data", {{"sample_rate", 16000}, {"language", "en-US"}}}});
  EXPECT_EQ(f.socket.sent.back()["status"], "recognition_configured");
  f.audio(320);
  f.audio(320);
  f.settle();
  EXPECT_EQ(f.engine.pushed, 640u);
  EXPECT_EQ(f.engine.last_rate, 16000);
  f.text({{"type", "stop_recognition"}});
  f.settle();
  const auto transcripts = f.of_type("transcript");
  ASSERT_EQ(transcripts.size(), 3u);
  EXPECT_FALSE(transcripts[0]["is_final"].get<bool>());
  EXPECT_TRUE(transcripts[2]["is_final"].get<bool>());
  EXPECT_EQ(transcripts[2]["transcript"], "hello world");
  EXPECT_EQ(transcripts[2]["alternatives"][0]["transcript"], "hello world");
  EXPECT_EQ(f.socket.sent.back()["status"], "stopped");
  // A second utterance on the same socket starts a new stream.
  f.audio(160);
  f.settle();
  EXPECT_EQ(f.engine.pushed, 800u);
  f.ws.on_close(f.socket);
  EXPECT_EQ(f.engine.cancelled, 1) << "closing the socket cancels the open stream";
}

TEST(audio_socket, ping_pong_and_bad_messages_get_coded_errors) {
  fixture f;
  f.ws.on_open(f.socket, upgrade());
  f.text({{"type", "ping"}, {"timestamp", 123}});
  EXPECT_EQ(f.socket.sent.back()["type"], "pong");
  EXPECT_EQ(f.socket.sent.back()["timestamp"], 123);
  f.ws.on_message(f.socket, net::ws::opcode::text, "{not json");
  EXPECT_EQ(f.socket.sent.back()["code"], "INVALID_JSON");
  f.text({{"type", "dance"}});
  EXPECT_EQ(f.socket.sent.back()["code"], "UNSUPPORTED_MESSAGE");
  f.text({{"type", "start_recognition"}, {"data", {{"sample_rate", 4000}}}});
  EXPECT_EQ(f.socket.sent.back()["code"], "INVALID_SETTINGS");
  f.text({{"type", "start_recognition"}, {"data", {{"channels", 2}}}});
  EXPECT_EQ(f.socket.sent.back()["code"], "INVALID_SETTINGS");
  f.ws.on_message(f.socket, net::ws::opcode::binary, std::string(3, '\0'));
  EXPECT_EQ(f.socket.sent.back()["code"], "INVALID_FRAME");
  f.ws.on_message(f.socket, net::ws::opcode::binary, std::string(audio_limits::max_frame_bytes + 2, '\0'));
  EXPECT_EQ(f.socket.sent.back()["code"], "INVALID_FRAME");
  EXPECT_EQ(f.socket.closed, 0) << "all of these are recoverable";
}

TEST(audio_socket, audio_faster_than_four_times_real_time_is_dropped) {
  fixture f;
  f.ws.on_open(f.socket, upgrade());
  // 2 s of burst allowance at 16 kHz is 32,000 samples; 3 s at once is too much.
  for (int i = 0; i < 3; ++i) f.audio(16000);
  EXPECT_EQ(f.socket.sent.back()["code"], "RATE_LIMITED");
  EXPECT_EQ(f.engine.pushed, 32000u);
}

TEST(audio_socket, without_a_key_nothing_but_auth_is_accepted) {
  fixture f(true);
  f.ws.on_open(f.socket, upgrade());
  EXPECT_FALSE(f.socket.sent[0]["authenticated"].get<bool>());
  f.audio(160);
  EXPECT_EQ(f.socket.sent.back()["code"], "UNAUTHENTICATED");
  EXPECT_EQ(f.socket.closed, net::ws::close_code::policy_violation);
  EXPECT_EQ(f.engine.pushed, 0u);

  fixture g(true);
  g.ws.on_open(g.socket, upgrade());
  g.text({{"type", "auth"}, {"api_key", "good-key-0123456789"}});
  EXPECT_EQ(g.socket.sent.back()["status"], "authenticated");
  g.audio(160);
  g.settle();
  EXPECT_EQ(g.engine.pushed, 160u);

  fixture h(true);
  h.ws.on_open(h.socket, upgrade("good-key-0123456789"));
  EXPECT_TRUE(h.socket.sent[0]["authenticated"].get<bool>());

  fixture bad(true);
  bad.ws.on_open(bad.socket, upgrade());
  bad.text({{"type", "auth"}, {"api_key", "wrong"}});
  EXPECT_EQ(bad.socket.sent.back()["code"], "UNAUTHENTICATED");
  EXPECT_EQ(bad.socket.closed, net::ws::close_code::policy_violation);
}

TEST(audio_socket, without_a_recognizer_audio_is_answered_once_with_asr_unavailable) {
  fixture f(false, false);
  f.ws.on_open(f.socket, upgrade());
  EXPECT_EQ(f.socket.sent[0]["engine"], "unavailable");
  f.audio(160);
  f.audio(160);
  EXPECT_EQ(f.of_type("error").size(), 1u);
  EXPECT_EQ(f.socket.sent.back()["code"], "ASR_UNAVAILABLE");
  EXPECT_FALSE(f.socket.sent.back()["recoverable"].get<bool>());
}

TEST(audio_socket, events_of_a_closed_socket_are_dropped) {
  fixture f;
  f.ws.on_open(f.socket, upgrade());
  f.audio(160);           // posts an interim
  f.ws.on_close(f.socket);  // before the loop delivers it
  const auto before = f.socket.sent.size();
  f.settle();
  EXPECT_EQ(f.socket.sent.size(), before);
}

}  // namespace
}  // namespace mas
