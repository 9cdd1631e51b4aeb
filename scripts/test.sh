#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite: GoogleTest units, the coturn
# integration test, the Node black-box and Chromium suites (through CTest), the system tests of the rendered
# deployment artifacts with the real tools (tests/system/), then a short libFuzzer run.
# Under CI (CI=true) or with SPARC_TEST_ASAN=1 everything runs a second time under AddressSanitizer +
# UBSan (leak checks included); SPARC_TEST_ASAN=0 skips that.
source "$(dirname "$0")/lib.sh"
install_packages build test system
say "Installing test tooling from npm (tests/package.json)"
(cd "${repo_root}/tests" && npm install --no-audit --no-fund --loglevel=error)
jobs=$(nproc)

build dev
say "Running CTest (dev)"
ctest --preset dev -j "${jobs}"

# The optimised binaries, as deployed, against the black-box suites that cover their main paths.
build release sparc-signal sparc-mas sparc-stream sparc
say "Black-box suites against the release binaries"
(cd "${repo_root}/tests" &&
  SPARC_SIGNAL_BIN="${repo_root}/build/release/apps/sparc-signal/sparc-signal" \
  SPARC_MAS_BIN="${repo_root}/build/release/apps/sparc-mas/sparc-mas" \
  node --test --test-reporter=dot blackbox/ws_public.test.mjs blackbox/http_private.test.mjs \
    blackbox/shutdown.test.mjs blackbox/config_and_static.test.mjs blackbox/mas_api.test.mjs \
    blackbox/mas_sessions.test.mjs)

# The artifacts `sparc render` writes, run by the real tools with the release binaries (tests/system/).
say "System tests: the rendered SLURM jobs on a one-node cluster"
"${repo_root}/tests/system/slurm_test.sh" "${repo_root}/build/release/apps"
say "System tests: the rendered Quadlet units (quadlet -dryrun, systemd-analyze verify)"
"${repo_root}/tests/system/quadlet_test.sh" "${repo_root}/build/release/apps"
say "System tests: the rendered Containerfiles, pod script and kube YAML on rootful podman, then sparc check"
"${repo_root}/tests/system/podman_test.sh" "${repo_root}/build/release/apps"
say "System tests: the rendered Apptainer .def files and build-sifs.sh with sid's apptainer in a podman container"
"${repo_root}/tests/system/apptainer_test.sh" "${repo_root}/build/release/apps"

if [[ ${SPARC_TEST_ASAN:-${CI:-false}} == 1 || ${SPARC_TEST_ASAN:-${CI:-false}} == true ]]; then
  build asan
  say "Running CTest (asan)"
  ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS="suppressions=${repo_root}/tests/lsan.supp:print_suppressions=0" \
    ctest --preset asan -j "${jobs}"
fi

build fuzz ws_reader_fuzz http_parser_fuzz signal_decode_fuzz json_scan_fuzz mas_chat_request_fuzz
say "Fuzzing the WebSocket frame reader, the HTTP parser, the JSON scanner, the signaling decoder and the chat request decoder (${SPARC_FUZZ_SECONDS:-20} s each)"
"${repo_root}/scripts/fuzz.sh" "${SPARC_FUZZ_SECONDS:-20}"
say "All tests passed"
