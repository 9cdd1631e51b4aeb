#pragma once
// `sparc check`: proves a running stack works end to end, from the outside, the way a browser and the Unity
// client use it, and says what to fix for each failure.

#include "deploy/model.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace deploy {

struct check_target {
  std::string signal_host = "127.0.0.1";
  std::uint16_t signal_port = 8080;
  std::uint16_t signal_metrics_port = 8888;  ///< its /health (0: unknown, e.g. a stack on another machine)
  std::string mas_host = "127.0.0.1";
  std::uint16_t mas_port = 8000;
  std::vector<std::uint16_t> renderer_health_ports;  ///< reference renderers' /health (may be empty)
  int renderers_expected = 1;   ///< a renderer must answer a signaling offer (0: skip that check)
  std::string mas_api_key;      ///< when the backend requires one
  std::string chromium;         ///< headless browser for the frames check ("" : skip it)
  std::chrono::milliseconds timeout{8000};  ///< per check
};

struct check_result {
  std::string name;
  bool passed = false;
  bool skipped = false;
  std::chrono::milliseconds took{0};
  std::string detail;  ///< what was seen
  std::string fix;     ///< on failure: what to do
};

/// The target a stack spec describes (as `sparc up` runs it).
check_target target_from(const stack& st);

/// Runs every check in order, reporting each as it completes.
std::vector<check_result> run_checks(const check_target& t, const std::function<void(const check_result&)>& each);

/// The SDP offer the check sends: a browser's receive-only video and audio plus a data channel.
std::string probe_offer_sdp();

}  // namespace deploy
