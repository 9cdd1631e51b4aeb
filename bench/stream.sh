# Sourced by bench/run.sh, which defines the helpers used here: the sparc-stream benchmarks. Each round starts a
# fresh sparc-signal (serving web/), a fresh sparc-stream and Debian's Chromium (bench/stream_bench.mjs, with
# playwright-core from tests/node_modules) and writes its section of docs/benchmarks.md to $work/stream.md.
# About two minutes: two H.264 rounds (1 and 4 viewers) and one VP8 round (1 viewer).

signal_bin=build/release/apps/sparc-signal/sparc-signal
stream_bin=build/release/apps/sparc-stream/sparc-stream
stream_script=bench/stream_bench.mjs
stream_seconds=10   # each measuring window
stream_warm_pages=5 # fresh pages timed one after another on a warm renderer
commands=()
retries=()          # rounds run again because other processes were busy

if ! command -v node >/dev/null; then
  echo "run.sh: node is needed for the sparc-stream benchmark (scripts/test.sh installs the test tooling)" >&2
  exit 1
fi
if [[ ! -d tests/node_modules/playwright-core ]]; then
  echo "run.sh: tests/node_modules/playwright-core is missing; run (cd tests && npm ci) or scripts/test.sh first" >&2
  exit 1
fi
if [[ ! -x ${SPARC_CHROMIUM:-/usr/bin/chromium} ]]; then
  echo "run.sh: ${SPARC_CHROMIUM:-/usr/bin/chromium} is missing (Debian's chromium package)" >&2
  exit 1
fi

# stream_round NAME ARGS...: one run of stream_bench.mjs; its JSON line goes to results[NAME]. A round during
# which other processes took more than 20 % of a core is run once more after a pause, and the quieter kept.
stream_round() {
  local name=$1 line rc other try
  shift
  commands+=("node $stream_script --signal-bin $signal_bin --stream-bin $stream_bin $*")
  for try in 1 2; do
    if [[ $try -eq 1 ]]; then echo "== stream $name" >&2; else echo "== stream $name (again)" >&2; fi
    rc=0
    line=$(node "$stream_script" --signal-bin "$signal_bin" --stream-bin "$stream_bin" --log "$work/stream.log" "$@") || rc=$?
    echo "$line"
    if [[ $rc -ne 0 ]]; then echo "run.sh: stream $name did not complete cleanly (exit $rc)" >&2; fi
    other=$(for k in one_other_cpu_pct multi_other_cpu_pct; do
      sed -n "s/.*\"$k\":\([0-9.]*\).*/\1/p" <<<"$line"; done | sort -n | tail -n 1)
    if [[ $try -eq 1 && -n $other ]] && awk -v o="$other" 'BEGIN { exit !(o > 20) }'; then
      retries+=("$name: other processes used $other % of a core in the first try; run again after 15 s")
      results[$name]=$line
      sleep 15
      continue
    fi
    if [[ $try -eq 2 && -n ${results[$name]:-} ]]; then
      local first_other
      first_other=$(for k in one_other_cpu_pct multi_other_cpu_pct; do
        sed -n "s/.*\"$k\":\([0-9.]*\).*/\1/p" <<<"${results[$name]}"; done | sort -n | tail -n 1)
      if [[ -n $other ]] && awk -v o="$other" -v f="$first_other" 'BEGIN { exit !(o > f) }'; then
        retries+=("$name: the second try was busier ($other %); the first is kept")
        break
      fi
    fi
    results[$name]=$line
    break
  done
}

stream_round h264_1 --codec h264 --viewers 4 --warm-pages "$stream_warm_pages" --seconds "$stream_seconds"
stream_round h264_2 --codec h264 --viewers 4 --warm-pages "$stream_warm_pages" --seconds "$stream_seconds"
stream_round vp8 --codec vp8 --viewers 1 --warm-pages 2 --seconds "$stream_seconds"

# ---- report ---------------------------------------------------------------------------------------------

