#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite: GoogleTest units, the coturn
# integration test, the Node black-box suites (through CTest), then a short libFuzzer run.
# Under CI (CI=true) or with SPARC_TEST_ASAN=1 everything runs a second time under AddressSanitizer +
# UBSan (leak checks included); SPARC_TEST_ASAN=0 skips that.
source "$(dirname "$0")/lib.sh"
install_packages build test
say "Installing test tooling from npm (tests/package.json)"
(cd "${repo_root}/tests" && npm install --no-audit --no-fund --loglevel=error)
jobs=$(nproc)

build dev
say "Running CTest (dev)"
ctest --preset dev -j "${jobs}"

if [[ ${SPARC_TEST_ASAN:-${CI:-false}} == 1 || ${SPARC_TEST_ASAN:-${CI:-false}} == true ]]; then
  build asan
  say "Running CTest (asan)"
  ASAN_OPTIONS=detect_leaks=1 ctest --preset asan -j "${jobs}"
fi

build fuzz ws_reader_fuzz http_parser_fuzz signal_decode_fuzz json_scan_fuzz mas_chat_request_fuzz
say "Fuzzing the WebSocket frame reader, the HTTP parser, the JSON scanner, the signaling decoder and the chat request decoder (${SPARC_FUZZ_SECONDS:-20} s each)"
"${repo_root}/scripts/fuzz.sh" "${SPARC_FUZZ_SECONDS:-20}"
say "All tests passed"
