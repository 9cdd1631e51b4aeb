#pragma once
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stream {

/// Video encoders we can stream to browsers from Debian 12's GStreamer 1.22 (AV1 has no payloader there).
enum class codec { h264_x264, h264_openh264, vp8 };

/// What the pipeline, the SDP munging and the plugin check need to know about one encoder.
struct encoder_profile {
  codec id;
  std::string_view name;              ///< the --codec value
  std::string_view encoding_name;     ///< rtpmap encoding name, matched against a browser's offer
  int default_payload;                ///< PT when the offer does not dictate one (Chromium's usual numbers)
  std::string_view plugin;            ///< GStreamer plugin holding the encoder element
  std::string_view bitrate_property;  ///< encoder property changed at run time for adaptation
  int bitrate_scale;                  ///< kbit/s times this gives the property's unit
};

/// Every encoder, in --codec order.
std::span<const encoder_profile> encoder_table();

/// The profile for a --codec value, or nullptr when there is none.
const encoder_profile* find_encoder(std::string_view name);

/// The profile of a codec (every codec has one).
const encoder_profile& profile_of(codec c);

/// One viewer's media: the typed source of the gst-launch description, so tests need no GStreamer.
struct pipeline_spec {
  codec video = codec::h264_x264;
  int width = 1280;
  int height = 720;
  int fps = 30;
  int bitrate_kbps = 2500;
  int keyframe_interval_s = 2;  ///< a late joiner or a lost packet waits at most this long for a picture
  int payload = -1;             ///< RTP payload type; -1: the profile's default, else the one the offer chose
  bool audio = true;
  int opus_bitrate_bps = 32000;
  int audio_rate = 48000;
  bool caption = true;  ///< textoverlay "caption" for the avatar's spoken text
};

/// The gst-launch description of one viewer's pipeline. Elements the facade reaches by name: appsrc "video" (BGRx
/// frames), textoverlay "caption", encoder "venc", payloader "vpay", webrtcbin "webrtc", appsrc "audio" (S16LE mono,
/// the pusher sets timestamps because speech arrives faster than real time), "aenc", "apay".
std::string describe(const pipeline_spec& s);

/// GStreamer plugins the described pipeline loads; checked at start-up so a missing package is named up front.
std::vector<std::string_view> required_plugins(const pipeline_spec& s);

/// The encoder property and value for a new bitrate (for adaptation from RTCP loss).
std::pair<std::string_view, int> bitrate_setting(codec c, int kbps);

/// Lowest bitrate adaptation cuts to: below this 720p turns to mush without saving a congested link.
inline constexpr int min_adapted_kbps = 300;

/// Next bitrate from the loss fraction in RTCP receiver reports (the loss-based rule of the GCC draft,
/// draft-ietf-rmcat-gcc-02 §6): below 2 % grow 5 % up to max_kbps, 2-10 % hold, above 10 % cut by loss/2,
/// never below min_adapted_kbps (or max_kbps when that is lower).
int adapt_bitrate(int current_kbps, double loss_fraction, int max_kbps);

}  // namespace stream
