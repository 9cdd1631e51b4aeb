# Sourced by bench/run.sh, which defines the helpers used here: the sparc CLI benchmarks. A spec on free ports
# in a scratch folder; `sparc up --detach` to all-healthy, `sparc check`, `sparc status` and `sparc validate`, each
# timed over several rounds (a fresh stack per up round), and the section "## sparc" written to $work/sparc.md.
# About 30 s.

sparc_bin=build/release/apps/sparc/sparc
sparc_rounds=5
sparc_dir="$work/sparc-stack"
mkdir -p "$sparc_dir"

# free_port: a TCP port nothing listens on now.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cat >"$sparc_dir/sparc.toml" <<SPEC
[stack]
name = "bench"
state_dir = "state"
[signal]
port = $(free_port)
metrics_port = $(free_port)
[mas]
port = $(free_port)
[renderer]
health_port = $(free_port)
[webrtc]
ice_bind = "127.0.0.1"
SPEC

# ms COMMAND...: wall time of one run in ms (the command's output goes to the log); fails the run on error.
ms() {
  local start rc=0
  start=$(date +%s%N)
  (cd "$sparc_dir" && "$root/$sparc_bin" "$@") >>"$work/sparc.log" 2>&1 || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "run.sh: sparc $* failed (exit $rc); see below" >&2
    tail -n 20 "$work/sparc.log" >&2
    exit 1
  fi
  echo $((($(date +%s%N) - start) / 1000000))
}
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "== sparc" >&2
ups=() checks=() statuses=() validates=()
for _ in $(seq "$sparc_rounds"); do
  ups+=("$(ms up --detach)")
  checks+=("$(ms check)")
  statuses+=("$(ms status)")
  ms down >/dev/null
done
renders=() render_inner=()
for _ in $(seq "$sparc_rounds"); do
  validates+=("$(ms validate)")
  renders+=("$(ms render --target all -o "$work/rendered")")
  render_inner+=("$(sed -n 's/.* in \([0-9.]*\) ms$/\1/p' "$work/sparc.log" | tail -n 1)")
done
render_files=$(find "$work/rendered" -type f | wc -l)
up_ms=$(median "${ups[@]}")
check_ms=$(median "${checks[@]}")
status_ms=$(median "${statuses[@]}")
validate_ms=$(median "${validates[@]}")
render_ms=$(median "${renders[@]}")
render_inner_ms=$(median "${render_inner[@]}")

cat >"$work/sparc.md" <<EOF
## sparc

Command: \`bench/run.sh --only sparc\` (bench/sparc.sh). The release \`sparc\` on a spec with free ports on
127.0.0.1 (the default stack: sparc-mas, sparc-signal, one sparc-stream renderer at 1280x720). Median of
$sparc_rounds rounds, wall time of the whole command as a user sees it; every \`up\` starts a fresh stack.

$(machine_info)

| what | target | measured (median) | all rounds (ms) | verdict |
|---|---|---|---|---|
| \`sparc up --detach\` to all services healthy | ≤ 3 s | $up_ms ms | ${ups[*]} | $(verdict "$up_ms <= 3000") |
| \`sparc check\` (8 checks incl. a chat turn and a renderer answering an offer) | ≤ 10 s | $check_ms ms | ${checks[*]} | $(verdict "$check_ms <= 10000") |
| \`sparc status\` (with a fresh health probe per service) | — | $status_ms ms | ${statuses[*]} | — |
| \`sparc render --target all\` ($render_files files), the whole command | ≤ 50 ms | $render_ms ms | ${renders[*]} | $(verdict "$render_ms <= 50") |
| the same, rendering alone (as the command reports it) | — | $render_inner_ms ms | ${render_inner[*]} | — |
| \`sparc validate\` (parse, model, lint) | — | $validate_ms ms | ${validates[*]} | — |

Most of \`up\` is sparc-stream's start (GStreamer's plugin registry, the encoder table check and the first
avatar frame); the backend and signaling are each healthy within about 50 ms of their start. Image sizes and the pod's start to healthy are
measured once the container tests run in the suite.
EOF
