#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS (default 20) from the seed corpus in fuzz/corpus.
# Needs a fuzz-preset build (scripts/test.sh does it). Crashes are kept in build/fuzz/crashes.
source "$(dirname "$0")/lib.sh"
seconds=${1:-20}
out=${repo_root}/build/fuzz
mkdir -p "${out}/crashes"
for target in ws_reader_fuzz http_parser_fuzz signal_decode_fuzz json_scan_fuzz mas_chat_request_fuzz; do
  corpus=${out}/corpus/${target}
  mkdir -p "${corpus}"
  cp -n "${repo_root}/fuzz/corpus/${target}/"* "${corpus}/" 2>/dev/null || true
  say "fuzz ${target} for ${seconds} s"
  "${out}/fuzz/${target}" -max_total_time="${seconds}" -max_len=70000 -rss_limit_mb=1024 \
    -artifact_prefix="${out}/crashes/${target}-" -print_final_stats=1 "${corpus}" 2>"${out}/${target}.log" ||
    { tail -n 40 "${out}/${target}.log"; exit 1; }
  grep -E '^stat::number_of_executed_units' "${out}/${target}.log" >&2 || true
done
