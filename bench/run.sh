#!/usr/bin/env bash
# Builds the release preset, runs the benchmarks of sparc-signal (bench/signal.sh), sparc-mas (bench/mas.sh) and
# sparc-stream (bench/stream.sh, with Chromium) on loopback and writes docs/benchmarks.md. The servers and the
# generators share the machine's cores on purpose (no taskset): the targets are stated for that setup. Each
# scenario gets a freshly started server. Takes about a minute per server (two for sparc-stream) after the build.
#
# Usage: bench/run.sh [--only signal|mas|llm|stream|sparc]
#   --only signal   only sparc-signal; the other sections of docs/benchmarks.md are kept as they are
#   --only mas      only sparc-mas (the "## sparc-mas" section); the others are kept as they are
#   --only llm      only sparc-mas on the test model server (bench/llm.sh, "## sparc-mas on a model server")
#   --only stream   only sparc-stream (the "## sparc-stream" section); the others are kept as they are
#   --only sparc    only the sparc CLI (the "## sparc" section, last); the others are kept as they are
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

only=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --only) only=${2:-}; shift $(($# >= 2 ? 2 : 1)) ;;
    --only=*) only=${1#--only=}; shift ;;
    -h | --help) sed -n '2,10p' "$0" | cut -c3-; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case $only in
  "" | signal | mas | llm | stream | sparc) ;;
  *) echo "run.sh: --only takes signal, mas, llm, stream or sparc" >&2; exit 2 ;;
esac
# want PART: true when PART (signal, mas, stream) runs this time.
want() { [[ -z $only || $only == "$1" ]]; }

targets=()  # only what the benchmarks run
if want signal; then targets+=(sparc-signal sparc-signal-bench); fi
if want mas; then targets+=(sparc-mas sparc-mas-bench); fi
if want llm; then targets+=(sparc-mas sparc-mas-bench sparc-fake-llm); fi
if want stream; then
  if ! want signal; then targets+=(sparc-signal); fi
  targets+=(sparc-stream)
fi
if want sparc; then targets+=(sparc sparc-signal sparc-mas sparc-stream); fi
cmake --preset release >/dev/null
cmake --build build/release --target "${targets[@]}"

doc=docs/benchmarks.md

# busy_pct: CPU busy on the whole machine over one second, in % of one core (before anything of ours runs).
busy_pct() {
  local a b
  a=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat)
  sleep 1
  b=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6}' /proc/stat)
  awk -v a="$a" -v b="$b" -v hz="$(getconf CLK_TCK)" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%d", 100 * (y[1] - x[1]) / hz }'
}
before_pct=$(busy_pct)
if [[ $before_pct -gt 10 ]]; then
  echo "run.sh: other processes are using ${before_pct} % of a core; the figures will be disturbed" >&2
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then kill -TERM "$server_pid" 2>/dev/null || true; fi
  if [[ -n ${fake_pid:-} ]]; then kill -TERM "$fake_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# stop_server LABEL: SIGTERM, wait, record the exit status and how long the stop took.
stop_server() {
  local label=$1 rc=0 start
  start=$(date +%s%N)
  kill -TERM "$server_pid" 2>/dev/null || true  # already gone if it crashed; wait reports how
  wait "$server_pid" || rc=$?
  stops+=("$label: exit $rc after $((($(date +%s%N) - start) / 1000000)) ms")
  server_pid=""
}

# bench NAME ARGS...: runs the generator ($bench_bin), keeps its JSON line in results[NAME].
declare -A results
bench() {
  local name=$1 line rc=0
  shift
  echo "== $name" >&2
  commands+=("$bench_bin $*")
  line=$("$bench_bin" "$@") || rc=$?
  echo "$line"
  results[$name]=$line
  if [[ $rc -ne 0 ]]; then echo "run.sh: $name did not complete cleanly (exit $rc)" >&2; fi
}

# field NAME KEY: a scalar from a result line (the generator writes flat, compact JSON).
field() {
  sed -n "s/.*\"$2\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" <<<"${results[$1]:-}" | tr -d '"'
}

# ---- report helpers -------------------------------------------------------------------------------------

mb() { awk -v k="$1" 'BEGIN { if (k == "") print "n/a"; else printf "%.1f MB", k * 1024 / 1e6 }'; }
thousands() { awk -v n="$1" 'BEGIN { if (n == "") { print "n/a"; exit } s = sprintf("%d", n); r = "";
  while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) } print s r }'; }
# verdict CONDITION-AS-AWK: "met" or "**missed**" (callers check first that the values exist).
verdict() { awk "BEGIN { exit !($1) }" 2>/dev/null && echo "met" || echo "**missed**"; }
have() { [[ -n $1 ]]; }

# machine_info: the machine the figures were taken on, as a Markdown list.
machine_info() {
  cat <<EOF
* CPUs: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))
* Memory: $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
* Kernel: $(uname -sr)
* Compiler: $(c++ --version | head -n 1)
* Descriptor limit: $(ulimit -n) per process
* Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')
EOF
}

if want signal; then source bench/signal.sh; fi
if want mas; then source bench/mas.sh; fi
if want llm; then source bench/llm.sh; fi
if want stream; then source bench/stream.sh; fi
if want sparc; then source bench/sparc.sh; fi

# ---- docs/benchmarks.md: the parts not run this time are kept from the current file ----------------------------

# current_part PART: PART's section of the current file: signal is everything above "## sparc-mas", mas and stream
# run from their heading to the next of these headings (or the end).
current_part() {
  [[ -f $doc ]] || return 0
  awk -v want="$1" '$0 == "## sparc-mas" { part = "mas" } $0 == "## sparc-mas on a model server" { part = "llm" }
    $0 == "## sparc-stream" { part = "stream" }
    $0 == "## sparc" { part = "sparc" }
    (part == "" ? "signal" : part) == want' "$doc"
}
parts=()
for part in signal mas llm stream sparc; do
  if want "$part"; then text=$(cat "$work/$part.md"); else text=$(current_part "$part"); fi
  if [[ -n $text ]]; then parts+=("$text"); fi
done
{
  for i in "${!parts[@]}"; do
    if [[ $i -gt 0 ]]; then echo; fi
    printf '%s\n' "${parts[$i]}"
  done
} >"$doc.tmp"
mv "$doc.tmp" "$doc"

echo "run.sh: wrote $doc" >&2
