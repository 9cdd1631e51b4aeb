#include "stream/pipeline_spec.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>

namespace stream {
namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

bool lists(const std::vector<std::string_view>& plugins, std::string_view name) {
  return std::find(plugins.begin(), plugins.end(), name) != plugins.end();
}

pipeline_spec with(codec c) {
  pipeline_spec s;
  s.video = c;
  return s;
}

TEST(encoder_table, covers_every_codec_and_every_cli_name) {
  const auto table = encoder_table();
  ASSERT_EQ(table.size(), 3U);
  for (const auto c : {codec::h264_x264, codec::h264_openh264, codec::vp8}) {
    const auto& p = profile_of(c);
    EXPECT_EQ(p.id, c);
    EXPECT_EQ(find_encoder(p.name), &p);
  }
  EXPECT_EQ(find_encoder("h264")->id, codec::h264_x264);
  EXPECT_EQ(find_encoder("openh264")->id, codec::h264_openh264);
  EXPECT_EQ(find_encoder("vp8")->id, codec::vp8);
  EXPECT_EQ(find_encoder("vp9"), nullptr);
  EXPECT_EQ(find_encoder("H264"), nullptr);
  EXPECT_EQ(find_encoder("h264")->encoding_name, "H264");
  EXPECT_EQ(find_encoder("openh264")->encoding_name, "H264");
  EXPECT_EQ(find_encoder("vp8")->encoding_name, "VP8");
  EXPECT_EQ(find_encoder("h264")->default_payload, 102);
  EXPECT_EQ(find_encoder("openh264")->default_payload, 102);
  EXPECT_EQ(find_encoder("vp8")->default_payload, 96);
}

TEST(pipeline_spec, video_source_and_tail) {
  const auto d = describe(pipeline_spec{});
  EXPECT_EQ(d.rfind("appsrc name=video is-live=true format=time do-timestamp=true max-buffers=2 "
                    "leaky-type=downstream caps=\"video/x-raw,format=BGRx,width=1280,height=720,framerate=30/1\" "
                    "! videoconvert ! video/x-raw,format=I420 ! ",
                    0),
            0U)
      << d;
  EXPECT_TRUE(has(d, " ! queue max-size-buffers=2 leaky=downstream ! ")) << d;
  EXPECT_TRUE(has(d, " ! webrtcbin name=webrtc bundle-policy=max-bundle")) << d;
  // Video reaches the encoder only through the leaky queue, after the overlay.
  EXPECT_LT(d.find("videoconvert"), d.find("textoverlay"));
  EXPECT_LT(d.find("textoverlay"), d.find("queue"));
  EXPECT_LT(d.find("queue"), d.find("name=venc"));
  EXPECT_LT(d.find("name=vpay"), d.find("webrtcbin"));
}

TEST(pipeline_spec, x264_chain) {
  const auto d = describe(with(codec::h264_x264));
  EXPECT_TRUE(has(d,
                  "! x264enc name=venc tune=zerolatency speed-preset=ultrafast bitrate=2500 key-int-max=60 "
                  "! video/x-h264,profile=constrained-baseline "
                  "! rtph264pay name=vpay pt=102 config-interval=-1 aggregate-mode=zero-latency mtu=1200 "
                  "! webrtcbin"))
      << d;
  EXPECT_FALSE(has(d, "h264parse"));
}

TEST(pipeline_spec, openh264_chain) {
  const auto d = describe(with(codec::h264_openh264));
  EXPECT_TRUE(has(d,
                  "! openh264enc name=venc complexity=low rate-control=bitrate bitrate=2500000 gop-size=60 "
                  "usage-type=camera ! h264parse ! video/x-h264,profile=constrained-baseline "
                  "! rtph264pay name=vpay pt=102 config-interval=-1 aggregate-mode=zero-latency mtu=1200 "
                  "! webrtcbin"))
      << d;
}

TEST(pipeline_spec, vp8_chain) {
  const auto d = describe(with(codec::vp8));
  EXPECT_TRUE(has(d,
                  "! vp8enc name=venc deadline=1 target-bitrate=2500000 keyframe-max-dist=60 end-usage=cbr "
                  "lag-in-frames=0 error-resilient=default "
                  "! rtpvp8pay name=vpay pt=96 picture-id-mode=15-bit mtu=1200 ! webrtcbin"))
      << d;
  EXPECT_FALSE(has(d, "h264"));
}

TEST(pipeline_spec, frame_size_and_rate_reach_the_caps) {
  pipeline_spec s;
  s.width = 640;
  s.height = 360;
  s.fps = 60;
  const auto d = describe(s);
  EXPECT_TRUE(has(d, "caps=\"video/x-raw,format=BGRx,width=640,height=360,framerate=60/1\"")) << d;
  EXPECT_TRUE(has(d, "key-int-max=120")) << d;
}

TEST(pipeline_spec, payload_override) {
  for (const auto c : {codec::h264_x264, codec::h264_openh264, codec::vp8}) {
    auto s = with(c);
    s.payload = 108;
    const auto d = describe(s);
    EXPECT_TRUE(has(d, "name=vpay pt=108 ")) << d;
    EXPECT_FALSE(has(d, "pt=102") || has(d, "pt=96")) << d;
  }
  EXPECT_TRUE(has(describe(with(codec::vp8)), "name=vpay pt=96 "));
}

TEST(pipeline_spec, caption_on_and_off) {
  pipeline_spec s;
  const auto on = describe(s);
  EXPECT_TRUE(has(on,
                  "! textoverlay name=caption valignment=bottom halignment=center line-alignment=center "
                  "wrap-mode=wordchar shaded-background=true auto-resize=true font-desc=\"Sans 14\" ! queue"))
      << on;
  s.caption = false;
  const auto off = describe(s);
  EXPECT_FALSE(has(off, "textoverlay")) << off;
  EXPECT_TRUE(has(off, "video/x-raw,format=I420 ! queue")) << off;
}

TEST(pipeline_spec, audio_on_and_off) {
  pipeline_spec s;
  s.opus_bitrate_bps = 24000;
  s.audio_rate = 16000;
  const auto on = describe(s);
  EXPECT_TRUE(has(on,
                  " appsrc name=audio is-live=true format=time "
                  "caps=\"audio/x-raw,format=S16LE,layout=interleaved,channels=1,rate=16000\" "
                  "! audioconvert ! audioresample ! opusenc name=aenc bitrate=24000 audio-type=voice "
                  "! rtpopuspay name=apay pt=111 ! webrtc."))
      << on;
  EXPECT_EQ(on.substr(on.size() - 8), " webrtc.") << on;
  s.audio = false;
  const auto off = describe(s);
  EXPECT_FALSE(has(off, "audio")) << off;
  EXPECT_FALSE(has(off, "opus")) << off;
  EXPECT_EQ(off.substr(off.size() - 24), "bundle-policy=max-bundle") << off;
}

TEST(pipeline_spec, bitrate_scaling_per_encoder) {
  EXPECT_EQ(bitrate_setting(codec::h264_x264, 2500), (std::pair<std::string_view, int>{"bitrate", 2500}));
  EXPECT_EQ(bitrate_setting(codec::h264_openh264, 2500), (std::pair<std::string_view, int>{"bitrate", 2500000}));
  EXPECT_EQ(bitrate_setting(codec::vp8, 2500), (std::pair<std::string_view, int>{"target-bitrate", 2500000}));
  EXPECT_EQ(bitrate_setting(codec::vp8, 50000).second, 50000000);
  EXPECT_EQ(bitrate_setting(codec::vp8, 3000000).second, std::numeric_limits<int>::max());  // saturates
  pipeline_spec s;
  s.bitrate_kbps = 1000;
  EXPECT_TRUE(has(describe(s), " bitrate=1000 "));
  s.video = codec::h264_openh264;
  EXPECT_TRUE(has(describe(s), " bitrate=1000000 "));
  s.video = codec::vp8;
  EXPECT_TRUE(has(describe(s), " target-bitrate=1000000 "));
}

TEST(pipeline_spec, keyframe_interval_is_fps_times_seconds) {
  pipeline_spec s;
  s.fps = 25;
  EXPECT_TRUE(has(describe(s), "key-int-max=50"));
  s.video = codec::h264_openh264;
  EXPECT_TRUE(has(describe(s), "gop-size=50"));
  s.video = codec::vp8;
  EXPECT_TRUE(has(describe(s), "keyframe-max-dist=50"));
  s.keyframe_interval_s = 1;
  EXPECT_TRUE(has(describe(s), "keyframe-max-dist=25"));
}

TEST(pipeline_spec, required_plugins_per_codec) {
  for (const auto c : {codec::h264_x264, codec::h264_openh264, codec::vp8}) {
    const auto p = required_plugins(with(c));
    for (const char* always : {"coreelements", "app", "videoconvertscale", "webrtc", "nice", "dtls", "srtp", "sctp",
                               "rtp", "rtpmanager", "pango", "audioconvert", "audioresample", "opus"})
      EXPECT_TRUE(lists(p, always)) << always;
  }
  const auto x264 = required_plugins(with(codec::h264_x264));
  EXPECT_TRUE(lists(x264, "x264"));
  EXPECT_FALSE(lists(x264, "openh264") || lists(x264, "vpx") || lists(x264, "videoparsersbad"));
  const auto openh264 = required_plugins(with(codec::h264_openh264));
  EXPECT_TRUE(lists(openh264, "openh264"));
  EXPECT_TRUE(lists(openh264, "videoparsersbad"));
  EXPECT_FALSE(lists(openh264, "x264"));
  const auto vp8 = required_plugins(with(codec::vp8));
  EXPECT_TRUE(lists(vp8, "vpx"));
  EXPECT_FALSE(lists(vp8, "x264") || lists(vp8, "videoparsersbad"));

  pipeline_spec bare;
  bare.caption = false;
  bare.audio = false;
  const auto p = required_plugins(bare);
  EXPECT_FALSE(lists(p, "pango") || lists(p, "opus") || lists(p, "audioconvert") || lists(p, "audioresample"));
  EXPECT_TRUE(lists(p, "nice"));
}

TEST(adapt_bitrate, grows_below_two_percent_loss) {
  EXPECT_EQ(adapt_bitrate(2000, 0.0, 2500), 2100);
  EXPECT_EQ(adapt_bitrate(2000, 0.0199, 2500), 2100);
  EXPECT_EQ(adapt_bitrate(2400, 0.0, 2500), 2500);  // capped at the configured max
  EXPECT_EQ(adapt_bitrate(2500, 0.0, 2500), 2500);
  EXPECT_EQ(adapt_bitrate(3000, 0.0, 2500), 2500);  // a lowered max applies at once
}

TEST(adapt_bitrate, holds_between_two_and_ten_percent) {
  EXPECT_EQ(adapt_bitrate(2000, 0.02, 2500), 2000);
  EXPECT_EQ(adapt_bitrate(2000, 0.05, 2500), 2000);
  EXPECT_EQ(adapt_bitrate(2000, 0.10, 2500), 2000);
}

TEST(adapt_bitrate, cuts_by_half_the_loss_above_ten_percent) {
  EXPECT_EQ(adapt_bitrate(2000, 0.2, 2500), 1800);
  EXPECT_EQ(adapt_bitrate(2000, 0.5, 2500), 1500);
  EXPECT_EQ(adapt_bitrate(2000, 1.0, 2500), 1000);
  EXPECT_EQ(adapt_bitrate(2000, 0.1001, 2500), 1900);
  EXPECT_EQ(adapt_bitrate(400, 0.5, 2500), min_adapted_kbps);  // floor
  EXPECT_EQ(adapt_bitrate(300, 1.0, 2500), 300);
  EXPECT_EQ(adapt_bitrate(250, 0.5, 250), 250);  // a max below the floor pins the bitrate there
  EXPECT_EQ(adapt_bitrate(200, 0.0, 250), 250);
}

TEST(adapt_bitrate, odd_loss_values) {
  EXPECT_EQ(adapt_bitrate(2000, -0.5, 2500), 2100);                                      // clamped to 0
  EXPECT_EQ(adapt_bitrate(2000, 7.0, 2500), 1000);                                       // clamped to 1
  EXPECT_EQ(adapt_bitrate(2000, std::numeric_limits<double>::quiet_NaN(), 2500), 2000);  // no report: hold
}

}  // namespace
}  // namespace stream
