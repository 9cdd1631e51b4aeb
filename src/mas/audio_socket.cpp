#include "mas/audio_socket.hpp"

#include "core/ids.hpp"
#include "core/json_scan.hpp"
#include "core/log.hpp"

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include <cstring>
#include <vector>

namespace mas {

namespace asio = boost::asio;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

struct audio_socket::socket_state {
  net::ws_connection* c = nullptr;
  std::string session_id;  ///< a random id for this socket, echoed in pong (never a chat session)
  bool authenticated = false;
  speech::asr_config config;
  std::unique_ptr<speech::asr_stream> stream;
  std::uint64_t generation = 0;  ///< bumped per stream: late events of an older one are dropped
  std::uint64_t samples = 0;     ///< pushed into the current stream
  clock_type::time_point started;
  bool finishing = false;    ///< stop_recognition sent; waiting for the last finals
  bool unavailable_said = false;
};

audio_socket::audio_socket(asio::io_context& io, speech::asr_engine* engine, key_check check, bool auth_required,
                           std::shared_ptr<spdlog::logger> log)
    : io_(io), engine_(engine), check_(std::move(check)), auth_required_(auth_required), log_(std::move(log)) {}

audio_socket::~audio_socket() {
  stop();
}

void audio_socket::stop() {
  for (auto& [id, s] : sockets_)
    if (s->stream) s->stream->cancel();  // on return no engine callback runs or will run for it
  sockets_.clear();
}

void audio_socket::on_open(net::ws_connection& c, const net::http_request& upgrade) {
  auto s = std::make_unique<socket_state>();
  s->c = &c;
  s->session_id = core::uuid_v4();
  s->authenticated = !auth_required_;
  if (const auto key = upgrade.header("x-api-key"); key && check_(*key)) s->authenticated = true;
  const json ready{{"type", "status"},
                   {"status", "ready"},
                   {"session_id", s->session_id},
                   {"engine", engine_ ? std::string(engine_->name()) : std::string("unavailable")},
                   {"capabilities", json::array({"streaming_asr", "interim_results"})},
                   {"authenticated", s->authenticated},
                   {"max_audio_duration", audio_limits::max_utterance.count()},
                   {"max_frame_bytes", audio_limits::max_frame_bytes}};
  c.send_text(ready.dump());
  sockets_.emplace(c.id(), std::move(s));
}

void audio_socket::on_close(net::ws_connection& c) {
  const auto it = sockets_.find(c.id());
  if (it == sockets_.end()) return;
  if (it->second->stream) it->second->stream->cancel();
  sockets_.erase(it);
}

void audio_socket::on_message(net::ws_connection& c, net::ws::opcode type, std::string_view payload) {
  const auto it = sockets_.find(c.id());
  if (it == sockets_.end()) return;
  auto& s = *it->second;
  if (type == net::ws::opcode::binary) return audio(s, payload);
  text(s, payload);
}

void audio_socket::send_error(socket_state& s, std::string_view code, std::string_view message, bool recoverable) {
  s.c->send_text(json{{"type", "error"}, {"code", code}, {"message", message}, {"recoverable", recoverable}}.dump());
}

void audio_socket::text(socket_state& s, std::string_view payload) {
  const auto parsed = core::json_scan::parse(payload, 8);
  if (!parsed || !parsed->is_object() || !(*parsed).contains("type") || !(*parsed)["type"].is_string())
    return send_error(s, "INVALID_JSON", "send a JSON object with a \"type\"", true);
  const auto& m = *parsed;
  const auto type = m["type"].get<std::string>();
  if (type == "auth") {
    const auto key = m.contains("api_key") && m["api_key"].is_string() ? m["api_key"].get<std::string>() : "";
    if (!check_(key)) {
      send_error(s, "UNAUTHENTICATED", "invalid API key", false);
      return s.c->close(net::ws::close_code::policy_violation, "invalid API key");
    }
    s.authenticated = true;
    return s.c->send_text(json{{"type", "status"}, {"status", "authenticated"}}.dump());
  }
  if (!s.authenticated) {
    send_error(s, "UNAUTHENTICATED", "send {\"type\":\"auth\",\"api_key\":...} first, or X-API-Key on the upgrade",
               false);
    return s.c->close(net::ws::close_code::policy_violation, "authentication required");
  }
  if (type == "ping") {
    json pong{{"type", "pong"}, {"session_id", s.session_id}};
    if (m.contains("timestamp") && (m["timestamp"].is_number() || m["timestamp"].is_string()))
      pong["timestamp"] = m["timestamp"];
    return s.c->send_text(pong.dump());
  }
  if (type == "start_recognition") {
    if (s.stream) return send_error(s, "RECOGNITION_ACTIVE", "stop the current recognition first", true);
    speech::asr_config cfg;
    const json empty = json::object();
    const auto& d = m.contains("data") && m["data"].is_object() ? m["data"] : empty;
    if (d.contains("sample_rate")) {
      const auto& r = d["sample_rate"];
      if (!r.is_number_integer() || r.get<std::int64_t>() < audio_limits::min_rate ||
          r.get<std::int64_t>() > audio_limits::max_rate)
        return send_error(s, "INVALID_SETTINGS", "sample_rate must be an integer from 8000 to 48000", true);
      cfg.sample_rate = static_cast<int>(r.get<std::int64_t>());
    }
    if (d.contains("channels") && !(d["channels"].is_number_integer() && d["channels"].get<std::int64_t>() == 1))
      return send_error(s, "INVALID_SETTINGS", "only mono audio (channels 1) is accepted", true);
    if (d.contains("encoding") &&
        !(d["encoding"].is_string() && (d["encoding"] == "LINEAR_PCM" || d["encoding"] == "linear16")))
      return send_error(s, "INVALID_SETTINGS", "encoding must be LINEAR_PCM (16-bit little-endian)", true);
    if (d.contains("language")) {
      const auto& l = d["language"];
      if (!l.is_string() || l.get_ref<const std::string&>().empty() || l.get_ref<const std::string&>().size() > 16)
        return send_error(s, "INVALID_SETTINGS", "language must be a BCP-47 tag such as en-US", true);
      cfg.language = l.get<std::string>();
    }
    if (d.contains("interim_results")) {
      if (!d["interim_results"].is_boolean())
        return send_error(s, "INVALID_SETTINGS", "interim_results must be true or false", true);
      cfg.interim_results = d["interim_results"].get<bool>();
    }
    cfg.max_duration = std::chrono::duration_cast<std::chrono::milliseconds>(audio_limits::max_utterance) +
                       std::chrono::seconds(10);  // the engine's own bound sits behind ours
    s.config = cfg;
    return s.c->send_text(json{{"type", "status"},
                               {"status", "recognition_configured"},
                               {"settings",
                                {{"sample_rate", cfg.sample_rate},
                                 {"language", cfg.language},
                                 {"interim_results", cfg.interim_results},
                                 {"channels", 1},
                                 {"encoding", "LINEAR_PCM"}}}}
                              .dump());
  }
  if (type == "stop_recognition") {
    if (!s.stream) return s.c->send_text(json{{"type", "status"}, {"status", "stopped"}}.dump());
    if (!s.finishing) {
      s.finishing = true;
      s.stream->finish();  // the last finals, then on_end sends "stopped"
    }
    return;
  }
  send_error(s, "UNSUPPORTED_MESSAGE", "unknown message type", true);
}

void audio_socket::start_stream(socket_state& s) {
  const auto socket = s.c->id();
  const auto generation = ++s.generation;
  speech::asr_handler h;
  // Engine threads: only post values to the loop, which owns the sockets.
  h.on_event = [this, socket, generation](speech::asr_event e) {
    asio::post(io_, [this, socket, generation, e = std::move(e)]() mutable { on_event(socket, generation, std::move(e)); });
  };
  h.on_end = [this, socket, generation](core::result<void> r) {
    asio::post(io_, [this, socket, generation, r] { on_end(socket, generation, r); });
  };
  auto stream = engine_->start(s.config, std::move(h));
  if (!stream) {
    send_error(s, "ASR_STREAM_FAILED",
               stream.error() == core::errc::invalid_argument ? "the recognizer does not take these settings"
                                                              : "the recognizer could not start",
               true);
    return;
  }
  s.stream = std::move(*stream);
  s.samples = 0;
  s.started = clock_type::now();
  s.finishing = false;
  core::log::event(*log_, spdlog::level::debug, "asr_stream_started",
                   {{"engine", std::string(engine_->name())}, {"sample_rate", s.config.sample_rate}});
}

void audio_socket::audio(socket_state& s, std::string_view payload) {
  if (!s.authenticated) {
    send_error(s, "UNAUTHENTICATED", "authenticate before sending audio", false);
    return s.c->close(net::ws::close_code::policy_violation, "authentication required");
  }
  if (!engine_) {
    if (!s.unavailable_said) send_error(s, "ASR_UNAVAILABLE", "no speech recognizer is configured", false);
    s.unavailable_said = true;
    return;
  }
  if (payload.size() > audio_limits::max_frame_bytes || payload.size() % 2 != 0 || payload.empty())
    return send_error(s, "INVALID_FRAME", "a frame is 16-bit PCM: an even number of bytes, at most 64 KiB", true);
  if (s.finishing) return send_error(s, "RECOGNITION_STOPPING", "wait for \"stopped\" before sending more audio", true);
  if (!s.stream) {
    start_stream(s);
    if (!s.stream) return;
  }
  const auto n = payload.size() / 2;
  const double rate = s.config.sample_rate;
  const double audio_s = static_cast<double>(s.samples + n) / rate;
  if (audio_s > static_cast<double>(audio_limits::max_utterance.count())) {
    send_error(s, "AUDIO_TOO_LONG", "one recognition takes at most 120 s of audio; it is being finished", true);
    s.finishing = true;
    return s.stream->finish();
  }
  const double elapsed = std::chrono::duration<double>(clock_type::now() - s.started).count();
  if (audio_s > elapsed * audio_limits::max_speed + 2.0)
    return send_error(s, "RATE_LIMITED", "audio arrives faster than 4 times real time; this frame was dropped", true);
  // Copy into aligned samples: the payload is a byte buffer. Little-endian PCM on a little-endian host.
  std::vector<std::int16_t> samples(n);
  std::memcpy(samples.data(), payload.data(), n * 2);
  if (auto r = s.stream->push(samples); !r)
    return send_error(s, r.error() == core::errc::rate_limited ? "RATE_LIMITED" : "ASR_STREAM_FAILED",
                      r.error() == core::errc::rate_limited ? "the recognizer is behind; this frame was dropped"
                                                            : "the recognition has ended",
                      true);
  s.samples += n;
}

void audio_socket::on_event(std::uint64_t socket, std::uint64_t generation, speech::asr_event e) {
  const auto it = sockets_.find(socket);
  if (it == sockets_.end() || it->second->generation != generation) return;
  const json alt{{"transcript", e.text}, {"confidence", e.confidence}};
  it->second->c->send_text(json{{"type", "transcript"},
                                {"transcript", e.text},
                                {"is_final", e.is_final},
                                {"confidence", e.confidence},
                                {"alternatives", json::array({alt})}}
                               .dump());
}

void audio_socket::on_end(std::uint64_t socket, std::uint64_t generation, core::result<void> r) {
  const auto it = sockets_.find(socket);
  if (it == sockets_.end() || it->second->generation != generation) return;
  auto& s = *it->second;
  s.stream.reset();  // ended: destroying it cancels nothing
  s.finishing = false;
  if (r) return s.c->send_text(json{{"type", "status"}, {"status", "stopped"}}.dump());
  const bool too_long = r.error() == core::errc::timed_out;
  core::log::event(*log_, spdlog::level::warn, "asr_stream_failed", {{"error", r.error().message()}});
  send_error(s, too_long ? "AUDIO_TOO_LONG" : "ASR_STREAM_FAILED",
             too_long ? "the recognition ran past its time limit" : "the recognizer ended the stream", true);
}

}  // namespace mas
