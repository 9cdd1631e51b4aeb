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

# Container figures, where rootful podman runs: tests/system/podman_test.sh with one base image per stage, so the
# stream image's size is its own (the shared-base default makes it the union of all three stages' libraries).
containers_md="Not measured this time: rootful podman is not available here (scripts/test.sh installs it)."
if [[ $(id -u) -eq 0 ]] && command -v podman >/dev/null; then
  echo "== sparc containers (tests/system/podman_test.sh, per-stage bases; minutes on a fresh machine)" >&2
  if SPARC_PODMAN_BASE=per-stage SPARC_PODMAN_BUDGET_S=900 SPARC_IMAGE_SIZES_OUT="$work/sizes.txt" \
    tests/system/podman_test.sh build/release/apps >"$work/podman.log" 2>&1; then
    pass=$(grep 'PASS in' "$work/podman.log" | tail -n 1)
    pod_up=$(sed -n 's/.*pod up \([0-9]*\) ms.*/\1/p' <<<"$pass")
    kube_up=$(sed -n 's/.*kube up \([0-9]*\) ms.*/\1/p' <<<"$pass")
    size_rows=$(awk '!/^#/ && NF >= 5 { printf "| %s | %.1f MB | %s: %.1f MB | %s |\n", $1, $3 / 1e6, $4, $5 / 1e6,
      ($1 == "mas" || $1 == "signal") ? ($3 <= 60e6 ? "met" : "**missed**") : "—" }' "$work/sizes.txt")
    containers_md="Command: \`SPARC_PODMAN_BASE=per-stage tests/system/podman_test.sh build/release/apps\` (run by
bench/sparc.sh): the rendered \`Containerfile.prebuilt\` on mmdebstrap bookworm minbase images holding exactly each
stage's runtime packages, then the rendered pod script to all-healthy and \`sparc check\` through the pod's ports.

| image | size | its base image | target ≤ 60 MB |
|---|---|---|---|
$size_rows

| what | target | measured | verdict |
|---|---|---|---|
| pod start (rendered pod script) to all services healthy | ≤ 10 s | $pod_up ms | $(verdict "$pod_up <= 10000") |
| \`podman kube play\` of the rendered YAML to all healthy | — | $kube_up ms | — |

sparc-mas and sparc-signal are slim: their Containerfile stage starts FROM scratch and holds only what a
NAME-rootfs stage collected from the base: the binary, the shared libraries it and bash load (ldd), bash for the
health check, CA certificates, the user entries, and for sparc-mas espeak-ng's data with the English dictionary
only. libcrypto (4.6 MB), libstdc++ and libc are most of sparc-signal; sparc-mas adds espeak-ng and the audio
libraries libespeak-ng links (PulseAudio, ALSA, libsndfile and its codecs), SQLite, gRPC with protobuf and
abseil (the Riva client, about 20 MB) and pocketsphinx (its model is not in the image: containers run without the
embedded recognizer). The stream image stays on
the Debian base: GStreamer loads its plugins with dlopen, which ldd cannot see, and carries their hard
dependencies (LLVM via the GL library, GTK 3)."
  else
    containers_md="The container run failed this time (see bench/sparc.sh; the log was $work/podman.log):

\`\`\`
$(tail -n 15 "$work/podman.log")
\`\`\`"
  fi
fi

cat >"$work/sparc.md" <<EOF
## sparc

Command: \`bench/run.sh --only sparc\` (bench/sparc.sh). The release \`sparc\` on a spec with free ports on
127.0.0.1 (the default stack: sparc-mas, sparc-signal, one sparc-stream renderer at 1280x720). Median of
$sparc_rounds rounds, wall time of the whole command as a user sees it; every \`up\` starts a fresh stack.

$(machine_info)

| what | target | measured (median) | all rounds (ms) | verdict |
|---|---|---|---|---|
| \`sparc up --detach\` to all services healthy | ≤ 3 s | $up_ms ms | ${ups[*]} | $(verdict "$up_ms <= 3000") |
| \`sparc check\` (10 checks incl. a chat turn, a renderer answering an offer and 10 frames decoded in headless Chromium) | ≤ 10 s | $check_ms ms | ${checks[*]} | $(verdict "$check_ms <= 10000") |
| \`sparc status\` (with a fresh health probe per service) | — | $status_ms ms | ${statuses[*]} | — |
| \`sparc render --target all\` ($render_files files), the whole command | ≤ 50 ms | $render_ms ms | ${renders[*]} | $(verdict "$render_ms <= 50") |
| the same, rendering alone (as the command reports it) | — | $render_inner_ms ms | ${render_inner[*]} | — |
| \`sparc validate\` (parse, model, lint) | — | $validate_ms ms | ${validates[*]} | — |

About half of \`up\` is sparc-stream's start (GStreamer's plugin registry, the encoder table check and the first
avatar frame) and most of the rest sparc-mas loading the embedded speech recognizer's model (pocketsphinx, about
0.4 s) before it answers /health: \`sparc up\` gives the page a microphone. Signaling is healthy within about 50 ms.

### Images and the pod

$containers_md
EOF
