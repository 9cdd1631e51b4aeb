#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

/// Protocol-speaking test servers: real wire protocols, in-process, on loopback.
namespace sparc_test {

/// How the fake Riva misbehaves. Set per test; every call reads the current value when it starts.
struct riva_faults {
  /// Wait this long before answering (ASR: before any result); the wait ends early when the client gives up.
  std::chrono::milliseconds delay{0};
  bool unavailable = false;  ///< every call fails with UNAVAILABLE
  bool serving = true;       ///< the Health answer: SERVING or NOT_SERVING
  std::string transcript{};  ///< the final transcript; empty: "heard N samples", N counted from the audio received
  std::size_t abort_after_bytes = 0;  ///< ASR: fail the stream with INTERNAL once this much audio arrived; 0: never
};

/// One synthesis request as the fake received it.
struct riva_tts_seen {
  std::string text;
  std::string voice;
  std::string language;
  int sample_rate = 0;
  int encoding = 0;     ///< nvidia.riva.AudioEncoding
  bool online = false;  ///< SynthesizeOnline rather than Synthesize
};

/// One recognition stream as the fake saw it end.
struct riva_asr_seen {
  int sample_rate = 0;
  std::string language;
  bool interim_results = false;
  int encoding = 0;
  std::size_t audio_bytes = 0;
  bool half_closed = false;  ///< the client said it was done (WritesDone)
  bool cancelled = false;    ///< the client cancelled, or its deadline passed
};

/// The PCM the fake synthesises for `text`: a 440 Hz sine, 10 ms per byte of text. The tests' oracle.
std::vector<std::int16_t> riva_fake_pcm(std::string_view text, int sample_rate);

/// The interim and final transcripts the fake sends for `samples` received (with no configured transcript).
std::string riva_fake_transcript(std::size_t samples);

/// An in-process Riva-protocol gRPC server on 127.0.0.1: RivaSpeechSynthesis (Synthesize, SynthesizeOnline in
/// 100 ms chunks), RivaSpeechRecognition.StreamingRecognize (an interim per audio message when asked, a final
/// after half-close; only en-US, like a server with one model) and grpc.health.v1.Health.Check.
class riva_server {
 public:
  /// Listens on 127.0.0.1:`port`, 0 for any free port; throws std::runtime_error when it cannot.
  explicit riva_server(int port = 0);
  /// Stops, cancelling calls in flight.
  ~riva_server();
  riva_server(const riva_server&) = delete;
  riva_server& operator=(const riva_server&) = delete;

  int port() const noexcept;
  /// "127.0.0.1:<port>", for a client channel.
  std::string address() const;
  void set_faults(riva_faults faults);
  std::vector<riva_tts_seen> tts_requests() const;
  /// The recognition streams that have ended on the server side, in order.
  std::vector<riva_asr_seen> asr_streams() const;
  /// Waits until `count` recognition streams have ended on the server side; false when `timeout` passes first.
  bool wait_for_asr_streams(std::size_t count, std::chrono::milliseconds timeout) const;
  /// Stops listening and cancels calls in flight; the destructor does it too.
  void shutdown();

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace sparc_test
