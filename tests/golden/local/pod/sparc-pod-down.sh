#!/usr/bin/env bash
# Stops stack 'sparc' that sparc-pod.sh started: the services in reverse start order, then the pod.
# Rendered by `sparc render` from local.toml: change the spec and render again.
# The data volumes stay; remove them with
#   podman volume rm sparc-mas-data
set -euo pipefail

pod=sparc
if podman pod exists "$pod"; then
  for container in sparc-renderer-1 sparc-signal sparc-mas; do
    podman stop --ignore -t 10 "$container" >/dev/null
  done
  podman pod rm -f -t 10 "$pod" >/dev/null
  echo "Stopped pod $pod"
fi
