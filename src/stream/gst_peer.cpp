#include "stream/gst_peer.hpp"

#define GST_USE_UNSTABLE_API
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>
#include <nice/agent.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>

namespace stream {

namespace {

std::once_flag gst_once;

/// Frames the encode timer tracks between the encoder's sink and src pads: far more than a zero-latency encoder
/// holds at once, and an entry never matched (a frame the encoder dropped) is overwritten instead of piling up.
constexpr std::size_t encode_slots = 64;

/// `buffer`'s PTS as running time in `pad`'s segment, the time both sides of an encoder agree on: x264enc moves its
/// output PTS 1000 hours ahead (and its segment with it) so that DTS never goes negative.
GstClockTime running_time(GstPad* pad, const GstBuffer* buffer) {
  if (!GST_BUFFER_PTS_IS_VALID(buffer)) return GST_CLOCK_TIME_NONE;
  GstEvent* event = gst_pad_get_sticky_event(pad, GST_EVENT_SEGMENT, 0);
  if (!event) return GST_CLOCK_TIME_NONE;
  const GstSegment* segment = nullptr;
  gst_event_parse_segment(event, &segment);
  const GstClockTime t = gst_segment_to_running_time(segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buffer));
  gst_event_unref(event);
  return t;
}

/// Per-frame encode time: the encoder's sink pad notes when each frame (by running time) went in, its src pad
/// matches it coming out. Both are called on GStreamer streaming threads, the totals are read on the owner's.
class encode_meter {
 public:
  void enter(GstClockTime running) {
    if (running == GST_CLOCK_TIME_NONE) return;
    const auto now = std::chrono::steady_clock::now();
    const std::lock_guard lock(mutex_);
    slots_[next_] = {running, now};
    next_ = (next_ + 1) % slots_.size();
  }

  void leave(GstClockTime running) {
    if (running == GST_CLOCK_TIME_NONE) return;
    const auto now = std::chrono::steady_clock::now();
    const std::lock_guard lock(mutex_);
    const auto it = std::find_if(slots_.begin(), slots_.end(), [&](const slot& s) { return s.running == running; });
    if (it == slots_.end()) return;  // not a frame seen going in (its entry was overwritten)
    ++totals_.frames;
    totals_.total_us += static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(now - it->in).count());
    it->running = GST_CLOCK_TIME_NONE;
  }

  encode_stats totals() const {
    const std::lock_guard lock(mutex_);
    return totals_;
  }

 private:
  struct slot {
    GstClockTime running = GST_CLOCK_TIME_NONE;
    std::chrono::steady_clock::time_point in;
  };
  mutable std::mutex mutex_;
  std::array<slot, encode_slots> slots_{};  // guarded by mutex_
  std::size_t next_ = 0;                    // guarded by mutex_
  encode_stats totals_;                     // guarded by mutex_
};

/// Unrefs a GObject-derived pointer on scope exit.
std::string_view state_name(GstWebRTCPeerConnectionState s) {
  switch (s) {
    case GST_WEBRTC_PEER_CONNECTION_STATE_NEW: return "new";
    case GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTING: return "connecting";
    case GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED: return "connected";
    case GST_WEBRTC_PEER_CONNECTION_STATE_DISCONNECTED: return "disconnected";
    case GST_WEBRTC_PEER_CONNECTION_STATE_FAILED: return "failed";
    case GST_WEBRTC_PEER_CONNECTION_STATE_CLOSED: return "closed";
  }
  return "unknown";
}