h264_rounds=(h264_1 h264_2)
# both KEY [UNIT]: the value of KEY in the two H.264 rounds, "a / b".
both() {
  local r out="" v
  for r in "${h264_rounds[@]}"; do v=$(field "$r" "$1"); out+="${out:+ / }${v:-n/a}${v:+${2:-}}"; done
  echo "$out"
}
# each KEY [UNIT]: the value of KEY per H.264 round, as table cells "a | b".
each() {
  local r out="" v
  for r in "${h264_rounds[@]}"; do v=$(field "$r" "$1"); out+="${out:+ | }${v:-n/a}${v:+${2:-}}"; done
  echo "$out"
}
# each2 / each3 KEY... [UNIT]: several values per round, "a / b" or "a / b / c" in each cell.
each2() {
  local r out=""
  for r in "${h264_rounds[@]}"; do out+="${out:+ | }$(val "$r" "$1") / $(val "$r" "$2" "${3:-}")"; done
  echo "$out"
}
each3() {
  local r out=""
  for r in "${h264_rounds[@]}"; do out+="${out:+ | }$(val "$r" "$1") / $(val "$r" "$2") / $(val "$r" "$3")"; done
  echo "$out"
}
# rounds_verdict KEY COND: COND (awk, on v) in every H.264 round: "met", or "**missed** in k of n rounds".
rounds_verdict() {
  local r v runs=0 ok=0
  for r in "${h264_rounds[@]}"; do
    v=$(field "$r" "$1")
    [[ -n $v ]] || continue
    runs=$((runs + 1))
    if awk -v v="$v" "BEGIN { exit !($2) }"; then ok=$((ok + 1)); fi
  done
  if [[ $runs -eq 0 ]]; then echo "n/a"; elif [[ $ok -eq $runs ]]; then echo "met";
  else echo "**missed** in $((runs - ok)) of $runs rounds"; fi
}
# val ROUND KEY [UNIT]: one value, n/a when missing.
val() { local v; v=$(field "$1" "$2"); echo "${v:-n/a}${v:+${3:-}}"; }

v_ttff=$(rounds_verdict warm_first_frame_p50_ms "v <= 700")
v_lat=$(rounds_verdict one_display_p50_ms "v <= 50")
v_cpu1=$(rounds_verdict one_stream_cpu_per_viewer_pct "v <= 30")
v_cpu4=$(rounds_verdict multi_stream_cpu_per_viewer_pct "v <= 30")
v_fps4=$(rounds_verdict multi_fps_min "v >= 28")
chromium_version=$(field h264_1 chromium)

