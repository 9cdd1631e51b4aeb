#include "mas/speech/riva.hpp"

#include "core/log.hpp"
#include "riva/proto/health.grpc.pb.h"
#include "riva/proto/riva_asr.grpc.pb.h"
#include "riva/proto/riva_tts.grpc.pb.h"

#include <condition_variable>
#include <deque>
#include <fstream>
#include <grpcpp/grpcpp.h>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

namespace mas::speech {

namespace {

namespace rasr = nvidia::riva::asr;
namespace rtts = nvidia::riva::tts;
namespace health = grpc::health::v1;

/// gRPC's default receive limit is 4 MiB, about 47 s of 22.05 kHz PCM in one Synthesize reply; Riva's own
/// clients raise it to 64-128 MiB.
constexpr int max_message_bytes = 64 << 20;
/// Riva loads its models for minutes after start. gRPC's reconnect backoff grows to 120 s by default, which would
/// keep the channel failing that long after the server is up.
constexpr int max_reconnect_backoff_ms = 5'000;
/// Audio waiting to be sent on one recognition stream (about 32 s at 16 kHz): beyond it the server is not keeping
/// up and push() says so instead of buffering without bound.
constexpr std::size_t max_queued_audio_bytes = 1 << 20;

void set_deadline(grpc::ClientContext& context, std::chrono::milliseconds budget) {
  context.set_deadline(std::chrono::system_clock::now() + budget);
}

/// Logs a failed call once and translates its status.
core::errc failed(std::string_view rpc, const grpc::Status& status) {
  const auto code = static_cast<int>(status.error_code());
  core::log::event(*core::log::get("mas"), spdlog::level::warn, "riva_call_failed",
                   {{"rpc", rpc}, {"grpc_status", code}, {"error", status.error_message()}});
  return riva_errc(code);
}

/// LINEAR_PCM bytes (16-bit signed little-endian) onto `out`; an odd trailing byte stays in `bytes`.
void append_pcm(std::string& bytes, std::vector<std::int16_t>& out) {
  const std::size_t whole = bytes.size() / 2 * 2;
  out.reserve(out.size() + whole / 2);
  for (std::size_t i = 0; i < whole; i += 2) {
    const auto lo = static_cast<unsigned char>(bytes[i]);
    const auto hi = static_cast<unsigned char>(bytes[i + 1]);
    out.push_back(static_cast<std::int16_t>(static_cast<std::uint16_t>(lo | (hi << 8))));
  }
  bytes.erase(0, whole);
}

std::string to_pcm_bytes(std::span<const std::int16_t> samples) {
  std::string out;
  out.reserve(samples.size() * 2);
  for (const auto s : samples) {
    const auto u = static_cast<std::uint16_t>(s);
    out.push_back(static_cast<char>(u & 0xFF));
    out.push_back(static_cast<char>(u >> 8));
  }
  return out;
}

rtts::SynthesizeSpeechRequest tts_request(std::string_view text, std::string_view voice,
                                          const riva_tts_options& options) {
  rtts::SynthesizeSpeechRequest request;
  request.set_text(std::string(text));
  request.set_language_code(options.language);
  request.set_encoding(nvidia::riva::LINEAR_PCM);
  request.set_sample_rate_hz(options.sample_rate);
  request.set_voice_name(std::string(voice));
  return request;
}

std::shared_ptr<grpc::Channel> checked(std::shared_ptr<grpc::Channel> channel) {
  if (!channel) throw std::invalid_argument("riva: no channel");
  return channel;
}

class riva_stream;
/// The stream whose reader thread this is: cancel() from inside a callback must not join its own thread.
thread_local const riva_stream* t_reading = nullptr;

/// One StreamingRecognize call. The writer thread opens the call, sends the config and then the queued audio;
/// the reader thread waits for the call to open, reads results into the handler, and reports the end.
class riva_stream final : public asr_stream {
 public:
  riva_stream(const std::shared_ptr<grpc::Channel>& channel, const asr_config& config, asr_handler handler)
      : handler_(std::move(handler)), stub_(rasr::RivaSpeechRecognition::NewStub(channel)) {
    set_deadline(context_, config.max_duration);
    auto& streaming = *config_.mutable_streaming_config();
    streaming.set_interim_results(config.interim_results);
    auto& recognition = *streaming.mutable_config();
    recognition.set_encoding(nvidia::riva::LINEAR_PCM);
    recognition.set_sample_rate_hertz(config.sample_rate);
    recognition.set_language_code(config.language);
    recognition.set_max_alternatives(1);
    recognition.set_audio_channel_count(1);
    recognition.set_enable_automatic_punctuation(true);
    writer_ = std::thread([this] { write_loop(); });
    reader_ = std::thread([this] { read_loop(); });
  }

