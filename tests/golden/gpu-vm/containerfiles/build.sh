#!/usr/bin/env bash
# Builds the images of stack 'sparcp' with podman.
# Rendered by `sparc render` from gpu-vm.toml: change the spec and render again.
# Run it from the repository root, the build context:
#   DIR/containerfiles/build.sh                  compile in the builder stage
#   DIR/containerfiles/build.sh --prebuilt       copy build/release binaries (cmake --preset release first)
#   DIR/containerfiles/build.sh mas signal       only these targets
# BUILDER_IMAGE, RUNTIME_IMAGE, BIN_DIR, UNITY_BASE_IMAGE in the environment become build arguments; PODMAN_BUILD_OPTS adds
# options, e.g. "--pull=never --network=none" with local base images.
# unity-server is built from the player build folder (UNITY_BUILD_DIR, default the spec's unity_build).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
file=$here/Containerfile
if [[ ${1:-} == --prebuilt ]]; then
  file=$here/Containerfile.prebuilt
  shift
fi
opts=(--format docker -f "$file" --ignorefile "$here/.containerignore")
for arg in BUILDER_IMAGE RUNTIME_IMAGE BIN_DIR UNITY_BASE_IMAGE; do
  if [[ -n ${!arg:-} ]]; then opts+=(--build-arg "$arg=${!arg}"); fi
done
read -r -a extra <<<"${PODMAN_BUILD_OPTS:-}"

build() {  # TARGET TAG [CONTEXT]
  echo "sparc: building $2 (--target $1)"
  podman build "${opts[@]}" "${extra[@]}" --target "$1" -t "$2" "${3:-.}"
}

targets=("$@")
if ((${#targets[@]} == 0)); then targets=(mas signal stream unity-server); fi
for target in "${targets[@]}"; do
  case $target in
    mas) build mas registry.example.org/sparc/mas:1.0 ;;
    signal) build signal registry.example.org/sparc/signal:1.0 ;;
    stream) build stream localhost/sparc-stream:latest ;;
    unity-server)
      if [[ $file == *.prebuilt ]]; then echo "sparc: unity-server is in Containerfile only" >&2; exit 2; fi
      build unity-server registry.example.org/sparc/unity-server:1.0 "${UNITY_BUILD_DIR:-/opt/sparc/unity}" ;;
    *) echo "sparc: unknown target $target" >&2; exit 2 ;;
  esac
done