{
  cat <<EOF
## sparc-stream

Generated by \`bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); \`bench/run.sh --only stream\` reruns this
section alone (about two minutes). Each round starts a fresh \`sparc-signal\` (public mode over WebSocket, serving
\`web/\`), a fresh \`sparc-stream\` (1280x720 at 30 fps, 2,500 kbit/s, \`--frame-counter\`, \`--ice-bind 127.0.0.1\`,
no conversation backend) and Debian's Chromium ${chromium_version:-?} headless with the flags of the end-to-end suites
(software decoding and compositing, \`--disable-gpu\`), driven by \`bench/stream_bench.mjs\` through playwright-core.
Everything runs on this machine's $(nproc) cores at once, on loopback; the targets are stated for that setup. Two
H.264 (x264) rounds measure every target; one VP8 round measures one viewer. "% of a core": 100 % is one core
(the machine has $(($(nproc) * 100)) %); sparc-stream's CPU is its own utime+stime from \`/proc\`, including rendering.

### Results

| Figure (H.264, 720p30) | round 1 | round 2 | Target | |
|---|---|---|---|---|
| Time to first frame, fresh page, warm renderer, p50 of $stream_warm_pages pages | $(each warm_first_frame_p50_ms " ms") | ≤ 700 ms p50 | $v_ttff |
| … each page, navigation → first frame presented, ms | $(each warm_first_frame_each_ms) | — | |
| Time to first frame, first viewer of a fresh renderer process | $(each cold_first_frame_ms " ms") | — (reported apart) | |
| Time to first frame of viewers 2, 3, 4 while the others stream, ms | $(each join_first_frame_each_ms) | — | |
| Render→displayed p50, 1 viewer | $(each one_display_p50_ms " ms") | ≤ 50 ms | $v_lat |
| Render→displayed p90 / p99 / max, 1 viewer, ms | $(each3 one_display_p90_ms one_display_p99_ms one_display_max_ms) | — | |
| Render→received p50 / p90 / p99, 1 viewer, ms | $(each3 one_receive_p50_ms one_receive_p90_ms one_receive_p99_ms) | — | |
| sparc-stream CPU per viewer, 1 viewer | $(each one_stream_cpu_per_viewer_pct " %") | ≤ 30 % of a core | $v_cpu1 |
| sparc-stream CPU per viewer, 4 viewers | $(each multi_stream_cpu_per_viewer_pct " %") | ≤ 30 % of a core | $v_cpu4 |
| fps, 4 viewers at once, lowest of the four | $(each multi_fps_min) | ≥ 28 each | $v_fps4 |
| … fps of each viewer (framesDecoded over ${stream_seconds} s) | $(each multi_fps_each) | — | |
| Render→displayed p50 / p90 / p99, 4 viewers (first viewer), ms | $(each3 multi_display_p50_ms multi_display_p90_ms multi_display_p99_ms) | — | |
| Render→received p50 / p90 / p99, 4 viewers (first viewer), ms | $(each3 multi_receive_p50_ms multi_receive_p90_ms multi_receive_p99_ms) | — | |
| Chromium CPU (whole process tree), 1 viewer / 4 viewers | $(each2 one_chromium_cpu_pct multi_chromium_cpu_pct " %") | — | |

VP8 (libvpx, \`deadline=1\`), one viewer, one round: $(val vp8 one_fps_each) fps, sparc-stream $(val vp8 one_stream_cpu_pct " %")
of a core, render→displayed p50 / p90 / p99 $(val vp8 one_display_p50_ms) / $(val vp8 one_display_p90_ms) / $(val vp8 one_display_p99_ms " ms"),
render→received p50 $(val vp8 one_receive_p50_ms " ms"), time to first frame $(val vp8 cold_first_frame_ms " ms") for the first
viewer and $(val vp8 warm_first_frame_each_ms " ms") for the next pages, $(val vp8 one_kbps_each " kbit/s") received.

Each measuring window, ${stream_seconds} s (CPU in % of a core; "other" is the machine's busy time minus sparc-stream,
Chromium, sparc-signal and the node driver, so it includes interrupt handling):

| Round, window | fps each (decoded / presented) | sparc-stream | per viewer | sparc-stream by thread | Chromium | other | whole machine |
|---|---|---|---|---|---|---|---|
EOF
  for r in "${h264_rounds[@]}" vp8; do
    for w in one multi; do
      [[ -n $(field "$r" "${w}_stream_cpu_pct") ]] || continue
      n=1
      [[ $w == multi ]] && n=$(field "$r" multi_viewers)
      echo "| $r, $n viewer$([[ $n == 1 ]] || echo s) | $(field "$r" "${w}_fps_each") / $(field "$r" "${w}_presented_fps_each") | $(field "$r" "${w}_stream_cpu_pct") % | $(field "$r" "${w}_stream_cpu_per_viewer_pct") % | $(field "$r" "${w}_stream_threads_pct") | $(field "$r" "${w}_chromium_cpu_pct") % | $(field "$r" "${w}_other_cpu_pct") % | $(field "$r" "${w}_machine_cpu_pct") % |"
    done
  done
  cat <<EOF

Other processes used $before_pct % of a core in the second before the runs started.$(for x in "${retries[@]}"; do printf ' %s.' "$x"; done)
Figures taken while "other" is more than a few percent are disturbed.

### What was measured

* **Time to first frame**: each page is a new browser context (empty cache, its own renderer process), opened
  with \`page.goto\` on the viewer page; the figure is \`metadata.expectedDisplayTime\` of the first
  \`requestVideoFrameCallback\` on \`#video\`, which counts from the navigation start (\`performance.timeOrigin\`).
  A probe installed before the page's scripts also keeps the times of its \`[sparc]\` log lines and banner
  states, which give the breakdown below. The first viewer of each renderer process is reported separately; then
  $stream_warm_pages fresh pages are timed one after another, each closed (and dropped by the renderer) before
  the next. A throwaway page opens first, so Chromium's own start-up is not in the figures.
* **Render→displayed**: \`sparc-stream --frame-counter\` stamps each frame with the wall-clock time (ms, low 32
  bits) taken just after the avatar is drawn, before \`videoconvert\` and the encoder. In
  \`requestVideoFrameCallback(now, metadata)\` the page draws the stamp's corner of the video (37c × 3c pixels,
  c = 10 at 720p) at its intrinsic size into a canvas, decodes the stamp (layout in \`src/stream/avatar.hpp\`; a frame
  whose marker or border does not read right counts as unreadable) and takes (\`performance.timeOrigin\` +
  \`metadata.expectedDisplayTime\`) − stamp, modulo 2^32; render→received uses \`metadata.receiveTime\` the same
  way. Both clocks are this machine's wall clock; the stamp is truncated to whole ms, so figures read up to 1 ms
  high. With 4 viewers only the first page decodes, so the readback does not load the others.
  A callback that runs late can find a newer frame in the element than the one its metadata describes; such a
  sample is left out. It is recognised by \`metadata.rtpTimestamp\`: the stamp minus the RTP time (both taken
  at the same push) is the same for every frame to within a few ms, and half a frame period or more off the
  median for a frame that does not match. Frames read, rounds 1 / 2: $(both one_frames_sampled) with 1 viewer,
  $(both multi_frames_sampled) with 4 (the page's callbacks run less often than 30 times a second there); unreadable
  $(both one_frames_unreadable) and $(both multi_frames_unreadable); left out as not matching $(both one_frames_mismatched) and
  $(both multi_frames_mismatched).
* **fps**: \`inbound-rtp\` \`framesDecoded\` of each page's RTCPeerConnection at both ends of the window, over
  its wall time; "presented" is \`metadata.presentedFrames\` over the same window.
* **CPU**: utime+stime from \`/proc/PID/stat\` (sparc-stream's pid from its ready file; Chromium: every process
  under the node driver except the two servers) and \`/proc/stat\` for the machine, over the same window. The
  per-thread split reads \`/proc/PID/task/*/stat\`; digits in thread names are folded into \`#\`, and threads
  started by a GStreamer thread (x264's) inherit its name.
* **Windows**: 2 s after the last page connected (rate control and jitter buffers settle), then ${stream_seconds} s with 1
  viewer (the last timed page), then 3 more pages and ${stream_seconds} s with 4.

### Analysis

EOF

  # ---- time to first frame ----
  cat <<EOF
Where two figures are given as a / b, they are rounds 1 and 2.

**Time to first frame** (p50 $(both warm_first_frame_p50_ms " ms") on a warm renderer). Medians of each step of the
warm pages, ms after navigation: page \`load\` $(both warm_load_p50_ms), signaling open
$(both warm_signaling_open_p50_ms), offer sent $(both warm_offer_p50_ms), answer received $(both warm_answer_p50_ms),
connected $(both warm_connected_p50_ms), first frame received $(both warm_first_receive_p50_ms), first frame
presented $(both warm_first_frame_p50_ms). The largest step is offer → answer, which is all in the renderer (the
signaling relay takes well under a millisecond, see the sparc-signal section): about $(for r in "${h264_rounds[@]}"; do
  awk -v a="$(field "$r" warm_answer_p50_ms)" -v o="$(field "$r" warm_offer_p50_ms)" 'BEGIN { if (a != "" && o != "") printf "%d", a - o; else printf "n/a" }'
  [[ $r == "${h264_rounds[-1]}" ]] || printf ' / '; done) ms for a warm renderer (difference of the medians), and
$(both cold_offer_to_answer_ms " ms") for the first viewer of a process. Viewers that join while others stream took
$(both join_first_frame_each_ms " ms") to their first frame: the new viewer's set-up competes for the event loop and the
cores with the running streams. See "Where the time goes" below.
EOF
  if [[ $v_ttff == "**missed**"* ]]; then
    echo
    echo "The target was missed: p50 $(both warm_first_frame_p50_ms " ms") against 700 ms."
  fi

  # ---- latency ----
  cat <<EOF

**Render→displayed** (p50 $(both one_display_p50_ms " ms"), one viewer). Render→received is p50
$(both one_receive_p50_ms " ms"): \`videoconvert\`, x264, RTP, SRTP and loopback UDP up to the frame's last packet.
After receipt come Chromium's jitter buffer (mean $(both one_jitter_buffer_ms_each " ms") per frame), decoding
($(both one_decode_ms_each " ms") per frame) and the compositor: headless Chromium paces it with a synthetic 60 Hz
BeginFrame, so a decoded frame waits for the next BeginFrame and is expected on screen one frame interval later.
That part comes in steps of 16.7 ms: which step a frame lands on depends on the phase of the renderer's 30 Hz
timer against the BeginFrame, and that phase drifts, so a round's samples sit on one or two steps (compare p50
and p90 of each round) and the p50 moves by a step or two between rounds. \`metadata.expectedDisplayTime\` is
the compositor's estimate for a display that does not exist here; render→received is the stable measure of
the renderer's side.
Receipt to display (p50 minus p50) took $(for r in "${h264_rounds[@]}"; do awk -v d="$(field "$r" one_display_p50_ms)" \
  -v x="$(field "$r" one_receive_p50_ms)" 'BEGIN { if (d != "" && x != "") printf "%.1f of %.1f ms", d - x, d; else printf "n/a" }'
  [[ $r == "${h264_rounds[-1]}" ]] || printf ' / '; done).$(for r in "${h264_rounds[@]}"; do field "$r" one_display_p50_ms; done |
  awk '{ if ($1 > m) m = $1 } END { if (m > 50 - 16.7 && m <= 50) printf " A p50 of %s ms is within one compositor step of the target: the target is met on this measure, with a wide margin on render→received, but a phase one step later would miss it.", m }')
With 4 viewers the machine was busy ($(both multi_machine_cpu_pct " %") of $(($(nproc) * 100)) %), and render→received rose to p50
$(both multi_receive_p50_ms " ms"), p99 $(both multi_receive_p99_ms " ms"): frames wait for a core at each stage.
EOF
  if [[ $v_lat == "**missed**"* ]]; then
    echo
    echo "The target was missed: p50 $(both one_display_p50_ms " ms") against 50 ms."
  fi

  # ---- CPU ----
  cat <<EOF

**CPU per viewer** ($(both one_stream_cpu_per_viewer_pct " %") with one viewer, $(both multi_stream_cpu_per_viewer_pct " %") each with four).
By thread, one viewer: $(field h264_1 one_stream_threads_pct) (first round, % of a core). \`queue#:src\` is the
encoding thread after the queue: x264 (its own threads inherit the name), RTP payloading and webrtcbin's send
path (SRTP, libnice). \`video:src\` is the appsrc's streaming thread: \`videoconvert\` BGRx → I420 and the caption
\`textoverlay\`. \`sparc-stream\` is the event loop, which renders every viewer's frames ($(both one_render_ms_per_frame " ms") per 720p frame by
the renderer's own metrics, with one viewer; $(both multi_render_ms_per_frame " ms") with four, wall time on a busy
machine). \`audio:src\` encodes Opus (silence, here) every 20 ms. Chromium, decoding and compositing in software,
used $(both one_chromium_cpu_pct " %") for one viewer, including the page's per-frame canvas readback of the stamp.
EOF
  if [[ $v_cpu1 == "**missed**"* || $v_cpu4 == "**missed**"* ]]; then
    echo
    echo "The target was missed: $(both one_stream_cpu_per_viewer_pct " %") (1 viewer) and $(both multi_stream_cpu_per_viewer_pct " %") (4 viewers) against 30 %."
  fi

  # ---- four viewers ----
  cat <<EOF

**Four viewers** (lowest fps $(both multi_fps_min)). sparc-stream used $(both multi_stream_cpu_pct " %") and Chromium $(both multi_chromium_cpu_pct " %") of a
core; the whole machine was at $(both multi_machine_cpu_pct " %") of its $(($(nproc) * 100)) %. Here the browser that watches costs as much
as the renderer; a renderer on its own machine (the production setup) would have the cores to itself.
EOF
  if [[ $v_fps4 == "**missed**"* ]]; then
    echo
    echo "The target was missed: the slowest viewer got $(both multi_fps_min) fps against 28."
  fi

  cat <<'EOF'

### Where the time goes (measured by hand, 2026-11-29)

* **A new viewer costs about 180 ms of the event loop before its answer.** The offer arrives and the renderer
  constructs the viewer, whose `avatar_renderer` pre-renders the 1280x720 backdrop and 16 sub-pixel copies of
  the head: 178 ms per construction in a tight loop on this machine (a small program linking
  `libsparc_stream_core.a`, release build), against 2.7 ms to render a frame afterwards. It runs on the single
  event-loop thread, so it delays the answer (in the renderer's info log, the offer was relayed about 250 ms
  before `viewer_joined`, which is logged after the construction, and ICE `connecting` followed 15 ms later) and
  stalls the frames of every other viewer for that long. The backdrop and heads depend only on the frame size and the persona, so they could be
  built once per process (or at start-up) and shared.
* **The first viewer of a process** waits longer still (offer → answer in the analysis above): its pipeline
  generates the DTLS certificate (once per process, in GStreamer's dtls elements) and pays the other one-time
  initialisation of the first pipeline. In one run with the info log, `viewer_joined` → ICE `connecting` took
  165 ms for the first viewer against 15 ms for later ones.
* **Per-frame work at 720p** (the thread split above). Alone in `gst-launch-1.0` on 600 frames of 720p BGRx
  SMPTE bars, CPU time over a source-only pipeline: `videoconvert` to I420 1.7 ms a frame (5 % of a core at
  30 fps), `textoverlay` with no caption 0.2 ms, x264 ultrafast/zerolatency at 2,500 kbit/s 2.3 ms (7 %). So the
  `video:src` share is nearly all `videoconvert`, and `queue#:src` is x264 plus 4–5 % for RTP, SRTP and
  sending. Rendering straight into I420 (or with several conversion threads) would take most of `video:src`
  away. Opus-encoding silence costs about 3 % of a core per viewer; `opusenc dtx=true`, or not pushing audio
  between replies, would save most of it.
EOF

  if [[ -s $work/stream.log ]] && grep -q '^[0-9T:.-]*Z \(warning\|error\|critical\)' "$work/stream.log"; then
    echo
    echo "**sparc-stream's log (warn and above) during the runs**, $(grep -c '^[0-9T:.-]*Z \(warning\|error\|critical\)' "$work/stream.log") lines; the first ones:"
    echo
    echo '```'
    grep '^[0-9T:.-]*Z \(warning\|error\|critical\)' "$work/stream.log" | head -n 10 | cut -c1-300
    echo '```'
    if grep -q 'pipeline_error error=sctpenc[0-9]*: Could not write to resource' "$work/stream.log"; then
      echo
      echo "The \`sctpenc… Could not write to resource\` errors came when a page was closed (between the timed pages"
      echo "and after each round), most likely because the page tears down the SCTP association before the signaling"
      echo "server's disconnect reaches the renderer. The renderer marks the viewer failed and drops it; the"
      echo "measurements are not affected."
    fi
  fi

  for r in "${h264_rounds[@]}" vp8; do
    if [[ $(field "$r" ok) != true ]]; then
      echo
      echo "**Round $r did not complete cleanly:** $(field "$r" error)"
    fi
  done

  cat <<EOF

### Server stops (SIGTERM)

EOF
  for r in "${h264_rounds[@]}" vp8; do
    echo "* $r: sparc-stream $(val "$r" stream_stop), sparc-signal $(val "$r" signal_stop)"
  done

  cat <<EOF

### Commands

\`bench/run.sh\` (or \`bench/run.sh --only stream\`) runs, after
\`cmake --preset release && cmake --build build/release --target sparc-signal sparc-stream\`:

\`\`\`
EOF
  for c in "${commands[@]}"; do echo "$c"; done
  cat <<EOF
\`\`\`

which start, per round (TMP is a fresh temporary directory, PORT the signaling server's port from its ready file;
\`--codec\` as given to the round):

\`\`\`
$(field h264_1 signal_command | sed "s#$root/##")
$(field h264_1 stream_command)
$(echo "${SPARC_CHROMIUM:-/usr/bin/chromium}") (playwright-core, headless) with the flags ARGS in tests/e2e/lib.mjs
\`\`\`

### Raw results

\`\`\`
EOF
  for r in "${h264_rounds[@]}" vp8; do
    # The commands are listed above; the raw line without them.
    if [[ -n ${results[$r]:-} ]]; then sed -E 's/"(signal|stream)_command":"[^"]*",//g' <<<"${results[$r]}";
    else echo "$r: no result"; fi
  done
  cat <<EOF
\`\`\`

### Machine

EOF
  machine_info
} >"$work/stream.md"
