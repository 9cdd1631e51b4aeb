#!/usr/bin/env bash
# Installs what is missing, builds, and runs the stack on 127.0.0.1 (for now: sparc-signal serving web/).
# Extra arguments go to sparc-signal, e.g. scripts/run.sh -m private.
source "$(dirname "$0")/lib.sh"
install_packages build
build release sparc-signal
say "Starting sparc-signal on http://127.0.0.1:8080 (metrics on :8888); Ctrl-C stops it"
exec "${repo_root}/build/release/apps/sparc-signal/sparc-signal" --web-root "${repo_root}/web" --log-format text "$@"
