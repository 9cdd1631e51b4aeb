#include "support/riva_server.hpp"

#include "riva/proto/health.grpc.pb.h"
#include "riva/proto/riva_asr.grpc.pb.h"
#include "riva/proto/riva_tts.grpc.pb.h"

#include <cmath>
#include <condition_variable>
#include <grpcpp/grpcpp.h>
#include <mutex>
#include <numbers>
#include <stdexcept>
#include <thread>

namespace sparc_test {

namespace {

namespace rasr = nvidia::riva::asr;
namespace rtts = nvidia::riva::tts;
namespace health = grpc::health::v1;

/// What the services share with the test: the faults to apply and what they saw.
struct shared {
  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  riva_faults faults;
  std::vector<riva_tts_seen> tts;
  std::vector<riva_asr_seen> asr;

  riva_faults current() const {
    std::lock_guard lock(mutex);
    return faults;
  }
};

/// Waits out an injected delay; false when the client gave up (deadline, cancel) or the server is stopping.
bool wait_out(grpc::ServerContext& context, std::chrono::milliseconds delay) {
  const auto until = std::chrono::steady_clock::now() + delay;
  while (std::chrono::steady_clock::now() < until) {
    if (context.IsCancelled()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return !context.IsCancelled();
}

grpc::Status unavailable() {
  return {grpc::StatusCode::UNAVAILABLE, "fake riva: unavailable (injected)"};
}

std::string pcm_bytes(const std::vector<std::int16_t>& samples) {
  std::string out;
  out.reserve(samples.size() * 2);
  for (const auto s : samples) {
    const auto u = static_cast<std::uint16_t>(s);
    out.push_back(static_cast<char>(u & 0xFF));
    out.push_back(static_cast<char>(u >> 8));
  }
  return out;
}

class tts_service final : public rtts::RivaSpeechSynthesis::Service {
 public:
  explicit tts_service(shared& s) : shared_(s) {}

  grpc::Status Synthesize(grpc::ServerContext* context, const rtts::SynthesizeSpeechRequest* request,
                          rtts::SynthesizeSpeechResponse* response) override {
    if (auto status = admit(*context, *request, false); !status.ok()) return status;
    response->set_audio(pcm_bytes(riva_fake_pcm(request->text(), request->sample_rate_hz())));
    return grpc::Status::OK;
  }

  grpc::Status SynthesizeOnline(grpc::ServerContext* context, const rtts::SynthesizeSpeechRequest* request,
                                grpc::ServerWriter<rtts::SynthesizeSpeechResponse>* writer) override {
    if (auto status = admit(*context, *request, true); !status.ok()) return status;
    const auto samples = riva_fake_pcm(request->text(), request->sample_rate_hz());
    const auto chunk = static_cast<std::size_t>(request->sample_rate_hz() / 10);  // 100 ms
    rtts::SynthesizeSpeechResponse response;
    for (std::size_t at = 0; at < samples.size(); at += chunk) {
      const auto end = std::min(samples.size(), at + chunk);
      response.set_audio(pcm_bytes(
          {samples.begin() + static_cast<std::ptrdiff_t>(at), samples.begin() + static_cast<std::ptrdiff_t>(end)}));
      if (!writer->Write(response)) return {grpc::StatusCode::CANCELLED, "fake riva: client went away"};
    }
    return grpc::Status::OK;
  }

 private:
  grpc::Status admit(grpc::ServerContext& context, const rtts::SynthesizeSpeechRequest& request, bool online) {
    const auto faults = shared_.current();
    {
      std::lock_guard lock(shared_.mutex);
      shared_.tts.push_back({request.text(), request.voice_name(), request.language_code(), request.sample_rate_hz(),
                             static_cast<int>(request.encoding()), online});
    }
    if (!wait_out(context, faults.delay)) return {grpc::StatusCode::CANCELLED, "fake riva: client went away"};
    if (faults.unavailable) return unavailable();
    if (request.encoding() != nvidia::riva::LINEAR_PCM || request.sample_rate_hz() < 8000)
      return {grpc::StatusCode::INVALID_ARGUMENT, "fake riva: only LINEAR_PCM at 8000 Hz or more"};
    return grpc::Status::OK;
  }

  shared& shared_;
};

class asr_service final : public rasr::RivaSpeechRecognition::Service {
 public:
  explicit asr_service(shared& s) : shared_(s) {}

  grpc::Status StreamingRecognize(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<rasr::StreamingRecognizeResponse, rasr::StreamingRecognizeRequest>* stream) override {
    riva_asr_seen seen;
    auto status = recognize(*context, *stream, seen);
    seen.cancelled = context->IsCancelled();
    {
      std::lock_guard lock(shared_.mutex);
      shared_.asr.push_back(seen);
    }
    shared_.changed.notify_all();
    return status;
  }

 private:
  using stream_type = grpc::ServerReaderWriter<rasr::StreamingRecognizeResponse, rasr::StreamingRecognizeRequest>;

  grpc::Status recognize(grpc::ServerContext& context, stream_type& stream, riva_asr_seen& seen) {
    const auto faults = shared_.current();
    rasr::StreamingRecognizeRequest request;
    if (!stream.Read(&request)) return {grpc::StatusCode::CANCELLED, "fake riva: no config"};
    if (!request.has_streaming_config())
      return {grpc::StatusCode::INVALID_ARGUMENT, "fake riva: the first message must carry streaming_config"};
    const auto& config = request.streaming_config().config();
    seen.sample_rate = config.sample_rate_hertz();
    seen.language = config.language_code();
    seen.interim_results = request.streaming_config().interim_results();
    seen.encoding = static_cast<int>(config.encoding());
    if (!wait_out(context, faults.delay)) return {grpc::StatusCode::CANCELLED, "fake riva: client went away"};
    if (faults.unavailable) return unavailable();
    if (config.language_code() != "en-US" || config.sample_rate_hertz() <= 0)
      return {grpc::StatusCode::INVALID_ARGUMENT,
              "Error: Unavailable model requested given these parameters: language_code=" + config.language_code() +
                  "; type=online;"};

    rasr::StreamingRecognizeResponse response;
    while (stream.Read(&request)) {
      if (request.has_streaming_config())
        return {grpc::StatusCode::INVALID_ARGUMENT, "fake riva: streaming_config after the first message"};
      seen.audio_bytes += request.audio_content().size();
      if (faults.abort_after_bytes > 0 && seen.audio_bytes >= faults.abort_after_bytes)
        return {grpc::StatusCode::INTERNAL, "fake riva: stream aborted (injected)"};
      if (!seen.interim_results) continue;
      response.Clear();
      auto& result = *response.add_results();
      result.set_stability(0.5F);
      result.add_alternatives()->set_transcript(riva_fake_transcript(seen.audio_bytes / 2));
      if (!stream.Write(response)) break;
    }
    if (context.IsCancelled()) return {grpc::StatusCode::CANCELLED, "fake riva: client went away"};
    seen.half_closed = true;
    response.Clear();
    auto& result = *response.add_results();
    result.set_is_final(true);
    result.set_audio_processed(static_cast<float>(seen.audio_bytes) / 2.0F / static_cast<float>(seen.sample_rate));
    auto& best = *result.add_alternatives();
    best.set_transcript(faults.transcript.empty() ? riva_fake_transcript(seen.audio_bytes / 2) : faults.transcript);
    best.set_confidence(0.9F);
    stream.Write(response);
    return grpc::Status::OK;
  }

  shared& shared_;
};

class health_service final : public health::Health::Service {
 public:
  explicit health_service(shared& s) : shared_(s) {}

  grpc::Status Check(grpc::ServerContext* context, const health::HealthCheckRequest* request,
                     health::HealthCheckResponse* response) override {
    const auto faults = shared_.current();
    if (!wait_out(*context, faults.delay)) return {grpc::StatusCode::CANCELLED, "fake riva: client went away"};
    if (faults.unavailable) return unavailable();
    if (!request->service().empty()) return {grpc::StatusCode::NOT_FOUND, "fake riva: unknown service"};
    response->set_status(faults.serving ? health::HealthCheckResponse::SERVING
                                        : health::HealthCheckResponse::NOT_SERVING);
    return grpc::Status::OK;
  }

 private:
  shared& shared_;
};

}  // namespace

struct riva_server::state {
  shared data;
  tts_service tts{data};
  asr_service asr{data};
  health_service health{data};
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

std::vector<std::int16_t> riva_fake_pcm(std::string_view text, int sample_rate) {
  const auto count = static_cast<std::size_t>(sample_rate) / 100 * text.size();
  std::vector<std::int16_t> out(count);
  for (std::size_t i = 0; i < count; ++i) {
    const double t = static_cast<double>(i) / sample_rate;
    out[i] = static_cast<std::int16_t>(std::lround(8000.0 * std::sin(2.0 * std::numbers::pi * 440.0 * t)));
  }
  return out;
}

std::string riva_fake_transcript(std::size_t samples) {
  return "heard " + std::to_string(samples) + " samples";
}

riva_server::riva_server(int port) : state_(std::make_unique<state>()) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(), &state_->port);
  builder.RegisterService(&state_->tts);
  builder.RegisterService(&state_->asr);
  builder.RegisterService(&state_->health);
  state_->server = builder.BuildAndStart();
  if (!state_->server || state_->port == 0)
    throw std::runtime_error("fake riva: cannot listen on 127.0.0.1:" + std::to_string(port));
}

riva_server::~riva_server() {
  shutdown();
}

void riva_server::shutdown() {
  // Shutdown with a deadline already past cancels the calls in flight instead of waiting for them.
  if (state_->server) state_->server->Shutdown(std::chrono::system_clock::now());
}

int riva_server::port() const noexcept {
  return state_->port;
}

std::string riva_server::address() const {
  return "127.0.0.1:" + std::to_string(state_->port);
}

void riva_server::set_faults(riva_faults faults) {
  std::lock_guard lock(state_->data.mutex);
  state_->data.faults = std::move(faults);
}

std::vector<riva_tts_seen> riva_server::tts_requests() const {
  std::lock_guard lock(state_->data.mutex);
  return state_->data.tts;
}

std::vector<riva_asr_seen> riva_server::asr_streams() const {
  std::lock_guard lock(state_->data.mutex);
  return state_->data.asr;
}

bool riva_server::wait_for_asr_streams(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->data.mutex);
  return state_->data.changed.wait_for(lock, timeout, [&] { return state_->data.asr.size() >= count; });
}

}  // namespace sparc_test
