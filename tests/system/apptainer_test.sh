#!/usr/bin/env bash
# System test of the Apptainer artifacts `sparc render -t apptainer` writes, with a real Apptainer: sid's 1.4.x
# (bookworm has none, and sid's needs a newer libc) inside a privileged rootful podman container, run as a
# non-root user in fakeroot mode, with --unsquash at run time (the machine recipes, section 5.2):
#   1. podman's configuration: /etc/containers/containers.conf (runc, cgroupfs, explicit ulimits), written as
#      tests/system/podman_test.sh writes it when it lacks those settings;
#   2. a test spec rendered to containerfiles + apptainer, and the golden specs (tests/golden/specs/*.toml)
#      rendered to apptainer for the .def check of step 8;
#   3. the image localhost/apptainer-sid:latest (mmdebstrap sid minbase + apptainer, squashfs-tools, squashfuse,
#      fuse2fs, uidmap, curl, and a user tester, uid 1000), reused when present; its tarball is cached in
#      $SPARC_CACHE_DIR/apptainer-sid (default ~/.cache/sparc), so a removed image comes back without the mirror;
#   4. the base image localhost/sparc-base-runtime:bookworm, the one podman_test.sh makes (same tag, same package
#      label), reused while its package list is unchanged;
#   5. only the signal image (the smallest), built by the rendered containerfiles/build.sh --prebuilt signal from
#      the binaries in BIN_DIR;
#   6. the rendered apptainer/build-sifs.sh signal on the host, which has podman and no apptainer: it writes
#      archives/signal.tar (podman save --format docker-archive) and says apptainer is missing; then, in the
#      apptainer container as tester, the same script builds sif/signal.sif from that archive;
#   7. in that container: apptainer test; apptainer inspect (labels, runscript); apptainer run with the stack's
#      flags (/health 200 on the metrics port, /config on the signaling port, a clean stop on SIGTERM); instance
#      start (the %startscript) and stop; copies of signal.def with a bad section and a bad header keyword must be
#      refused;
#   8. every rendered .def (the test spec's and the golden specs') built with --sandbox --notest against a stand-in
#      archive (signal.tar under each image's name): it parses, its labels name its service, its %environment
#      exports reach the image; on the host, siftool reads signal.sif's descriptors and its stored .def;
#   9. on any exit, the container, the signal image and the work folder are removed; the base and apptainer-sid
#      images (and podman's pause image) stay.
#
# Usage: tests/system/apptainer_test.sh BIN_DIR     BIN_DIR: the release build's apps folder (build/release/apps)
# Environment:
#   SPARC_APPTAINER_BUDGET_S   the whole run's deadline in seconds (default 420: a cold run makes both images)
#   SPARC_APPTAINER_KEEP=1     leave the signal image and the work folder in place on failure (debugging)
#   SPARC_CACHE_DIR            where the apptainer-sid tarball is cached (default ~/.cache/sparc)
#   SPARC_DEBIAN_MIRROR        the mirror mmdebstrap reads sid from (default: the host's)
# Exit status: 0 pass (or "SKIP: reason" when podman cannot run here, i.e. not root), 1 failure, 2 usage.
set -euo pipefail

test_name=apptainer_test budget=${SPARC_APPTAINER_BUDGET_S:-420} budget_var=SPARC_APPTAINER_BUDGET_S
# shellcheck source=tests/system/podman_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/podman_lib.sh"