/// The first payload type in `media` whose caps match `encoding` (and, for H.264, packetization-mode 1 with a
/// constrained-baseline profile, which is what x264/openh264 produce here); -1 when there is none.
int pick_payload(const GstSDPMedia* media, std::string_view encoding) {
  for (guint i = 0; i < gst_sdp_media_formats_len(media); ++i) {
    const int pt = std::atoi(gst_sdp_media_get_format(media, i));
    GstCaps* caps = gst_sdp_media_get_caps_from_media(media, pt);
    if (!caps) continue;
    const GstStructure* s = gst_caps_get_structure(caps, 0);
    const gchar* name = gst_structure_get_string(s, "encoding-name");
    bool ok = name && g_ascii_strcasecmp(name, std::string(encoding).c_str()) == 0;
    if (ok && encoding == "H264") {
      const gchar* mode = gst_structure_get_string(s, "packetization-mode");
      const gchar* profile = gst_structure_get_string(s, "profile");
      const gchar* level_id = gst_structure_get_string(s, "profile-level-id");
      const bool baseline = (profile && std::strcmp(profile, "constrained-baseline") == 0) ||
                            (level_id && (g_str_has_prefix(level_id, "42e0") || g_str_has_prefix(level_id, "42c0")));
      ok = mode && std::strcmp(mode, "1") == 0 && baseline;
    }
    gst_caps_unref(caps);
    if (ok) return pt;
  }
  return -1;
}

}  // namespace

std::vector<std::string> gst_init_and_check(std::span<const std::string_view> plugins) {
  std::call_once(gst_once, [] { gst_init(nullptr, nullptr); });
  std::vector<std::string> missing;
  GstRegistry* registry = gst_registry_get();
  for (const auto name : plugins) {
    const std::string n(name);
    GstPlugin* plugin = gst_registry_find_plugin(registry, n.c_str());
    if (!plugin) missing.push_back(n);
    else gst_object_unref(plugin);
  }
  return missing;
}

struct gst_peer::impl : std::enable_shared_from_this<impl> {
  peer_events events;
  peer_options options;
  GstElement* pipeline = nullptr;
  GstElement* webrtc = nullptr;
  GstElement* video_src = nullptr;
  GstElement* audio_src = nullptr;
  GstElement* caption = nullptr;
  GstElement* venc = nullptr;
  GstElement* vpay = nullptr;
  GstElement* apay = nullptr;
  std::mutex channel_mutex;
  GstWebRTCDataChannel* channel = nullptr;  // guarded by channel_mutex
  std::atomic<bool> offering{false};
  bool answered_once = false;  ///< payload types are fixed by the first offer (owner's thread only)
  GstClockTime audio_next = GST_CLOCK_TIME_NONE;  ///< PTS of the next audio chunk (owner's thread only)
  std::atomic<bool> offer_made{false};
  encode_meter encode;
  gulong encode_in_probe = 0;   ///< on venc's sink pad (0: none)
  gulong encode_out_probe = 0;  ///< on venc's src pad
  /// Callbacks hold it shared while they call `events`; shutdown takes it exclusively, so after shutdown no event
  /// is running or will run.
  std::shared_mutex callbacks;
  bool stopping = false;  // guarded by callbacks

  /// Runs `f` with the events unless the peer is shutting down.
  template <class F>
  void deliver(F&& f) {
    std::shared_lock lock(callbacks);
    if (!stopping) f(events);
  }

  std::shared_ptr<impl>* keep() { return new std::shared_ptr<impl>(shared_from_this()); }
  static void release(gpointer data) { delete static_cast<std::shared_ptr<impl>*>(data); }
  static impl& of(gpointer data) { return **static_cast<std::shared_ptr<impl>*>(data); }

  template <class Callback>
  void connect(gpointer object, const char* signal, Callback cb) {
    g_signal_connect_data(object, signal, G_CALLBACK(cb), keep(), [](gpointer d, GClosure*) { release(d); },
                          GConnectFlags{});
  }

