#!/usr/bin/env bash
# quadlet_test.sh BIN_DIR: the Quadlet units `sparc render -t quadlet` writes for the three golden specs
# (tests/golden/specs/*.toml), checked by the tools that will read them on a GPU VM.
#
# For every spec, both flavours:
#   - rootful: QUADLET_UNIT_DIRS=DIR quadlet -dryrun        must exit 0, warn about nothing, and generate one
#   - rootless: QUADLET_UNIT_DIRS=DIR quadlet -user -dryrun   .service per .container / .pod;
#   - the generated services pass `systemd-analyze [--user] verify` with no output at all (unknown keys only warn,
#     with exit 0, so any output fails).
#
# Debian 12's podman (4.3) has no Quadlet, so the `quadlet` binary (it links only libc) and podman's own systemd
# units are taken from Debian trixie's podman .deb with a private apt configuration: nothing on the system
# changes. They are cached in $SPARC_CACHE_DIR/podman-trixie (default ~/.cache/sparc), so reruns do not touch the
# network. SPARC_QUADLET=/path/to/quadlet uses that binary instead (e.g. /usr/libexec/podman/quadlet on a host with
# podman >= 5); SPARC_DEBIAN_MIRROR overrides the mirror (default: the host's).
#
# Exit 0: passed. Non-zero: failed, with the tool's output on stderr.
set -euo pipefail

say() { printf '[quadlet_test %3ds] %s\n' "$SECONDS" "$*" >&2; }
die() {
  say "FAIL: $*"
  exit 1
}

