#!/usr/bin/env bash
# Installs what is missing, builds, and runs the local stack on 127.0.0.1: sparc-mas (:8000, store in
# build/run/) in the background and sparc-signal (:8080, serving web/; metrics :8888) in the foreground.
# Ctrl-C stops both. Extra arguments go to sparc-signal, e.g. scripts/run.sh -m private.
source "$(dirname "$0")/lib.sh"
install_packages build
build release sparc-signal sparc-mas
mkdir -p "${repo_root}/build/run"
"${repo_root}/build/release/apps/sparc-mas/sparc-mas" --db "${repo_root}/build/run/sparc-mas.db" --log-format text &
mas_pid=$!
trap 'kill -TERM "${mas_pid}" 2>/dev/null; wait "${mas_pid}" 2>/dev/null' EXIT
say "sparc-mas on http://127.0.0.1:8000 (see docs/api.md: /health, /v1/sessions, /v1/chat, /v1/tts)"
say "sparc-signal on http://127.0.0.1:8080 (metrics on :8888); Ctrl-C stops the stack"
"${repo_root}/build/release/apps/sparc-signal/sparc-signal" --web-root "${repo_root}/web" --log-format text "$@"