  /// Times each frame through the video encoder; the probes hold the impl until shutdown removes them.
  void meter_encoder() {
    if (!venc) return;
    const auto add = [&](const char* pad_name, GstPadProbeCallback probe) -> gulong {
      GstPad* pad = gst_element_get_static_pad(venc, pad_name);
      if (!pad) return 0;
      const gulong id = gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, probe, keep(), release);
      gst_object_unref(pad);
      return id;
    };
    encode_in_probe = add("sink", +[](GstPad* pad, GstPadProbeInfo* info, gpointer d) {
      of(d).encode.enter(running_time(pad, GST_PAD_PROBE_INFO_BUFFER(info)));
      return GST_PAD_PROBE_OK;
    });
    encode_out_probe = add("src", +[](GstPad* pad, GstPadProbeInfo* info, gpointer d) {
      of(d).encode.leave(running_time(pad, GST_PAD_PROBE_INFO_BUFFER(info)));
      return GST_PAD_PROBE_OK;
    });
  }

  void unmeter_encoder() {
    const auto remove = [&](const char* pad_name, gulong& id) {
      if (id == 0 || !venc) return;
      if (GstPad* pad = gst_element_get_static_pad(venc, pad_name)) {
        gst_pad_remove_probe(pad, id);  // releases the impl the probe held
        gst_object_unref(pad);
      }
      id = 0;
    };
    remove("sink", encode_in_probe);
    remove("src", encode_out_probe);
  }

  void watch_channel(GstWebRTCDataChannel* ch) {
    {
      std::lock_guard lock(channel_mutex);
      if (channel) g_object_unref(channel);
      channel = GST_WEBRTC_DATA_CHANNEL(g_object_ref(ch));
    }
    connect(ch, "on-open", +[](GstWebRTCDataChannel*, gpointer d) { of(d).deliver([](peer_events& e) { e.data_open(); }); });
    connect(ch, "on-message-string", +[](GstWebRTCDataChannel*, gchar* text, gpointer d) {
      std::string s = text ? text : "";
      of(d).deliver([&](peer_events& e) { e.data_message(std::move(s)); });
    });
    GstWebRTCDataChannelState state{};
    g_object_get(ch, "ready-state", &state, nullptr);
    if (state == GST_WEBRTC_DATA_CHANNEL_STATE_OPEN) deliver([](peer_events& e) { e.data_open(); });
  }

  void make_sendonly() {
    GArray* transceivers = nullptr;
    g_signal_emit_by_name(webrtc, "get-transceivers", &transceivers);
    if (!transceivers) return;
    for (guint i = 0; i < transceivers->len; ++i) {
      auto* t = g_array_index(transceivers, GstWebRTCRTPTransceiver*, i);
      GstWebRTCKind kind{};
      g_object_get(t, "kind", &kind, nullptr);
      // NACK (with an RTX stream) for video only: Chromium refuses an offer whose audio carries an RTX group.
      g_object_set(t, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, "do-nack",
                   kind == GST_WEBRTC_KIND_VIDEO ? TRUE : FALSE, nullptr);
    }
    g_array_unref(transceivers);
  }

  /// Sets `caps` as the codec preference of the transceiver of `kind`.
  void prefer(GstWebRTCKind kind, GstCaps* caps) {
    GArray* transceivers = nullptr;
    g_signal_emit_by_name(webrtc, "get-transceivers", &transceivers);
    if (!transceivers) return;
    for (guint i = 0; i < transceivers->len; ++i) {
      auto* t = g_array_index(transceivers, GstWebRTCRTPTransceiver*, i);
      GstWebRTCKind k{};
      g_object_get(t, "kind", &k, nullptr);
      if (k == kind) g_object_set(t, "codec-preferences", caps, nullptr);
    }
    g_array_unref(transceivers);
  }

  void set_local_and_send(GstWebRTCSessionDescription* desc, const char* type) {
    g_signal_emit_by_name(webrtc, "set-local-description", desc, nullptr);
    gchar* text = gst_sdp_message_as_text(desc->sdp);
    std::string sdp = text;
    g_free(text);
    deliver([&](peer_events& e) { e.local_description(type, std::move(sdp)); });
  }

  /// Applies a remote offer (taking `sdp`) and answers it.
  void answer_remote(GstSDPMessage* sdp) {
    GstWebRTCSessionDescription* offer = gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_OFFER, sdp);
    GstPromise* promise = gst_promise_new_with_change_func(
        [](GstPromise* pr, gpointer d) {
          gst_promise_unref(pr);
          auto& me = impl::of(d);
          GstPromise* answered = gst_promise_new_with_change_func(
              [](GstPromise* pr2, gpointer d2) {
                auto& self = impl::of(d2);
                const GstStructure* reply = gst_promise_get_reply(pr2);
                GstWebRTCSessionDescription* answer = nullptr;
                if (reply) gst_structure_get(reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, nullptr);
                gst_promise_unref(pr2);
                if (!answer) return self.fail("webrtcbin could not answer the offer");
                self.set_local_and_send(answer, "answer");
                gst_webrtc_session_description_free(answer);
              },
              me.keep(), impl::release);
          g_signal_emit_by_name(me.webrtc, "create-answer", nullptr, answered);
        },
        keep(), impl::release);
    g_signal_emit_by_name(webrtc, "set-remote-description", offer, promise);
    gst_webrtc_session_description_free(offer);  // owns and frees sdp
  }

  void fail(const std::string& why) {
    deliver([&](peer_events& e) { e.error(why); });
  }

  void shutdown() {
    {
      std::unique_lock lock(callbacks);
      stopping = true;
    }
    if (pipeline) gst_element_set_state(pipeline, GST_STATE_NULL);
    unmeter_encoder();
    if (webrtc) g_signal_handlers_disconnect_matched(webrtc, G_SIGNAL_MATCH_FUNC, 0, 0, nullptr, nullptr, nullptr);
    {
      std::lock_guard lock(channel_mutex);
      if (channel) {
        g_signal_handlers_disconnect_matched(channel, G_SIGNAL_MATCH_FUNC, 0, 0, nullptr, nullptr, nullptr);
        g_object_unref(channel);
        channel = nullptr;
      }
    }
    if (pipeline) {
      GstBus* bus = gst_element_get_bus(pipeline);
      gst_bus_set_sync_handler(bus, nullptr, nullptr, nullptr);
      gst_object_unref(bus);
    }
    for (GstElement** e : {&webrtc, &video_src, &audio_src, &caption, &venc, &vpay, &apay, &pipeline})
      if (*e) {
        gst_object_unref(*e);
        *e = nullptr;
      }
  }
};

