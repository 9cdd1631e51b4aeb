#pragma once
// `sparc check`'s browser check: Debian's headless Chromium opens the stack's page and the check reads, over the
// DevTools protocol, how many video frames the page's RTCPeerConnection has decoded. Only that proves the whole
// path (signaling, ICE, DTLS, the renderer's encoder and the browser's decoder) end to end.

#include <chrono>
#include <string>

namespace deploy {

struct browser_result {
  bool ran = false;       ///< false: Chromium could not be started (error says why)
  long frames = 0;        ///< framesDecoded when the check ended
  std::string error;
  std::chrono::milliseconds first_frame{0};  ///< from navigation to the first decoded frame
};

/// Opens `url` in a fresh headless Chromium (`chromium`, a throwaway profile) and waits up to `timeout` for at least
/// `want_frames` decoded video frames. Chromium is stopped before this returns.
browser_result browser_frames(const std::string& chromium, const std::string& url, long want_frames,
                              std::chrono::milliseconds timeout);

}  // namespace deploy
