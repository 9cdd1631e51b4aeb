# Shared helpers for scripts/*.sh (sourced, not executed).
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# install_packages KIND...: apt-get installs the listed packages that are not installed yet.
install_packages() {
  local kinds=" $* " missing=() kind pkg
  while read -r kind pkg; do
    [[ -z ${kind} || ${kind} == \#* ]] && continue
    [[ ${kinds} == *" ${kind} "* ]] || continue
    dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null | grep -q 'install ok installed' || missing+=("${pkg}")
  done <"${repo_root}/scripts/packages.txt"
  # Node.js and npm only when no node is on PATH (a newer one may already be installed).
  if [[ ${kinds} == *" test "* ]] && ! command -v node >/dev/null; then missing+=(nodejs npm); fi
  if ((${#missing[@]} == 0)); then
    say "Debian packages: all present"
    return
  fi
  say "Installing Debian packages: ${missing[*]}"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  ${sudo} apt-get -o DPkg::Lock::Timeout=600 update -qq
  ${sudo} apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
}

# build PRESET [TARGET...]
build() {
  local preset=$1
  shift
  say "Configuring and building (${preset})"
  cmake --preset "${preset}" >/dev/null
  if (($# > 0)); then
    cmake --build --preset "${preset}" --target "$@"
  else
    cmake --build --preset "${preset}"
  fi
}
