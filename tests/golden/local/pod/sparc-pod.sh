#!/usr/bin/env bash
# Starts stack 'sparc' as one podman pod.
# Rendered by `sparc render` from local.toml: change the spec and render again.
# Services start in dependency order, each healthy before the next; sparc-pod-down.sh beside this file
# stops them. Needs rootful podman 4.3 or later and the images (containerfiles/build.sh).
# Members share the pod's network namespace: they reach each other on 127.0.0.1 and listen on the pod's own
# interface; the host sees only the published ports, on 127.0.0.1.
set -euo pipefail

pod=sparc
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if podman pod exists "$pod"; then
  echo "sparc: pod $pod exists already; stop it first with $here/sparc-pod-down.sh" >&2
  exit 1
fi

# Polls a container's health check until it passes; gives up at the deadline or when the container stops.
wait_healthy() {  # CONTAINER SECONDS
  local deadline=$((SECONDS + $2))
  until podman healthcheck run "$1" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)) || [[ $(podman container inspect --format '{{.State.Running}}' "$1") != true ]]; then
      echo "sparc: $1 is not healthy after $2 s; its last log lines:" >&2
      podman logs --tail 30 "$1" >&2 || true
      exit 1
    fi
    sleep 1
  done
  echo "  ok  $1"
}

# A service without a health check must at least still run a moment after its start.
wait_running() {  # CONTAINER
  sleep 3
  if [[ $(podman container inspect --format '{{.State.Running}}' "$1") != true ]]; then
    echo "sparc: $1 exited; its last log lines:" >&2
    podman logs --tail 30 "$1" >&2 || true
    exit 1
  fi
  echo "  ok  $1 (running; it has no health check)"
}

# Published: only ports something listens on.
ports=(
  -p 127.0.0.1:8080:8080/tcp  # signal http
  -p 127.0.0.1:8888:8888/tcp  # signal metrics
  -p 127.0.0.1:49152-49200:49152-49200/udp  # WebRTC media (renderers)
)
podman pod create --name "$pod" "${ports[@]}" >/dev/null
# From here on a failed start takes the pod down again.
trap 'status=$?; if ((status != 0)); then "$here/sparc-pod-down.sh" >/dev/null 2>&1 || true; fi' EXIT
echo "Starting stack 'sparc' in pod $pod"

# mas: sparc-mas, the backend
# Without API keys ([mas] api_keys_file) it listens on the pod's loopback only: the renderers reach it,
# nothing publishes it.
podman run \
  -d --pod "$pod" --name sparc-mas --restart on-failure \
  --health-cmd '["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8000 && printf \"GET /health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n\" >&3 && read -r _ code _ <&3 && [ \"$code\" = 200 ]"]' \
  --health-interval 10s --health-timeout 3s --health-retries 3 --health-start-period 10s \
  -v sparc-mas-data:/var/lib/sparc \
  localhost/sparc-mas:latest \
    --bind 127.0.0.1 --port 8000 --db /var/lib/sparc/sparc-mas.db --profile development >/dev/null
wait_healthy sparc-mas 60

# signal: sparc-signal, signaling and the web client
podman run \
  -d --pod "$pod" --name sparc-signal --restart on-failure \
  --health-cmd '["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8888 && printf \"GET /health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n\" >&3 && read -r _ code _ <&3 && [ \"$code\" = 200 ]"]' \
  --health-interval 10s --health-timeout 3s --health-retries 3 --health-start-period 10s \
  localhost/sparc-signal:latest \
    --bind 0.0.0.0 --port 8080 --metrics-port 8888 --type websocket --mode public >/dev/null
wait_healthy sparc-signal 60

# renderer-1: sparc-stream, the reference renderer
podman run \
  -d --pod "$pod" --name sparc-renderer-1 --restart on-failure \
  --health-cmd '["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8090 && printf \"GET /health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n\" >&3 && read -r _ code _ <&3 && [ \"$code\" = 200 ]"]' \
  --health-interval 10s --health-timeout 3s --health-retries 3 --health-start-period 10s \
  localhost/sparc-stream:latest \
    -signalingUrl ws://127.0.0.1:8080 --mas-url http://127.0.0.1:8000 --bind 127.0.0.1 --port 8090 \
    --ice-ports 49152-49200 --persona anne-palmer --codec h264 --width 1280 --height 720 --fps 30 >/dev/null
wait_healthy sparc-renderer-1 60

echo "Stack 'sparc' is up: open http://127.0.0.1:8080/ in a browser."
