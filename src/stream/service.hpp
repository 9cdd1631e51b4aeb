#pragma once
#include "stream/config.hpp"

namespace stream {

/// Runs sparc-stream until SIGTERM or SIGINT: joins the signaling server as the Unity player does, streams one
/// avatar pipeline per viewer, relays chat to sparc-mas and serves /health and /metrics. Returns the exit code.
int run(const config& cfg);

}  // namespace stream
