#!/usr/bin/env bash
# Installs what is missing, builds, and runs the local stack with `sparc up` on the embedded defaults (or on
# ./sparc.toml when there is one): sparc-mas (:8000), sparc-signal (:8080, serving web/; metrics and /health on
# :8888) and one sparc-stream renderer (health on :8090), all on 127.0.0.1, each started once the one before it
# is healthy. Open http://127.0.0.1:8080 in a browser on this machine. Ctrl-C stops the stack.
# Extra arguments go to `sparc up`, e.g. scripts/run.sh --detach (then `sparc status`, `sparc logs mas`,
# `sparc down`, all run from the repository root). State and logs go to .sparc/ in the repository root.
source "$(dirname "$0")/lib.sh"
install_packages build
build release sparc-signal sparc-mas sparc-stream sparc
cd "${repo_root}"
exec "${repo_root}/build/release/apps/sparc/sparc" up "$@"
