#include "stream/pipeline_spec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace stream {
namespace {

// Payload types: 102 and 96 are the numbers Chromium and webrtcbin pick for H.264 and VP8, so an offer made by us
// reads like one made by a browser; an answer overrides them with the offerer's choice.
constexpr std::array<encoder_profile, 3> encoders{{
    {codec::h264_x264, "h264", "H264", 102, "x264", "bitrate", 1},                 // x264enc: kbit/s
    {codec::h264_openh264, "openh264", "H264", 102, "openh264", "bitrate", 1000},  // openh264enc: bit/s
    {codec::vp8, "vp8", "VP8", 96, "vpx", "target-bitrate", 1000},                 // vp8enc: bit/s
}};

// Opus's payload type in Chromium's offers; browsers accept it from us as well.
constexpr int opus_payload = 111;
// Below the common 1500-byte MTU with room for SRTP, TURN and VPN headers.
constexpr int rtp_mtu = 1200;

std::string video_source(const pipeline_spec& s) {
  // Two frames of slack, then the oldest is dropped: a slow encoder costs frames, never latency.
  return fmt::format(
      "appsrc name=video is-live=true format=time do-timestamp=true max-buffers=2 leaky-type=downstream "
      "caps=\"video/x-raw,format=BGRx,width={},height={},framerate={}/1\" "
      "! videoconvert ! video/x-raw,format=I420",
      s.width, s.height, s.fps);
}

std::string caption_overlay() {
  // Subtitles for the spoken reply: bottom centre, wrapped at the frame edge, on a shaded band for contrast;
  // auto-resize scales the font with the frame size.
  return "textoverlay name=caption valignment=bottom halignment=center line-alignment=center wrap-mode=wordchar "
         "shaded-background=true auto-resize=true font-desc=\"Sans 14\"";
}

std::string video_encoder(const pipeline_spec& s, int payload) {
  const int gop = s.fps * s.keyframe_interval_s;
  const auto [property, value] = bitrate_setting(s.video, s.bitrate_kbps);
  switch (s.video) {
    case codec::h264_x264:
      // Constrained baseline is what every browser decodes in hardware and software; config-interval=-1 sends
      // SPS/PPS with each IDR so a viewer can start at any keyframe.
      return fmt::format(
          "x264enc name=venc tune=zerolatency speed-preset=ultrafast {}={} key-int-max={} "
          "! video/x-h264,profile=constrained-baseline "
          "! rtph264pay name=vpay pt={} config-interval=-1 aggregate-mode=zero-latency mtu={}",
          property, value, gop, payload, rtp_mtu);
    case codec::h264_openh264:
      return fmt::format(
          "openh264enc name=venc complexity=low rate-control=bitrate {}={} gop-size={} usage-type=camera "
          "! h264parse ! video/x-h264,profile=constrained-baseline "
          "! rtph264pay name=vpay pt={} config-interval=-1 aggregate-mode=zero-latency mtu={}",
          property, value, gop, payload, rtp_mtu);
    case codec::vp8:
      // deadline=1 is libvpx's real-time mode; lag-in-frames=0 keeps the encoder from buffering look-ahead.
      return fmt::format(
          "vp8enc name=venc deadline=1 {}={} keyframe-max-dist={} end-usage=cbr lag-in-frames=0 "
          "error-resilient=default "
          "! rtpvp8pay name=vpay pt={} picture-id-mode=15-bit mtu={}",
          property, value, gop, payload, rtp_mtu);
  }
  return {};
}

std::string audio_branch(const pipeline_spec& s) {
  // No do-timestamp: speech is synthesised faster than real time, so the pusher stamps each chunk itself.
  return fmt::format(
      "appsrc name=audio is-live=true format=time "
      "caps=\"audio/x-raw,format=S16LE,layout=interleaved,channels=1,rate={}\" "
      "! audioconvert ! audioresample ! opusenc name=aenc bitrate={} audio-type=voice "
      "! rtpopuspay name=apay pt={} ! webrtc.",
      s.audio_rate, s.opus_bitrate_bps, opus_payload);
}

}  // namespace

std::span<const encoder_profile> encoder_table() {
  return encoders;
}

const encoder_profile* find_encoder(std::string_view name) {
  const auto* it = std::find_if(encoders.begin(), encoders.end(), [&](const auto& p) { return p.name == name; });
  return it == encoders.end() ? nullptr : &*it;
}

const encoder_profile& profile_of(codec c) {
  const auto* it = std::find_if(encoders.begin(), encoders.end(), [&](const auto& p) { return p.id == c; });
  return *it;  // the table covers every enumerator (a test checks)
}

std::string describe(const pipeline_spec& s) {
  const auto& p = profile_of(s.video);
  const int payload = s.payload < 0 ? p.default_payload : s.payload;
  std::string out = video_source(s);
  if (s.caption) out += " ! " + caption_overlay();
  out += " ! queue max-size-buffers=2 leaky=downstream ! " + video_encoder(s, payload);
  out += " ! webrtcbin name=webrtc bundle-policy=max-bundle";
  if (s.audio) out += " " + audio_branch(s);
  return out;
}

std::vector<std::string_view> required_plugins(const pipeline_spec& s) {
  // webrtcbin loads nice, dtls, srtp, sctp and rtpmanager at run time, not at parse time, so a missing
  // gstreamer1.0-nice would otherwise show only as a connection that never comes up.
  std::vector<std::string_view> out{"coreelements", "app", "videoconvertscale", "webrtc", "nice", "dtls", "srtp",
                                    "sctp",         "rtp", "rtpmanager"};
  out.push_back(profile_of(s.video).plugin);
  if (s.video == codec::h264_openh264) out.emplace_back("videoparsersbad");  // h264parse
  if (s.caption) out.emplace_back("pango");
  if (s.audio) {
    out.emplace_back("audioconvert");
    out.emplace_back("audioresample");
    out.emplace_back("opus");
  }
  return out;
}

std::pair<std::string_view, int> bitrate_setting(codec c, int kbps) {
  const auto& p = profile_of(c);
  const auto value =
      std::clamp<long long>(static_cast<long long>(kbps) * p.bitrate_scale, 0, std::numeric_limits<int>::max());
  return {p.bitrate_property, static_cast<int>(value)};
}

int adapt_bitrate(int current_kbps, double loss_fraction, int max_kbps) {
  const int floor_kbps = std::min(min_adapted_kbps, max_kbps);
  const auto bounded = [&](double kbps) {
    return static_cast<int>(std::clamp(std::lround(kbps), static_cast<long>(floor_kbps), static_cast<long>(max_kbps)));
  };
  if (std::isnan(loss_fraction)) return bounded(current_kbps);
  const double loss = std::clamp(loss_fraction, 0.0, 1.0);
  if (loss < 0.02) return bounded(current_kbps * 1.05);
  if (loss <= 0.10) return bounded(current_kbps);
  return bounded(current_kbps * (1.0 - loss / 2.0));
}

}  // namespace stream