gst_peer::gst_peer(const peer_options& options, peer_events events) : impl_(std::make_shared<impl>()) {
  auto& p = *impl_;
  p.events = std::move(events);
  p.options = options;
  GError* err = nullptr;
  p.pipeline = gst_parse_launch(options.description.c_str(), &err);
  if (err) {
    const std::string why = err->message;
    g_error_free(err);
    if (p.pipeline) gst_object_unref(p.pipeline);
    p.pipeline = nullptr;
    throw std::runtime_error("pipeline: " + why);
  }
  const auto named = [&](const char* name) { return gst_bin_get_by_name(GST_BIN(p.pipeline), name); };
  p.webrtc = named("webrtc");
  p.video_src = named("video");
  p.audio_src = named("audio");
  p.caption = named("caption");
  p.venc = named("venc");
  p.vpay = named("vpay");
  p.apay = named("apay");
  if (!p.webrtc || !p.video_src || !p.vpay) {
    p.shutdown();
    throw std::runtime_error("pipeline: needs elements named webrtc, video and vpay");
  }

  p.meter_encoder();

  GstBus* bus = gst_element_get_bus(p.pipeline);
  gst_bus_set_sync_handler(
      bus,
      [](GstBus*, GstMessage* msg, gpointer d) {
        if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
          GError* e = nullptr;
          gst_message_parse_error(msg, &e, nullptr);
          const std::string why = std::string(GST_OBJECT_NAME(GST_MESSAGE_SRC(msg))) + ": " + (e ? e->message : "error");
          if (e) g_error_free(e);
          impl::of(d).fail(why);
        }
        return GST_BUS_DROP;
      },
      p.keep(), impl::release);
  gst_object_unref(bus);

  // ICE: the port range the deployment publishes, no ICE-TCP, and only the configured local address.
  GstWebRTCICE* ice = nullptr;
  g_object_get(p.webrtc, "ice-agent", &ice, nullptr);
  if (ice) {
    if (options.port_min != 0)
      g_object_set(ice, "min-rtp-port", static_cast<guint>(options.port_min), "max-rtp-port",
                   static_cast<guint>(options.port_max), nullptr);
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "ice-tcp")) g_object_set(ice, "ice-tcp", FALSE, nullptr);
    if (!options.bind_address.empty()) {
      NiceAgent* agent = nullptr;
      g_object_get(ice, "agent", &agent, nullptr);
      if (agent) {
        NiceAddress address;
        nice_address_init(&address);
        if (nice_address_set_from_string(&address, options.bind_address.c_str()))
          nice_agent_add_local_address(agent, &address);
        g_object_unref(agent);
      }
    }
    gst_object_unref(ice);
  }
  if (!options.stun_server.empty()) g_object_set(p.webrtc, "stun-server", options.stun_server.c_str(), nullptr);
  for (const auto& turn : options.turn_servers) {
    gboolean added = FALSE;
    g_signal_emit_by_name(p.webrtc, "add-turn-server", turn.c_str(), &added);
  }

  p.connect(p.webrtc, "on-negotiation-needed", +[](GstElement* webrtc, gpointer d) {
    auto& self = impl::of(d);
    if (!self.offering || self.offer_made.exchange(true)) return;  // answer mode, or the offer is out already
    GstPromise* promise = gst_promise_new_with_change_func(
        [](GstPromise* pr, gpointer data) {
          auto& me = impl::of(data);
          const GstStructure* reply = gst_promise_get_reply(pr);
          GstWebRTCSessionDescription* offer = nullptr;
          if (reply) gst_structure_get(reply, "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &offer, nullptr);
          gst_promise_unref(pr);
          if (!offer) return me.fail("webrtcbin could not create an offer");
          me.set_local_and_send(offer, "offer");
          gst_webrtc_session_description_free(offer);
        },
        self.keep(), impl::release);
    g_signal_emit_by_name(webrtc, "create-offer", nullptr, promise);
  });
  p.connect(p.webrtc, "on-ice-candidate", +[](GstElement*, guint mline, gchar* candidate, gpointer d) {
    std::string c = candidate ? candidate : "";
    impl::of(d).deliver([&](peer_events& e) { e.local_candidate(mline, std::move(c)); });
  });
  p.connect(p.webrtc, "notify::connection-state", +[](GstElement* webrtc, GParamSpec*, gpointer d) {
    GstWebRTCPeerConnectionState state{};
    g_object_get(webrtc, "connection-state", &state, nullptr);
    const std::string name(state_name(state));
    impl::of(d).deliver([&](peer_events& e) { e.connection_state(name); });
  });
  p.connect(p.webrtc, "on-data-channel",
            +[](GstElement*, GstWebRTCDataChannel* ch, gpointer d) { impl::of(d).watch_channel(ch); });

  if (gst_element_set_state(p.pipeline, GST_STATE_READY) == GST_STATE_CHANGE_FAILURE) {
    p.shutdown();
    throw std::runtime_error("pipeline: cannot go to READY");
  }
}

