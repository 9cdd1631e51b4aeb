#pragma once
// The GStreamer facade (ARCHITECTURE rule 13): the only header of sparc-stream that stands for GStreamer, and it
// includes none of it. One gst_peer is one viewer's pipeline: appsrc video and audio, the encoders, and webrtcbin.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace stream {

/// Initialises GStreamer (once per process) and returns the names of the plugins in `plugins` that are missing.
std::vector<std::string> gst_init_and_check(std::span<const std::string_view> plugins);

/// Everything a peer needs besides its pipeline text.
struct peer_options {
  std::string description;  ///< gst-launch text with appsrc "video"/"audio", "vpay", "apay", "webrtc", "caption"
  std::uint16_t port_min = 0;  ///< ICE UDP port range (0: any)
  std::uint16_t port_max = 0;
  std::string bind_address;  ///< gather only this local address (empty: every interface)
  std::string stun_server;   ///< "stun://host:port", or empty
  std::vector<std::string> turn_servers;  ///< "turn(s)://user:password@host:port"
  std::string data_channel_label = "sparc";  ///< the channel the peer creates when it offers
};

/// Events from GStreamer's threads; the owner posts them to its own executor and never blocks in them.
struct peer_events {
  std::function<void(std::string type, std::string sdp)> local_description;  ///< "offer" or "answer"
  std::function<void(unsigned mline, std::string candidate)> local_candidate;
  std::function<void()> data_open;
  std::function<void(std::string text)> data_message;
  std::function<void(std::string state)> connection_state;  ///< "new", "connecting", "connected", "failed", ...
  std::function<void(std::string message)> error;
};

/// What get-stats reported for the outgoing video, for bitrate adaptation and metrics.
struct peer_stats {
  double fraction_lost = 0;  ///< from the receiver's last RTCP report, 0..1
  double round_trip_ms = -1;
  std::uint64_t bytes_sent = 0;
  std::uint64_t packets_sent = 0;
  std::uint64_t packets_lost = 0;
};

/// Frames the video encoder has finished since the peer was built, and the time they spent in it.
struct encode_stats {
  std::uint64_t frames = 0;
  std::uint64_t total_us = 0;
};

class gst_peer {
 public:
  /// Builds the pipeline (READY) and applies the ICE settings; throws std::runtime_error with GStreamer's reason.
  gst_peer(const peer_options& options, peer_events events);
  gst_peer(const gst_peer&) = delete;
  gst_peer& operator=(const gst_peer&) = delete;
  /// Stops the pipeline (joins its threads): no event is delivered after this returns.
  ~gst_peer();

  /// Offer mode (private mode, or renegotiation): sendonly transceivers and a data channel, then PLAYING; the
  /// offer follows once the first buffers reach webrtcbin, so frames must already be pushed.
  void start_offer();
  /// Answer mode (public mode): matches the offer's codecs to the payloaders, then answers.
  void accept_offer(const std::string& sdp);
  void accept_answer(const std::string& sdp);
  void add_candidate(unsigned mline, const std::string& candidate);

  /// Sends on the data channel; false when it is not open.
  bool send(const std::string& text);
  /// Pushes one BGRx frame: `fill` writes width*height*4 bytes straight into GStreamer's buffer.
  void push_video(std::size_t bytes, const std::function<void(std::span<std::uint8_t>)>& fill);
  /// Pushes signed 16-bit mono PCM at `rate` (the pipeline's audio rate), timestamped on the pipeline clock.
  void push_audio(std::span<const std::int16_t> pcm, int rate);
  void set_caption(const std::string& text);
  /// Sets an encoder property (the bitrate) while playing.
  void set_encoder_property(std::string_view name, int value);
  /// Asks webrtcbin for statistics; `done` runs on a GStreamer thread.
  void request_stats(std::function<void(peer_stats)> done);
  /// Running totals of the video encoder's per-frame time (sink pad in to src pad out); any thread.
  encode_stats encode_totals() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;  // shared with callbacks in flight on GStreamer threads
};

}  // namespace stream
