#!/usr/bin/env bash
# Installs what is missing, builds, and runs the local stack on 127.0.0.1: sparc-mas (:8000, store in build/run/),
# sparc-signal (:8080, serving web/; metrics :8888) and sparc-stream (the avatar renderer, public mode, health on
# :8090). Open http://127.0.0.1:8080 in a browser on this machine. Ctrl-C stops all three.
# Extra arguments go to sparc-stream, e.g. scripts/run.sh --persona maya-pena --codec vp8.
source "$(dirname "$0")/lib.sh"
install_packages build
build release sparc-signal sparc-mas sparc-stream
bin="${repo_root}/build/release/apps"
mkdir -p "${repo_root}/build/run"
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "${pid}" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM

"${bin}/sparc-mas/sparc-mas" --db "${repo_root}/build/run/sparc-mas.db" --log-format text &
pids+=($!)
"${bin}/sparc-signal/sparc-signal" --web-root "${repo_root}/web" --log-format text &
pids+=($!)
# The renderer joins the signaling server as the Unity player would; it retries every 5 s until the server is up.
"${bin}/sparc-stream/sparc-stream" -signalingUrl ws://127.0.0.1:8080 --mas-url http://127.0.0.1:8000 \
  --log-format text "$@" &
pids+=($!)

say "sparc-mas on http://127.0.0.1:8000 (see docs/api.md: /health, /v1/sessions, /v1/chat, /v1/tts)"
say "sparc-signal on http://127.0.0.1:8080 (metrics on :8888)"
say "sparc-stream health on http://127.0.0.1:8090/health"
say "Open http://127.0.0.1:8080 for the avatar; Ctrl-C stops the stack"
# If any of the three exits, stop the others too.
wait -n
