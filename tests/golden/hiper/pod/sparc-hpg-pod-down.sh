#!/usr/bin/env bash
# Stops stack 'sparc-hpg' that sparc-hpg-pod.sh started: the services in reverse start order, then the pod and its secrets.
# Rendered by `sparc render` from hiper.toml: change the spec and render again.
# The data volumes stay; remove them with
#   podman volume rm sparc-hpg-mas-data
set -euo pipefail

pod=sparc-hpg
if podman pod exists "$pod"; then
  for container in sparc-hpg-renderer-4 sparc-hpg-renderer-3 sparc-hpg-renderer-2 sparc-hpg-renderer-1 sparc-hpg-signal sparc-hpg-mas sparc-hpg-coturn; do
    podman stop --ignore -t 10 "$container" >/dev/null
  done
  podman pod rm -f -t 10 "$pod" >/dev/null
  echo "Stopped pod $pod"
fi
for secret in sparc-hpg-api_keys sparc-hpg-mas_api_key sparc-hpg-turn_secret; do
  podman secret rm "$secret" >/dev/null 2>&1 || true
done