[[ $# -eq 1 ]] || {
  echo "usage: $0 BIN_DIR   (e.g. build/release/apps)" >&2
  exit 2
}
BIN_DIR=$(cd "$1" 2>/dev/null && pwd) || die "BIN_DIR $1 is not a folder"
SPARC="$BIN_DIR/sparc/sparc"
[[ -x $SPARC ]] || die "$SPARC is missing: build the release preset first"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SPECS=("$REPO"/tests/golden/specs/*.toml)
[[ -f ${SPECS[0]} ]] || die "no specs in $REPO/tests/golden/specs"
for tool in systemd-analyze apt-get dpkg-deb awk; do
  command -v "$tool" >/dev/null || die "$tool not found: install scripts/packages.txt's system group"
done

W=$(mktemp -d /tmp/sparc-quadlet-test.XXXXXX)
finish() {
  local status=$?
  rm -rf "$W"
  if ((status == 0)); then say "PASS (${SECONDS} s)"; else say "FAILED (exit $status, ${SECONDS} s)"; fi
  exit "$status"
}
trap finish EXIT

# --- the quadlet binary and podman's units, from trixie's podman .deb (cached) -------------------------------------
CACHE=${SPARC_CACHE_DIR:-${HOME:-/root}/.cache/sparc}/podman-trixie
fetch_podman() {
  local mirror apt=$W/apt tree=$W/tree deb
  mirror=${SPARC_DEBIAN_MIRROR:-}
  if [[ -z $mirror && -r /etc/apt/sources.list.d/debian.sources ]]; then
    mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [[ -z $mirror && -r /etc/apt/sources.list ]]; then
    mirror=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
      /etc/apt/sources.list)
  fi
  mirror=${mirror:-http://deb.debian.org/debian}
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [[ -r $keyring ]] || die "no $keyring (package debian-archive-keyring)"
  mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/etc/parts" "$tree"
  : >"$apt/status"
  echo "deb [signed-by=$keyring] $mirror trixie main" >"$apt/etc/sources.list"
  # A private apt: its own sources, lists, cache and status; trixie's Release file may be past Valid-Until on
  # these machines' clocks. The system's apt configuration and state stay as they are.
  local o=(-o "Dir::State=$apt" -o "Dir::State::status=$apt/status" -o "Dir::Cache=$apt"
    -o "Dir::Etc::SourceList=$apt/etc/sources.list" -o "Dir::Etc::SourceParts=$apt/etc/parts"
    -o "Dir::Etc::PreferencesParts=$apt/etc/parts" -o "Acquire::Check-Valid-Until=false"
    -o "APT::Get::List-Cleanup=false" -o "APT::Sandbox::User=root")
  say "fetching podman from $mirror trixie (private apt state in $apt)"
  apt-get "${o[@]}" -qq update >"$W/apt.log" 2>&1 || {
    cat "$W/apt.log" >&2
    die "apt-get update of trixie's index failed"
  }
  (cd "$W" && apt-get "${o[@]}" -qq download podman) >>"$W/apt.log" 2>&1 || {
    cat "$W/apt.log" >&2
    die "apt-get download podman (trixie) failed"
  }
  deb=$(ls "$W"/podman_*.deb)
  dpkg-deb -x "$deb" "$tree"
  [[ -x $tree/usr/libexec/podman/quadlet ]] || die "$(basename "$deb") has no usr/libexec/podman/quadlet"
  mkdir -p "$(dirname "$CACHE")"
  rm -rf "$CACHE.new"
  mkdir -p "$CACHE.new/units"
  cp "$tree/usr/libexec/podman/quadlet" "$CACHE.new/quadlet"
  cp -r "$tree/usr/lib/systemd/system" "$CACHE.new/units/system"
  cp -r "$tree/usr/lib/systemd/user" "$CACHE.new/units/user"
  basename "$deb" >"$CACHE.new/source"
  rm -rf "$CACHE"
  mv "$CACHE.new" "$CACHE"
}
if [[ -n ${SPARC_QUADLET:-} ]]; then
  QUADLET=$SPARC_QUADLET
  PODMAN_UNITS=${SPARC_PODMAN_UNITS:-/usr/lib/systemd}
  SOURCE="SPARC_QUADLET"
else
  if ! [[ -x $CACHE/quadlet && -f $CACHE/source ]] || ! "$CACHE/quadlet" -version >/dev/null 2>&1; then fetch_podman; fi
  QUADLET=$CACHE/quadlet
  PODMAN_UNITS=$CACHE/units
  SOURCE="$(cat "$CACHE/source"), cached in $CACHE"
fi
VERSION=$("$QUADLET" -version 2>&1) || die "$QUADLET does not run: $VERSION"
say "$VERSION ($QUADLET: $SOURCE)"

# Generated units run /usr/bin/podman. Without podman installed, systemd-analyze reports exactly that, and nothing
# else may be reported.
PODMAN_MISSING=
[[ -x /usr/bin/podman ]] || {
  PODMAN_MISSING=1
  say "note: no /usr/bin/podman here: 'Command /usr/bin/podman is not executable' is the one finding allowed"
}
mkdir -m 0700 "$W/xdg"

# verify_units MODE DIR NAMES...: systemd-analyze verify (MODE system|user) with DIR first in the unit path.
verify_units() {
  local mode=$1 dir=$2 out rc=0 unexpected
  shift 2
  local args=(verify)
  [[ $mode == user ]] && args=(--user verify)
  # From /, so no unit in the working folder is picked up; DIR: holds the units and podman's own (the rootless
  # units want podman-user-wait-network-online.service).
  out=$(cd / && SYSTEMD_UNIT_PATH="$dir:" XDG_RUNTIME_DIR=$W/xdg systemd-analyze "${args[@]}" "$@" 2>&1) || rc=$?
  unexpected=$out
  if [[ -n $PODMAN_MISSING ]]; then
    unexpected=$(grep -vE '^[^ ]+\.service: Command /usr/bin/podman is not executable: No such file or directory$' \
      <<<"$out" || true)
  fi
  if [[ -n $unexpected || ($rc != 0 && -z $PODMAN_MISSING) || ($rc != 0 && -z $out) ]]; then
    printf '%s\n' "$out" >&2
    return 1
  fi
}

passed=()
for spec in "${SPECS[@]}"; do
  name=$(basename "$spec" .toml)
  out=$W/render/$name
  "$SPARC" -f "$spec" render -t quadlet -o "$out" >"$W/render-$name.log" 2>&1 || {
    cat "$W/render-$name.log" >&2
    die "$name: sparc render -t quadlet failed"
  }
  for flavour in rootful rootless; do
    src=$out/quadlet/$flavour
    [[ -d $src ]] || die "$name: render wrote no quadlet/$flavour/"
    user=() mode=system sub=system
    [[ $flavour == rootless ]] && user=(-user) mode=user sub=user
    gen=$W/gen-$name-$flavour
    rc=0
    QUADLET_UNIT_DIRS=$src "$QUADLET" "${user[@]}" -dryrun >"$gen.txt" 2>"$gen.err" || rc=$?
    # -dryrun logs each file it loads; anything else it says is a finding.
    findings=$(grep -v 'Loading source unit file' "$gen.err" || true)
    if ((rc != 0)) || [[ -n $findings ]]; then
      cat "$gen.err" >&2
      die "$name/$flavour: quadlet ${user[*]:+-user }-dryrun (exit $rc) rejects or warns about the units above"
    fi
    # One service per source file: NAME.container -> NAME.service, NAME.pod -> NAME-pod.service.
    want=()
    for f in "$src"/*; do
      case $f in
        *.container) want+=("$(basename "$f" .container).service") ;;
        *.pod) want+=("$(basename "$f" .pod)-pod.service") ;;
        *) die "$name/$flavour: unexpected file $(basename "$f")" ;;
      esac
    done
    units=$gen.units
    mkdir -p "$units"
    for f in "$PODMAN_UNITS/$sub"/podman*; do [[ -f $f ]] && cp "$f" "$units"/; done
    awk -v d="$units" '/^---.+---$/ {f = d "/" substr($0, 4, length($0) - 6); next} f {print > f}' "$gen.txt"
    for u in "${want[@]}"; do
      [[ -s $units/$u ]] || die "$name/$flavour: quadlet generated no $u (got: $(grep -- '^---' "$gen.txt" | tr '\n' ' '))"
      grep -q '^ExecStart=/usr/bin/podman ' "$units/$u" || die "$name/$flavour: $u has no podman ExecStart"
    done
    verify_units "$mode" "$units" "${want[@]}" ||
      die "$name/$flavour: systemd-analyze ${user[*]:+--user }verify reports the findings above"
    passed+=("$name/$flavour (${#want[@]} units)")
    say "$name/$flavour: quadlet ${user[*]:+-user }-dryrun and systemd-analyze ${user[*]:+--user }verify pass: ${want[*]}"
  done
done
say "passed: ${passed[*]}"