gst_peer::~gst_peer() { impl_->shutdown(); }

void gst_peer::start_offer() {
  auto& p = *impl_;
  p.offering = true;
  p.make_sendonly();
  GstWebRTCDataChannel* ch = nullptr;
  g_signal_emit_by_name(p.webrtc, "create-data-channel", p.options.data_channel_label.c_str(), nullptr, &ch);
  if (ch) {
    p.watch_channel(ch);
    g_object_unref(ch);
  }
  gst_element_set_state(p.pipeline, GST_STATE_PLAYING);
}

void gst_peer::accept_offer(const std::string& sdp_text) {
  auto& p = *impl_;
  GstSDPMessage* sdp = nullptr;
  if (gst_sdp_message_new_from_text(sdp_text.c_str(), &sdp) != GST_SDP_OK || !sdp) return p.fail("the offer is not SDP");
  if (p.answered_once) {
    // A later offer on a live connection (the page renegotiates after its signaling came back): same transceivers,
    // same payload types; only the description round trip is repeated.
    p.answer_remote(sdp);
    return;
  }
  p.answered_once = true;
  // Recipe: give the payloaders the offer's payload types and pin the transceivers to them, or webrtcbin 1.22
  // makes new transceivers and answers inactive.
  GstElementFactory* factory = gst_element_get_factory(p.vpay);
  const std::string video_encoding =
      factory && std::strstr(GST_OBJECT_NAME(factory), "vp8") ? "VP8" : "H264";
  for (guint i = 0; i < gst_sdp_message_medias_len(sdp); ++i) {
    const GstSDPMedia* media = gst_sdp_message_get_media(sdp, i);
    const std::string_view kind = gst_sdp_media_get_media(media);
    if (kind == "video") {
      const int pt = pick_payload(media, video_encoding);
      if (pt < 0) {
        gst_sdp_message_free(sdp);
        return p.fail("the offer has no " + video_encoding + " video this renderer can send");
      }
      g_object_set(p.vpay, "pt", static_cast<guint>(pt), nullptr);
      GstCaps* caps = video_encoding == "VP8"
                          ? gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING, "video", "encoding-name",
                                                G_TYPE_STRING, "VP8", "payload", G_TYPE_INT, pt, "clock-rate", G_TYPE_INT,
                                                90000, nullptr)
                          : gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING, "video", "encoding-name",
                                                G_TYPE_STRING, "H264", "payload", G_TYPE_INT, pt, "clock-rate", G_TYPE_INT,
                                                90000, "packetization-mode", G_TYPE_STRING, "1", nullptr);
      p.prefer(GST_WEBRTC_KIND_VIDEO, caps);
      gst_caps_unref(caps);
    } else if (kind == "audio" && p.apay) {
      const int pt = pick_payload(media, "OPUS");
      if (pt >= 0) {
        g_object_set(p.apay, "pt", static_cast<guint>(pt), nullptr);
        GstCaps* caps = gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING, "audio", "encoding-name",
                                            G_TYPE_STRING, "OPUS", "payload", G_TYPE_INT, pt, "clock-rate", G_TYPE_INT,
                                            48000, "encoding-params", G_TYPE_STRING, "2", nullptr);
        p.prefer(GST_WEBRTC_KIND_AUDIO, caps);
        gst_caps_unref(caps);
      }
    }
  }
  p.make_sendonly();
  gst_element_set_state(p.pipeline, GST_STATE_PLAYING);
  p.answer_remote(sdp);
}