(($# == 1)) || {
  echo "usage: $0 BIN_DIR   (the release build's apps folder, e.g. build/release/apps)" >&2
  exit 2
}
[[ -d $1 ]] || fail "BIN_DIR $1 is not a folder"
bin_dir=$(cd "$1" && pwd)
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
sparc=$bin_dir/sparc/sparc
for b in sparc/sparc sparc-signal/sparc-signal; do
  [[ -x $bin_dir/$b ]] || fail "$bin_dir/$b is missing: cmake --build build/release --target sparc sparc-signal"
done

# ---- Can podman run here at all? ---------------------------------------------------------------------------------
[[ $(id -u) -eq 0 ]] ||
  skip "the apptainer route here is a privileged rootful podman container, which needs root"
missing=()
for tool in podman runc mmdebstrap siftool; do command -v "$tool" >/dev/null || missing+=("$tool"); done
((${#missing[@]} == 0)) ||
  fail "missing ${missing[*]}: install the 'system' group of scripts/packages.txt (scripts/test.sh does)"

# ---- Work folder, names, and the cleanup every exit runs ---------------------------------------------------------
stack=sparcapptest
signal_image=localhost/$stack-signal:ci
container=$stack-apptainer
apptainer_image=localhost/apptainer-sid:latest
base_image=localhost/sparc-base-runtime:bookworm
work=$(mktemp -d /tmp/sparc-apptainer-test.XXXXXX)
# The container's user (tester, uid 1000) writes the SIF, logs and test defs here.
chmod 0777 "$work"
out=$work/render

remove_ours() {
  podman rm -f -t 0 "$container" >/dev/null 2>&1 || true
  podman rmi -f "$signal_image" >/dev/null 2>&1 || true
}
on_exit() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  if ((status != 0)); then
    say "failed (exit $status)"
    if [[ ${SPARC_APPTAINER_KEEP:-0} == 1 ]]; then
      podman rm -f -t 0 "$container" >/dev/null 2>&1
      say "SPARC_APPTAINER_KEEP=1: leaving $signal_image and $work in place"
      exit "$status"
    fi
  fi
  remove_ours
  rm -rf "$work"
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- 1. podman's configuration (as podman_test.sh writes it) -----------------------------------------------------
ensure_podman_config
remove_ours  # leftovers of a run that was killed

# ---- 2. The test spec and the rendered artifacts -----------------------------------------------------------------
# Ports only matter inside the apptainer container, which has a network namespace of its own (--network=none:
# loopback only), so fixed ones cannot collide with anything on the host.
signal_port=18080 metrics_port=18888
spec=$work/sparc.toml
cat >"$spec" <<EOF
# The spec of tests/system/apptainer_test.sh: the signal image is built and made a SIF; the others only rendered.
[stack]
name = "$stack"
[signal]
port = $signal_port
metrics_port = $metrics_port
image = "$signal_image"
[mas]
image = "localhost/$stack-mas:ci"
[renderer]
image = "localhost/$stack-stream:ci"
EOF
lint=$("$sparc" -f "$spec" validate 2>&1) || fail "sparc validate rejected the test spec: $lint"
for target in containerfiles apptainer; do
  "$sparc" -f "$spec" render -t "$target" -o "$out" >/dev/null || fail "sparc render -t $target failed"
done
for f in containerfiles/build.sh containerfiles/Containerfile.prebuilt apptainer/build-sifs.sh \
  apptainer/signal.def apptainer/mas.def apptainer/stream.def; do
  [[ -s $out/$f ]] || fail "sparc render did not write $f"
done
golden_specs=("$repo_root"/tests/golden/specs/*.toml)
[[ -f ${golden_specs[0]} ]] || fail "no specs in $repo_root/tests/golden/specs"
for g in "${golden_specs[@]}"; do
  name=$(basename "$g" .toml)
  "$sparc" -f "$g" render -t apptainer -o "$work/golden/$name" >/dev/null ||
    fail "sparc render -t apptainer failed for the golden spec $name"
done
def_count=$(find "$out/apptainer" "$work/golden" -name '*.def' | wc -l)
say "rendered: the test spec (containerfiles, apptainer) and ${#golden_specs[@]} golden specs; $def_count .def files"

# ---- 3. The apptainer image: sid minbase + apptainer ---------------------------------------------------------------
sid_packages=apptainer,squashfs-tools,squashfuse,fuse2fs,uidmap,curl,ca-certificates
cache=${SPARC_CACHE_DIR:-${HOME:-/root}/.cache/sparc}/apptainer-sid
debian_mirror() {
  local mirror=${SPARC_DEBIAN_MIRROR:-}
  if [[ -z $mirror && -r /etc/apt/sources.list.d/debian.sources ]]; then
    mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [[ -z $mirror && -r /etc/apt/sources.list ]]; then
    mirror=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
      /etc/apt/sources.list)
  fi
  echo "${mirror:-http://deb.debian.org/debian}"
}
apptainer_works() {
  within 60 podman run --rm --network=none "$apptainer_image" su tester -c 'apptainer --version' 2>/dev/null
}
if podman image exists "$apptainer_image" && version=$(apptainer_works); then
  say "image $apptainer_image: present, reused ($version)"
else
  started=$(now_ms)
  podman rmi -f "$apptainer_image" >/dev/null 2>&1 || true
  if [[ -s $cache/apptainer-sid.tar && $(cat "$cache/packages" 2>/dev/null) == "$sid_packages" ]]; then
    say "image $apptainer_image: importing the cached $cache/apptainer-sid.tar"
  else
    mirror=$(debian_mirror)
    say "image $apptainer_image: mmdebstrap sid minbase + ${sid_packages//,/ } from $mirror"
    mkdir -p "$cache"
    rm -f "$cache/packages"
    # sid's Release file may be past Valid-Until on these machines' clocks. Apptainer reads /etc/hosts. The hooks'
    # $1 (the new root) is mmdebstrap's to expand.
    # shellcheck disable=SC2016
    within 300 mmdebstrap --quiet --variant=minbase --dpkgopt=force-unsafe-io \
      --aptopt='Acquire::Check-Valid-Until "false"' --include="$sid_packages" \
      --customize-hook='printf "127.0.0.1 localhost\n" > "$1/etc/hosts"' \
      --customize-hook='chroot "$1" useradd -m -u 1000 tester' \
      --format=tar sid "$cache/apptainer-sid.tar.partial" "$mirror" || fail "mmdebstrap of sid failed"
    mv -f "$cache/apptainer-sid.tar.partial" "$cache/apptainer-sid.tar"
    printf '%s\n' "$sid_packages" >"$cache/packages"
  fi
  within 120 podman import --quiet --change "LABEL sparc.apptainer.packages=$sid_packages" \
    "$cache/apptainer-sid.tar" "$apptainer_image" >/dev/null || fail "podman import of $apptainer_image failed"
  version=$(apptainer_works) || fail "apptainer does not run in $apptainer_image"
  say "image $apptainer_image: made in $((($(now_ms) - started) / 1000)) s ($version)"
fi

# ---- 4. The base image, shared with podman_test.sh ----------------------------------------------------------------
# Every `pkgs="..."` list of the rendered Containerfile.prebuilt: the same set, and so the same label, podman_test.sh
# gives the shared base.
packages=$(stage_packages "$out/containerfiles/Containerfile.prebuilt")
[[ -n $packages ]] || fail "found no pkgs=\"...\" lists in the rendered Containerfile.prebuilt"
make_base "$base_image" "$packages" "$work"

# ---- 5. The signal image, with the rendered build.sh --prebuilt ----------------------------------------------------
# build.sh runs in the build context (the repository root) and names the binaries by BIN_DIR relative to it; a
# BIN_DIR elsewhere gets a small staged context with the same layout (as in podman_test.sh).
build_root=$(cd "$bin_dir/.." && pwd)
rel=${build_root#"$repo_root"/}
if [[ $rel != "$build_root" && $rel == build/* && $rel != build/*/* ]]; then
  context=$repo_root
else
  context=$work/context
  rel=build/staged
  mkdir -p "$context"
  cp -a "$repo_root/data" "$repo_root/web" "$context/"
  install -D -m 0755 "$bin_dir/sparc-signal/sparc-signal" "$context/$rel/apps/sparc-signal/sparc-signal"
  say "BIN_DIR is outside $repo_root/build: building from a staged context"
fi
started=$(now_ms)
(cd "$context" && RUNTIME_IMAGE=$base_image BIN_DIR=$rel PODMAN_BUILD_OPTS="--pull=never --network=none --layers=false" \
  within 180 "$out/containerfiles/build.sh" --prebuilt signal) >"$work/build-signal.log" 2>&1 || {
  tail -n 40 "$work/build-signal.log" >&2
  fail "build.sh --prebuilt signal failed"
}
size=$(podman image inspect --format '{{.Size}}' "$signal_image") || fail "build.sh did not make $signal_image"
say "image $signal_image: $((size / 1000000)) MB, built in $(($(now_ms) - started)) ms"

# ---- 6a. build-sifs.sh on the host: the archive ---------------------------------------------------------------------
# A wrong name is a usage error; then the real run. Without apptainer here it stops after the archive, with exit 1
# and a message saying so (step 1 of the two-step route the script describes).
status=0
"$out/apptainer/build-sifs.sh" nosuchimage >"$work/build-sifs-usage.log" 2>&1 || status=$?
if ((status != 2)) || ! grep -q "unknown image 'nosuchimage'" "$work/build-sifs-usage.log"; then
  cat "$work/build-sifs-usage.log" >&2
  fail "build-sifs.sh nosuchimage: expected exit 2 and 'unknown image', got exit $status"
fi
status=0
started=$(now_ms)
within 120 "$out/apptainer/build-sifs.sh" signal >"$work/build-sifs-host.log" 2>&1 || status=$?
archive=$out/apptainer/archives/signal.tar
if ((status != 0)) && ! grep -q 'apptainer not found' "$work/build-sifs-host.log"; then
  cat "$work/build-sifs-host.log" >&2
  fail "build-sifs.sh signal on the host failed (exit $status)"
fi
[[ -s $archive ]] || fail "build-sifs.sh signal wrote no $archive"
[[ ! -e $out/apptainer/archives/mas.tar && ! -e $out/apptainer/archives/stream.tar ]] ||
  fail "build-sifs.sh signal saved more than the signal image"
say "host: build-sifs.sh signal saved $(basename "$archive") ($(($(stat -c %s "$archive") / 1000000)) MB) in" \
  "$(($(now_ms) - started)) ms; exit $status: $(tail -n 1 "$work/build-sifs-host.log")"

# ---- 6b, 7, 8. In the apptainer container, as tester ----------------------------------------------------------------
# The steps inside, as one script: one container start for all of them.
cat >"$work/inside.sh" <<'INSIDE'
#!/bin/bash
# Runs in localhost/apptainer-sid as tester (uid 1000), from tests/system/apptainer_test.sh; /data is its work folder.
set -euo pipefail
port=$1 metrics=$2
t0=$(date +%s%N)
step() { printf '[in container %6d ms] %s\n' "$((($(date +%s%N) - t0) / 1000000))" "$*"; }
fail() {
  printf 'in container: FAIL: %s\n' "$*"
  exit 1
}
show() { sed 's/^/    | /' "$@"; }
cd /data
step "$(apptainer --version), as $(id -un) (uid $(id -u))"

# 6b. The same build-sifs.sh: no podman here, so it builds from the archive the host step wrote. An unprivileged
# def-file build is a fakeroot build ("Implying --fakeroot because building from definition file unprivileged", at
# -v). APPTAINER_FAKEROOT=1 must not be set: apptainer's inner stages inherit it and fail with "/usr/bin/newuidmap
# must be owned by the root user to setup fakeroot ID mappings in an unprivileged installation".
SPARC_SIF_DIR=/data/sif render/apptainer/build-sifs.sh signal >build-sifs-in.log 2>&1 || {
  show build-sifs-in.log
  fail "build-sifs.sh signal failed in the container"
}
grep -q 'Running testscript' build-sifs-in.log || fail "the build did not run %test (no 'Running testscript')"
[[ -s sif/signal.sif ]] || fail "build-sifs.sh wrote no sif/signal.sif"
step "build-sifs.sh signal: sif/signal.sif, $(($(stat -c %s sif/signal.sif) / 1000)) kB (%test ran in the build)"

# 7. test, inspect.
apptainer test --unsquash sif/signal.sif >test.log 2>&1 || {
  show test.log
  fail "apptainer test failed"
}
step "apptainer test --unsquash sif/signal.sif: exit 0"
apptainer inspect --labels sif/signal.sif >labels.txt
for want in 'org.sparc.service: signal' 'org.sparc.program: sparc-signal' 'org.sparc.stack: sparcapptest' \
  'org.sparc.source-image: localhost/sparcapptest-signal:ci' 'org.sparc.gpu: false'; do
  grep -qxF "$want" labels.txt || {
    show labels.txt
    fail "apptainer inspect --labels lacks '$want'"
  }
done
step "apptainer inspect --labels: $(grep '^org.sparc' labels.txt | paste -sd' ' -)"
apptainer inspect --runscript sif/signal.sif >runscript.txt
grep -q 'exec sparc-signal "\$@"' runscript.txt || {
  show runscript.txt
  fail "the runscript does not exec sparc-signal"
}
step "apptainer inspect --runscript: $(grep exec runscript.txt | sed 's/^ *//')"

# probe URL: the body of a 200 answer within about 10 s, else fails.
probe() {
  local body
  for _ in $(seq 100); do
    body=$(curl -fsS -m 1 "$1" 2>/dev/null) && {
      printf '%s' "$body"
      return 0
    }
    sleep 0.1
  done
  return 1
}

# 7. run, with the stack's flags, stopped by SIGTERM.
apptainer run --unsquash sif/signal.sif --bind 127.0.0.1 --port "$port" --metrics-port "$metrics" >run.log 2>&1 &
pid=$!
health=$(probe "http://127.0.0.1:$metrics/health") || {
  show run.log
  fail "apptainer run: /health on :$metrics did not answer 200"
}
config=$(probe "http://127.0.0.1:$port/config") || {
  show run.log
  fail "apptainer run: /config on :$port did not answer 200"
}
[[ $config == *'"useWebSocket"'* ]] || fail "apptainer run: /config is not signal's: $config"
step "apptainer run: /health on :$metrics -> 200 $health; /config on :$port -> 200 $config"
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null && sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "apptainer run: still running 5 s after SIGTERM"
status=0
wait "$pid" || status=$?
if ((status != 0)) || ! grep -q '"event":"stopped"' run.log; then
  show run.log
  fail "apptainer run: exit $status after SIGTERM, or no 'stopped' event"
fi
step "apptainer run: stopped on SIGTERM, exit 0"

# 7. instance start runs the %startscript; stop sends SIGTERM (-t 2: apptainer's init lingers after the server
# has stopped, and is killed after that timeout).
instance=sparcapptest-signal
apptainer instance start --unsquash sif/signal.sif "$instance" --bind 127.0.0.1 --port $((port + 1)) \
  --metrics-port $((metrics + 1)) >instance.log 2>&1 || {
  show instance.log
  fail "apptainer instance start failed"
}
health=$(probe "http://127.0.0.1:$((metrics + 1))/health") || {
  show instance.log
  fail "apptainer instance: /health on :$((metrics + 1)) did not answer 200"
}
apptainer instance stop -t 2 "$instance" >>instance.log 2>&1 || {
  show instance.log
  fail "apptainer instance stop failed"
}
logs=$(cat ~/.apptainer/instances/logs/*/"$(id -un)/$instance".{out,err} 2>/dev/null || true)
grep -q '"event":"stopped"' <<<"$logs" || {
  printf '%s\n' "$logs" | show
  fail "apptainer instance: sparc-signal logged no 'stopped' event on instance stop"
}
step "apptainer instance start (%startscript): /health on :$((metrics + 1)) -> 200 $health; instance stop: stopped"

# 7. Malformed copies of signal.def are refused: the def check below is a real parser.
refused() {  # NAME SED-EXPRESSION EXPECTED-MESSAGE
  sed "$2" render/apptainer/signal.def >"bad-$1.def"
  ! cmp -s render/apptainer/signal.def "bad-$1.def" || fail "the sed for bad-$1.def changed nothing"
  local status=0
  (cd render/apptainer/archives && apptainer build --notest --sandbox "/tmp/bad-$1" "/data/bad-$1.def") \
    >"bad-$1.log" 2>&1 || status=$?
  if ((status == 0)) || ! grep -qF "$3" "bad-$1.log"; then
    show "bad-$1.log"
    fail "bad-$1.def: expected a refusal with '$3', got exit $status"
  fi
  step "bad-$1.def refused (exit $status): $(grep -m1 FATAL "bad-$1.log" | sed 's/^FATAL: *//; s#/data/##g')"
}
refused section 's/^%test$/%bogussection/' 'invalid section(s) specified: bogussection'
refused header 's/^Bootstrap:/Bootstrapp:/' 'invalid header keyword found: bootstrapp'

# 8. Every rendered .def: built as a sandbox, without %test, against signal.tar under the def's image name.
mkdir -p /tmp/stand
checked=()
n=0
for def in render/apptainer/*.def golden/*/apptainer/*.def; do
  name=$(basename "$def" .def)
  n=$((n + 1))
  ln -sf /data/render/apptainer/archives/signal.tar "/tmp/stand/$name.tar"
  sandbox=/tmp/sandbox-$n
  (cd /tmp/stand && apptainer build --notest --sandbox "$sandbox" "/data/$def") >"def-$n.log" 2>&1 || {
    show "def-$n.log"
    fail "$def: apptainer build --sandbox --notest failed"
  }
  # Into a variable first: grep -q on a pipe would stop reading early, and pipefail counts inspect's SIGPIPE.
  labels=$(apptainer inspect --labels "$sandbox")
  grep -qxF "org.sparc.service: $name" <<<"$labels" ||
    fail "$def: the image's labels do not say org.sparc.service: $name: $labels"
  env=$(apptainer inspect --environment "$sandbox")
  while read -r line; do
    grep -qF -- "$line" <<<"$env" || fail "$def: '$line' of %environment is not in the image"
  done < <(sed -n '/^%environment/,/^%/{/^ *export /{s/^ *//;p}}' "$def")
  checked+=("${def#render/}")
done
((n > 0)) || fail "no .def files to check"
step "$n .def files built (--sandbox --notest, stand-in archive), labels and %environment checked: ${checked[*]}"
INSIDE
chmod 0755 "$work/inside.sh"

say "container: $apptainer_image as tester: build-sifs.sh signal, test, inspect, run, instance, bad defs, all defs"
started=$(now_ms)
status=0
within 240 podman run --rm --name "$container" --privileged --network=none -v "$work:/data" -w /data \
  "$apptainer_image" su tester -c "bash /data/inside.sh $signal_port $metrics_port" >"$work/inside.log" 2>&1 ||
  status=$?
sed 's/^/    /' "$work/inside.log" >&2
((status == 0)) || fail "the steps in the apptainer container failed (exit $status)"
say "container: all steps passed in $(($(now_ms) - started)) ms"

# ---- 8. siftool, on the host, reads the SIF apptainer made ----------------------------------------------------------
sif=$work/sif/signal.sif
list=$(siftool list "$sif") || fail "siftool list $sif failed"
if ! grep -q 'Def.FILE' <<<"$list" || ! grep -qF 'FS (Squashfs/*System/amd64)' <<<"$list"; then
  printf '%s\n' "$list" >&2
  fail "siftool list: signal.sif lacks a Def.FILE or a Squashfs system partition"
fi
def_id=$(awk -F'|' '$5 ~ /Def.FILE/ {gsub(/ /, "", $1); print $1; exit}' <<<"$list")
# Apptainer stores the def without the comment lines above the header.
siftool dump "$def_id" "$sif" | diff - <(awk 'f || !/^#/ {f = 1; print}' "$out/apptainer/signal.def") >&2 ||
  fail "the .def stored in signal.sif differs from the rendered signal.def"
say "siftool list: $(awk -F'|' 'NR > 3 {gsub(/^ +| +$/, "", $5); print $5}' <<<"$list" | paste -sd, -);" \
  "the stored .def is the rendered one"

remove_ours
left=$(podman ps -a --filter "name=^$stack-" --format '{{.Names}}')
[[ -z $left ]] || fail "containers left behind: $left"
! podman image exists "$signal_image" || fail "$signal_image is still there"
say "PASS in $((SECONDS - t0)) s: signal image $((size / 1000000)) MB -> signal.sif $(($(stat -c %s "$sif") / 1000)) kB;" \
  "$def_count .def files checked"