  riva_stream(const riva_stream&) = delete;
  riva_stream& operator=(const riva_stream&) = delete;
  ~riva_stream() override { cancel(); }

  core::result<void> push(std::span<const std::int16_t> samples) override {
    if (samples.size() * 2 > max_queued_audio_bytes) return core::make_error_code(core::errc::too_large);
    std::unique_lock lock(mutex_);
    if (over_) return core::make_error_code(core::errc::unavailable);
    if (finishing_) return core::make_error_code(core::errc::invalid_argument);
    if (samples.empty()) return {};
    if (queued_bytes_ + samples.size() * 2 > max_queued_audio_bytes)
      return core::make_error_code(core::errc::rate_limited);
    queue_.push_back(to_pcm_bytes(samples));
    queued_bytes_ += queue_.back().size();
    lock.unlock();
    wake_.notify_all();
    return {};
  }

  void finish() override {
    {
      std::lock_guard lock(mutex_);
      finishing_ = true;
    }
    wake_.notify_all();
  }

  void cancel() override {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
      over_ = true;
    }
    wake_.notify_all();
    context_.TryCancel();
    // From inside a callback the reader winds down by itself (and another thread may be joining it right now).
    if (t_reading == this) return;
    std::lock_guard join_lock(join_mutex_);
    if (reader_.joinable()) reader_.join();
  }

 private:
  void write_loop() {
    stream_ = stub_->StreamingRecognize(&context_);
    const bool opened = stream_->Write(config_);
    {
      std::lock_guard lock(mutex_);
      opened_ = true;
    }
    wake_.notify_all();
    if (!opened) return;  // the call failed; the reader reports why
    rasr::StreamingRecognizeRequest request;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return over_ || finishing_ || !queue_.empty(); });
        if (over_) return;
        if (queue_.empty()) break;  // finishing, and everything is sent
        request.set_audio_content(std::move(queue_.front()));
        queue_.pop_front();
        queued_bytes_ -= request.audio_content().size();
      }
      if (!stream_->Write(request)) return;
    }
    stream_->WritesDone();
  }

  void read_loop() {
    t_reading = this;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return opened_; });
    }
    rasr::StreamingRecognizeResponse response;
    while (stream_->Read(&response)) {
      for (const auto& result : response.results()) {
        if (result.alternatives().empty() || result.alternatives(0).transcript().empty()) continue;
        if (cancelled()) break;
        const auto& best = result.alternatives(0);
        if (handler_.on_event) handler_.on_event(asr_event{result.is_final(), best.transcript(), best.confidence()});
      }
    }
    {
      std::lock_guard lock(mutex_);
      over_ = true;
    }
    wake_.notify_all();
    writer_.join();  // Finish() comes after the last Write
    const auto status = stream_->Finish();
    if (cancelled() || !handler_.on_end) return;
    if (status.ok()) {
      handler_.on_end(core::result<void>());
    } else {
      handler_.on_end(core::make_error_code(failed("StreamingRecognize", status)));
    }
  }

  bool cancelled() {
    std::lock_guard lock(mutex_);
    return cancelled_;
  }

  asr_handler handler_;
  std::unique_ptr<rasr::RivaSpeechRecognition::Stub> stub_;
  grpc::ClientContext context_;
  rasr::StreamingRecognizeRequest config_;
  std::unique_ptr<grpc::ClientReaderWriter<rasr::StreamingRecognizeRequest, rasr::StreamingRecognizeResponse>>
      stream_;  // set by the writer before opened_
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool opened_ = false;     // the call exists and the config write was attempted
  bool finishing_ = false;  // finish(): half-close once the queue is empty
  bool over_ = false;       // cancelled, or the call ended: nothing more is sent
  bool cancelled_ = false;  // cancel(): no more callbacks
  std::mutex join_mutex_;
  std::thread writer_;
  std::thread reader_;
};

}  // namespace

core::result<std::shared_ptr<grpc::Channel>> open_riva_channel(const riva_options& options) {
  if (options.address.empty()) return core::make_error_code(core::errc::invalid_argument);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) {
      std::ifstream in(options.ca_file, std::ios::binary);
      std::ostringstream pem;
      pem << in.rdbuf();
      if (!in || pem.str().empty()) return core::make_error_code(core::errc::io_error);
      ssl.pem_root_certs = pem.str();
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_message_bytes);
  args.SetMaxSendMessageSize(max_message_bytes);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_reconnect_backoff_ms);
  return grpc::CreateCustomChannel(options.address, credentials, args);
}