void gst_peer::accept_answer(const std::string& sdp_text) {
  auto& p = *impl_;
  GstSDPMessage* sdp = nullptr;
  if (gst_sdp_message_new_from_text(sdp_text.c_str(), &sdp) != GST_SDP_OK || !sdp) return p.fail("the answer is not SDP");
  GstWebRTCSessionDescription* answer = gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_ANSWER, sdp);
  g_signal_emit_by_name(p.webrtc, "set-remote-description", answer, nullptr);
  gst_webrtc_session_description_free(answer);
}

void gst_peer::add_candidate(unsigned mline, const std::string& candidate) {
  if (candidate.empty()) return;  // end-of-candidates
  g_signal_emit_by_name(impl_->webrtc, "add-ice-candidate", mline, candidate.c_str());
}

bool gst_peer::send(const std::string& text) {
  auto& p = *impl_;
  std::lock_guard lock(p.channel_mutex);
  if (!p.channel) return false;
  GstWebRTCDataChannelState state{};
  g_object_get(p.channel, "ready-state", &state, nullptr);
  if (state != GST_WEBRTC_DATA_CHANNEL_STATE_OPEN) return false;
  g_signal_emit_by_name(p.channel, "send-string", text.c_str());
  return true;
}

void gst_peer::push_video(std::size_t bytes, const std::function<void(std::span<std::uint8_t>)>& fill) {
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, bytes, nullptr);
  GstMapInfo map;
  if (!gst_buffer_map(buffer, &map, GST_MAP_WRITE)) {
    gst_buffer_unref(buffer);
    return;
  }
  fill(std::span<std::uint8_t>(map.data, map.size));
  gst_buffer_unmap(buffer, &map);
  gst_app_src_push_buffer(GST_APP_SRC(impl_->video_src), buffer);  // takes the buffer
}

