#pragma once
#include "mas/speech/asr.hpp"
#include "mas/speech/speech.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace grpc {
class Channel;
}

/// NVIDIA Riva over gRPC (proto/riva/proto): TTS, streaming ASR and the health probe. Every call carries a
/// deadline; failures are logged once (logger "mas", never the text) and returned as core::errc.
namespace mas::speech {

/// How to reach a Riva server.
struct riva_options {
  std::string address = "localhost:50051";  ///< host:port; Riva's default port is 50051
  bool tls = false;                         ///< Riva serves plaintext unless configured with a certificate
  std::string ca_file{};                    ///< with tls: PEM roots to verify the server; empty for the system's
};

/// One channel to a Riva server, to share between riva_tts, riva_asr and riva_health: HTTP/2 multiplexes their
/// calls over one connection. It connects lazily and keeps reconnecting; errc::io_error when ca_file is unreadable.
core::result<std::shared_ptr<grpc::Channel>> open_riva_channel(const riva_options& options);

/// The one translation from a gRPC status code (grpc::StatusCode's value) to our errors.
core::errc riva_errc(int grpc_status_code) noexcept;

/// What riva_tts asks for on every call.
struct riva_tts_options {
  std::string language = "en-US";
  int sample_rate = 22050;                     ///< the server resamples from its model's rate
  std::chrono::milliseconds deadline{10'000};  ///< per call: a whole Synthesize, or a whole SynthesizeOnline
};

/// Riva text-to-speech (RivaSpeechSynthesis), LINEAR_PCM. Safe to call from several threads at once.
class riva_tts final : public speech_engine {
 public:
  riva_tts(std::shared_ptr<grpc::Channel> channel, riva_tts_options options);
  std::string_view name() const noexcept override { return "riva"; }
  /// The whole utterance from Synthesize. `voice` is a name the server lists (e.g. "English-US.Female-1");
  /// empty lets the server pick its first voice for the language.
  core::result<audio> synthesize(std::string_view text, std::string_view voice) override;
  /// SynthesizeOnline: each chunk goes to `on_chunk`, on the caller's thread, as it arrives; concatenated they
  /// are the utterance. `on_chunk` returns false to stop early, which cancels the call and still succeeds.
  core::result<void> synthesize_online(std::string_view text, std::string_view voice,
                                       const std::function<bool(audio)>& on_chunk);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  riva_tts_options options_;
};

/// Riva streaming recognition (RivaSpeechRecognition.StreamingRecognize), LINEAR_PCM with automatic
/// punctuation. Each stream owns two threads: a writer that sends the queued audio (so push() never blocks on
/// the network) and a reader that runs the handler's callbacks.
class riva_asr final : public asr_engine {
 public:
  explicit riva_asr(std::shared_ptr<grpc::Channel> channel);
  std::string_view name() const noexcept override { return "riva"; }
  core::result<std::unique_ptr<asr_stream>> start(const asr_config& config, asr_handler handler) override;

 private:
  std::shared_ptr<grpc::Channel> channel_;
};

/// Readiness of a Riva server by grpc.health.v1 Check (the server's overall status). Riva loads its models for
/// minutes after start; until then it is unreachable or NOT_SERVING.
class riva_health {
 public:
  explicit riva_health(std::shared_ptr<grpc::Channel> channel,
                       std::chrono::milliseconds deadline = std::chrono::milliseconds(2'000));
  /// Success when SERVING; errc::unavailable when not serving (yet) or unreachable, errc::timed_out without a
  /// timely answer, errc::unsupported when the server has no Health service.
  core::result<void> check() const;

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::chrono::milliseconds deadline_;
};

}  // namespace mas::speech
