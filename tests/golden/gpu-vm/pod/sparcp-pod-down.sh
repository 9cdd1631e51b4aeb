#!/usr/bin/env bash
# Stops stack 'sparcp' that sparcp-pod.sh started: the services in reverse start order, then the pod and its secrets.
# Rendered by `sparc render` from gpu-vm.toml: change the spec and render again.
# The data volumes stay; remove them with
#   podman volume rm sparcp-riva-data sparcp-llm-data sparcp-mas-data
set -euo pipefail

pod=sparcp
if podman pod exists "$pod"; then
  for container in sparcp-renderer-2 sparcp-renderer-1 sparcp-signal sparcp-mas sparcp-llm sparcp-riva sparcp-coturn; do
    podman stop --ignore -t 10 "$container" >/dev/null
  done
  podman pod rm -f -t 10 "$pod" >/dev/null
  echo "Stopped pod $pod"
fi
for secret in sparcp-api_keys sparcp-tls_cert sparcp-turn_secret; do
  podman secret rm "$secret" >/dev/null 2>&1 || true
done