void gst_peer::push_audio(std::span<const std::int16_t> pcm, int rate) {
  auto& p = *impl_;
  if (!p.audio_src || pcm.empty() || rate <= 0) return;
  // A continuous timeline on the pipeline's running time: consecutive chunks follow each other exactly, and the
  // line snaps back to the clock after a gap (nothing pushed while paused or after a stall).
  GstClock* clock = gst_element_get_clock(p.pipeline);
  if (!clock) return;  // not playing yet
  const GstClockTime now = gst_clock_get_time(clock) - gst_element_get_base_time(p.pipeline);
  gst_object_unref(clock);
  const GstClockTime duration = gst_util_uint64_scale(pcm.size(), GST_SECOND, static_cast<guint64>(rate));
  if (p.audio_next == GST_CLOCK_TIME_NONE || p.audio_next + 100 * GST_MSECOND < now || p.audio_next > now + GST_SECOND)
    p.audio_next = now;
  GstBuffer* buffer = gst_buffer_new_memdup(pcm.data(), pcm.size_bytes());
  GST_BUFFER_PTS(buffer) = p.audio_next;
  GST_BUFFER_DURATION(buffer) = duration;
  p.audio_next += duration;
  gst_app_src_push_buffer(GST_APP_SRC(p.audio_src), buffer);
}

void gst_peer::set_caption(const std::string& text) {
  if (impl_->caption) g_object_set(impl_->caption, "text", text.c_str(), nullptr);
}

void gst_peer::set_encoder_property(std::string_view name, int value) {
  if (!impl_->venc) return;
  const std::string n(name);
  GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(impl_->venc), n.c_str());
  if (!spec) return;
  if (spec->value_type == G_TYPE_UINT) g_object_set(impl_->venc, n.c_str(), static_cast<guint>(value), nullptr);
  else if (spec->value_type == G_TYPE_INT) g_object_set(impl_->venc, n.c_str(), value, nullptr);
}

void gst_peer::request_stats(std::function<void(peer_stats)> done) {
  struct request {
    std::shared_ptr<impl> self;
    std::function<void(peer_stats)> done;
  };
  auto* req = new request{impl_, std::move(done)};
  GstPromise* promise = gst_promise_new_with_change_func(
      [](GstPromise* pr, gpointer d) {
        auto* r = static_cast<request*>(d);
        peer_stats out;
        if (const GstStructure* reply = gst_promise_get_reply(pr)) {
          for (gint i = 0; i < gst_structure_n_fields(reply); ++i) {
            const GValue* v = gst_structure_get_value(reply, gst_structure_nth_field_name(reply, i));
            if (!GST_VALUE_HOLDS_STRUCTURE(v)) continue;
            const GstStructure* s = gst_value_get_structure(v);
            GstWebRTCStatsType type{};
            if (!gst_structure_get(s, "type", GST_TYPE_WEBRTC_STATS_TYPE, &type, nullptr)) continue;
            if (type == GST_WEBRTC_STATS_REMOTE_INBOUND_RTP) {
              double lost = 0;
              double rtt = 0;
              gint64 packets_lost = 0;
              if (gst_structure_get_double(s, "fraction-lost", &lost)) out.fraction_lost = std::max(out.fraction_lost, lost);
              if (gst_structure_get_double(s, "round-trip-time", &rtt)) out.round_trip_ms = std::max(out.round_trip_ms, rtt * 1000);
              if (gst_structure_get_int64(s, "packets-lost", &packets_lost) && packets_lost > 0)
                out.packets_lost += static_cast<std::uint64_t>(packets_lost);
            } else if (type == GST_WEBRTC_STATS_OUTBOUND_RTP) {
              guint64 bytes = 0;
              guint64 packets = 0;
              if (gst_structure_get_uint64(s, "bytes-sent", &bytes)) out.bytes_sent += bytes;
              if (gst_structure_get_uint64(s, "packets-sent", &packets)) out.packets_sent += packets;
            }
          }
        }
        gst_promise_unref(pr);
        std::shared_lock lock(r->self->callbacks);
        if (!r->self->stopping) r->done(out);
      },
      req, [](gpointer d) { delete static_cast<request*>(d); });
  g_signal_emit_by_name(impl_->webrtc, "get-stats", nullptr, promise);
}

encode_stats gst_peer::encode_totals() const { return impl_->encode.totals(); }

}  // namespace stream