core::errc riva_errc(int grpc_status_code) noexcept {
  using core::errc;
  switch (static_cast<grpc::StatusCode>(grpc_status_code)) {
    case grpc::StatusCode::OK:
      return errc::ok;
    case grpc::StatusCode::INVALID_ARGUMENT:  // Riva: no model for this language, rate or voice
    case grpc::StatusCode::OUT_OF_RANGE:
      return errc::invalid_argument;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return errc::timed_out;
    case grpc::StatusCode::NOT_FOUND:
      return errc::not_found;
    case grpc::StatusCode::ALREADY_EXISTS:
      return errc::conflict;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return errc::too_large;  // a message over the receiver's limit
    case grpc::StatusCode::UNIMPLEMENTED:
      return errc::unsupported;  // the service is not enabled there
    case grpc::StatusCode::DATA_LOSS:
      return errc::io_error;
    // The server (or the way to it) failed, refused us or gave up: nothing the caller's input could fix.
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::UNAUTHENTICATED:
    default:
      return errc::unavailable;
  }
}

riva_tts::riva_tts(std::shared_ptr<grpc::Channel> channel, riva_tts_options options)
    : channel_(checked(std::move(channel))), options_(std::move(options)) {}

core::result<audio> riva_tts::synthesize(std::string_view text, std::string_view voice) {
  if (text.empty()) return core::make_error_code(core::errc::invalid_argument);
  const auto stub = rtts::RivaSpeechSynthesis::NewStub(channel_);
  grpc::ClientContext context;
  set_deadline(context, options_.deadline);
  rtts::SynthesizeSpeechResponse response;
  const auto status = stub->Synthesize(&context, tts_request(text, voice, options_), &response);
  if (!status.ok()) return core::make_error_code(failed("Synthesize", status));
  audio out;
  out.sample_rate = options_.sample_rate;
  append_pcm(*response.mutable_audio(), out.samples);
  if (!response.audio().empty()) return core::make_error_code(core::errc::malformed);  // half a sample
  return out;
}

core::result<void> riva_tts::synthesize_online(std::string_view text, std::string_view voice,
                                               const std::function<bool(audio)>& on_chunk) {
  if (text.empty()) return core::make_error_code(core::errc::invalid_argument);
  const auto stub = rtts::RivaSpeechSynthesis::NewStub(channel_);
  grpc::ClientContext context;
  set_deadline(context, options_.deadline);
  const auto reader = stub->SynthesizeOnline(&context, tts_request(text, voice, options_));
  rtts::SynthesizeSpeechResponse response;
  std::string pending;  // an odd byte carried to the next chunk, should the server split a sample
  bool stopped = false;
  while (!stopped && reader->Read(&response)) {
    pending += response.audio();
    audio chunk;
    chunk.sample_rate = options_.sample_rate;
    append_pcm(pending, chunk.samples);
    if (chunk.samples.empty()) continue;
    if (!on_chunk(std::move(chunk))) {
      stopped = true;
      context.TryCancel();
    }
  }
  const auto status = reader->Finish();
  if (stopped) return {};
  if (!status.ok()) return core::make_error_code(failed("SynthesizeOnline", status));
  if (!pending.empty()) return core::make_error_code(core::errc::malformed);  // half a sample
  return {};
}

riva_asr::riva_asr(std::shared_ptr<grpc::Channel> channel) : channel_(checked(std::move(channel))) {}

core::result<std::unique_ptr<asr_stream>> riva_asr::start(const asr_config& config, asr_handler handler) {
  if (config.sample_rate <= 0 || config.language.empty() || config.max_duration <= std::chrono::milliseconds::zero())
    return core::make_error_code(core::errc::invalid_argument);
  return std::unique_ptr<asr_stream>(std::make_unique<riva_stream>(channel_, config, std::move(handler)));
}

riva_health::riva_health(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds deadline)
    : channel_(checked(std::move(channel))), deadline_(deadline) {}

core::result<void> riva_health::check() const {
  const auto stub = health::Health::NewStub(channel_);
  grpc::ClientContext context;
  set_deadline(context, deadline_);
  health::HealthCheckRequest request;  // the empty service name: the server as a whole
  health::HealthCheckResponse response;
  const auto status = stub->Check(&context, request, &response);
  // Not logged: /health polls this, and the caller reports the state change.
  if (!status.ok()) return core::make_error_code(riva_errc(static_cast<int>(status.error_code())));
  if (response.status() != health::HealthCheckResponse::SERVING) return core::make_error_code(core::errc::unavailable);
  return {};
}

}  // namespace mas::speech
