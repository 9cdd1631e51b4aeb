# shellcheck shell=bash
# shellcheck disable=SC2154  # test_name, budget, budget_var: set by the sourcing script
# Sourced by the system tests that run podman (podman_test.sh, apptainer_test.sh): progress lines, failure and
# skip, one deadline for the whole run, podman's configuration and the local base image both share.
# Before sourcing, set: test_name (e.g. podman_test), budget (the whole run in seconds), budget_var (the variable
# that sets it, for the message when time runs out).

t0=$SECONDS
deadline=$((t0 + budget))
say() { printf '[%s %3d s] %s\n' "${test_name//_/-}" "$((SECONDS - t0))" "$*" >&2; }
fail() {
  printf '%s: FAIL: %s\n' "$test_name" "$*" >&2
  exit 1
}
skip() {
  printf 'SKIP: %s\n' "$*"
  exit 0
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# within SECONDS CMD...: runs CMD with at most SECONDS, and never past the whole run's deadline.
within() {
  local cap=$1 left=$((deadline - SECONDS))
  shift
  ((left > 0)) || fail "out of time ($budget_var=$budget) before: $*"
  ((cap < left)) || cap=$left
  local status=0
  timeout --kill-after=10 "$cap" "$@" || status=$?
  if ((status == 124 || status == 137)); then
    printf '%s: timed out after %d s: %s\n' "$test_name" "$cap" "$*" >&2
  fi
  return "$status"
}

# ensure_podman_config: /etc/containers/containers.conf with runc, cgroupfs, file events and explicit ulimits (the
# machine recipes, section 1.2), or a drop-in beside someone else's file; then checks podman uses them.
ensure_podman_config() {
  # The hard limits root cannot raise here (no CAP_SYS_RESOURCE): podman's own defaults (nofile 1048576) exceed them.
  local nofile=20000 nproc=32768 hn hu
  hn=$(ulimit -Hn)
  hu=$(ulimit -Hu)
  [[ $hn == unlimited ]] || ((hn >= nofile)) || nofile=$hn
  [[ $hu == unlimited ]] || ((hu >= nproc)) || nproc=$hu
  local recipe="[containers]
default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]
[engine]
runtime = \"runc\"
cgroup_manager = \"cgroupfs\"
events_logger = \"file\""
  local conf=/etc/containers/containers.conf
  local dropin=/etc/containers/containers.conf.d/90-sparc-podman-test.conf
  if [[ ! -e $conf ]]; then
    mkdir -p /etc/containers
    printf '%s\n' "# Written by tests/system/$test_name.sh (runc: crun refuses hybrid cgroups; ulimits within the" \
      "# hard limits root has here)." "$recipe" >"$conf"
    say "wrote $conf"
  elif grep -Eq '^[[:space:]]*runtime[[:space:]]*=[[:space:]]*"runc"' "$conf" &&
    grep -Eq '^[[:space:]]*cgroup_manager[[:space:]]*=[[:space:]]*"cgroupfs"' "$conf" &&
    grep -Eq '^[[:space:]]*events_logger[[:space:]]*=[[:space:]]*"file"' "$conf" &&
    grep -Eq '^[[:space:]]*default_ulimits[[:space:]]*=.*nofile=.*nproc=' "$conf"; then
    say "$conf has the needed settings"
  elif [[ -e $dropin ]]; then
    say "$conf lacks runc/cgroupfs/ulimits; $dropin supplies them"
  else
    # Someone else's file: leave it, and override just these settings with a drop-in (read after it).
    mkdir -p "$(dirname "$dropin")"
    printf '%s\n' "# Written by tests/system/$test_name.sh: $conf lacked these settings." "$recipe" >"$dropin"
    say "$conf lacks runc/cgroupfs/ulimits: wrote $dropin"
  fi
  local engine
  engine=$(podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}}' 2>&1) ||
    fail "podman info failed: $engine"
  [[ $engine == "runc cgroupfs" ]] || fail "podman uses '$engine', not 'runc cgroupfs': check /etc/containers"
}

# stage_packages CONTAINERFILE [STAGE...]: the `pkgs="..."` lists of those stages (all without STAGE; a NAME-rootfs
# stage counts as NAME), comma-separated and sorted: exactly what the runtime stages install. Continuation lines
# are joined first; awk reads to the end so that sed never writes into a closed pipe.
stage_packages() {
  local file=$1
  shift
  local want=" $* "
  sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$file" |
    awk -v want="$want" '
      /^FROM / { stage = $NF; sub(/-rootfs$/, "", stage) }
      (want == "  " || index(want, " " stage " ")) && /pkgs="/ { sub(/.*pkgs="/, ""); sub(/".*/, ""); print }' |
    tr -s ' \t' '\n' | sed '/^$/d' | sort -u | paste -sd, -
}

# make_base TAG PACKAGES SCRATCH_DIR: a local runtime base image (mmdebstrap bookworm minbase + PACKAGES,
# comma-separated), made once and reused by tag while its label lists the same packages, so image builds run with
# --pull=never --network=none.
make_base() {
  local tag=$1 pkgs=$2 scratch=$3 have started
  have=$(podman image inspect --format '{{index .Labels "sparc.base.packages"}}' "$tag" 2>/dev/null || true)
  if [[ $have == "$pkgs" ]]; then
    say "base $tag: present, reused"
    return
  fi
  say "base $tag: mmdebstrap bookworm minbase + ${pkgs//,/ }"
  started=$(now_ms)
  # force-unsafe-io: no fsync per file (the tree only becomes a tarball); it halves the time here.
  within 270 mmdebstrap --quiet --variant=minbase --dpkgopt=force-unsafe-io --include="$pkgs" \
    --format=tar bookworm "$scratch/base.tar" || fail "mmdebstrap failed for $tag"
  podman rmi -f "$tag" >/dev/null 2>&1 || true
  within 120 podman import --quiet --change "LABEL sparc.base.packages=$pkgs" --change 'CMD ["/bin/bash"]' \
    "$scratch/base.tar" "$tag" >/dev/null || fail "podman import of $tag failed"
  rm -f "$scratch/base.tar"
  say "base $tag: made in $((($(now_ms) - started) / 1000)) s"
}
