#!/usr/bin/env bash
# Starts stack 'sparc-hpg' as one podman pod.
# Rendered by `sparc render` from hiper.toml: change the spec and render again.
# Services start in dependency order, each healthy before the next; sparc-hpg-pod-down.sh beside this file
# stops them. Needs rootful podman 4.3 or later and the images (containerfiles/build.sh).
# Members share the pod's network namespace: they reach each other on 127.0.0.1 and listen on the pod's own
# interface; the host sees only the published ports.
set -euo pipefail

pod=sparc-hpg
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if podman pod exists "$pod"; then
  echo "sparc: pod $pod exists already; stop it first with $here/sparc-hpg-pod-down.sh" >&2
  exit 1
fi
if [[ ! -r $here/../coturn/turnserver.conf ]]; then
  echo "sparc: $here/../coturn/turnserver.conf is missing: render the coturn target too" >&2
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

# Secrets go into podman's secret store from the files the spec names (never into an image or a rendered
# file); each container sees its own at /run/secrets/NAME, mode 0400, owned by its user.
add_secret() {  # NAME FILE
  if [[ ! -r $2 ]]; then
    echo "sparc: secret file $2 is missing or unreadable" >&2
    exit 1
  fi
  podman secret rm "$1" >/dev/null 2>&1 || true
  podman secret create "$1" "$2" >/dev/null
}
add_secret sparc-hpg-turn_secret /blue/sparc/secrets/turn-secret
add_secret sparc-hpg-api_keys /blue/sparc/secrets/api-keys
add_secret sparc-hpg-mas_api_key /blue/sparc/secrets/renderer-key

# Published: only ports something listens on.
ports=(
  -p 3478:3478/udp  # coturn turn
  -p 3478:3478/tcp  # coturn turn-tcp
  -p 49201-49250:49201-49250/udp  # TURN relay
  -p 8000:8000/tcp  # mas http
  -p 8080:8080/tcp  # signal http
  -p 8888:8888/tcp  # signal metrics
  -p 49152-49200:49152-49200/udp  # WebRTC media (renderers)
)
podman pod create --name "$pod" "${ports[@]}" >/dev/null
# From here on a failed start takes the pod down again.
trap 'status=$?; if ((status != 0)); then "$here/sparc-hpg-pod-down.sh" >/dev/null 2>&1 || true; fi' EXIT
echo "Starting stack 'sparc-hpg' in pod $pod"

# coturn: the TURN relay
podman run \
  -d --pod "$pod" --name sparc-hpg-coturn --restart on-failure \
  --health-cmd '["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/3478"]' \
  --health-interval 10s --health-timeout 3s --health-retries 3 --health-start-period 10s \
  -v "$here/../coturn/turnserver.conf:/etc/coturn/turnserver.conf:ro,z" \
  --secret sparc-hpg-turn_secret,target=turn_secret,uid=65534,gid=65534,mode=0400 \
  --entrypoint bash \
  docker.io/coturn/coturn:4.6 \
    -c 'set -eu
umask 077
secret=$(cat /run/secrets/turn_secret)
ip=$(getent ahostsv4 c0101a-s1.ufhpc | head -n 1 | cut -d " " -f 1)
if [ -z "$ip" ]; then echo "coturn: public_host has no IPv4 address for external-ip" >&2; exit 1; fi
{
  cat /etc/coturn/turnserver.conf
  printf "static-auth-secret=%s\n" "$secret"
  printf "external-ip=%s\n" "$ip"
} > /var/lib/coturn/turnserver.conf
turnserver -c /var/lib/coturn/turnserver.conf &
turn=$!
stop() { kill -TERM "$turn" 2>/dev/null || true; }
trap stop TERM INT
status=0
wait "$turn" || status=$?
if kill -0 "$turn" 2>/dev/null; then status=0; wait "$turn" || status=$?; fi
exit "$status"
' >/dev/null
wait_healthy sparc-hpg-coturn 60

# mas: sparc-mas, the backend
podman run \
  -d --pod "$pod" --name sparc-hpg-mas --restart on-failure \
  --health-cmd '["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8000 && printf \"GET /health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n\" >&3 && read -r _ code _ <&3 && [ \"$code\" = 200 ]"]' \
  --health-interval 10s --health-timeout 3s --health-retries 3 --health-start-period 10s \
  -v sparc-hpg-mas-data:/var/lib/sparc \
  --secret sparc-hpg-api_keys,target=api_keys,uid=10001,gid=10001,mode=0400 \
  localhost/sparc-mas:latest \
    --bind 0.0.0.0 --port 8000 --db /var/lib/sparc/sparc-mas.db --profile development \
    --api-keys-file /run/secrets/api_keys >/dev/null
wait_healthy sparc-hpg-mas 60

# signal: sparc-signal, signaling and the web client
podman run \
  -d --pod "$pod" --name sparc-hpg-signal --restart on-failure \
  --health-cmd '["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8888 && printf \"GET /health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n\" >&3 && read -r _ code _ <&3 && [ \"$code\" = 200 ]"]' \
  --health-interval 10s --health-timeout 3s --health-retries 3 --health-start-period 10s \
  --secret sparc-hpg-turn_secret,target=turn_secret,uid=10001,gid=10001,mode=0400 \
  localhost/sparc-signal:latest \
    --bind 0.0.0.0 --port 8080 --metrics-port 8888 --type http --mode public \
    --turn-url 'turn:c0101a-s1.ufhpc:3478?transport=udp' --turn-secret-file /run/secrets/turn_secret >/dev/null
wait_healthy sparc-hpg-signal 60

# renderer-1: sparc-stream, the reference renderer
podman run \
  -d --pod "$pod" --name sparc-hpg-renderer-1 --restart on-failure \
  --health-cmd '["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8090 && printf \"GET /health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n\" >&3 && read -r _ code _ <&3 && [ \"$code\" = 200 ]"]' \
  --health-interval 10s --health-timeout 3s --health-retries 3 --health-start-period 10s \
  --secret sparc-hpg-mas_api_key,target=mas_api_key,uid=10001,gid=10001,mode=0400 \
  localhost/sparc-stream:latest \
    -signalingUrl http://127.0.0.1:8080 --mas-url http://127.0.0.1:8000 --bind 0.0.0.0 --port 8090 \
    --ice-ports 49152-49200 --persona anne-palmer --codec h264 --width 1920 --height 1080 --fps 30 \
    --mas-api-key-file /run/secrets/mas_api_key --ice-from-signal >/dev/null
wait_healthy sparc-hpg-renderer-1 60

# renderer-2: sparc-stream, the reference renderer
podman run \
  -d --pod "$pod" --name sparc-hpg-renderer-2 --restart on-failure \
  --health-cmd '["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8091 && printf \"GET /health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n\" >&3 && read -r _ code _ <&3 && [ \"$code\" = 200 ]"]' \
  --health-interval 10s --health-timeout 3s --health-retries 3 --health-start-period 10s \
  --secret sparc-hpg-mas_api_key,target=mas_api_key,uid=10001,gid=10001,mode=0400 \
  localhost/sparc-stream:latest \
    -signalingUrl http://127.0.0.1:8080 --mas-url http://127.0.0.1:8000 --bind 0.0.0.0 --port 8091 \
    --ice-ports 49152-49200 --persona anne-palmer --codec h264 --width 1920 --height 1080 --fps 30 \
    --mas-api-key-file /run/secrets/mas_api_key --ice-from-signal >/dev/null
wait_healthy sparc-hpg-renderer-2 60

# renderer-3: sparc-stream, the reference renderer
podman run \
  -d --pod "$pod" --name sparc-hpg-renderer-3 --restart on-failure \
  --health-cmd '["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8092 && printf \"GET /health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n\" >&3 && read -r _ code _ <&3 && [ \"$code\" = 200 ]"]' \
  --health-interval 10s --health-timeout 3s --health-retries 3 --health-start-period 10s \
  --secret sparc-hpg-mas_api_key,target=mas_api_key,uid=10001,gid=10001,mode=0400 \
  localhost/sparc-stream:latest \
    -signalingUrl http://127.0.0.1:8080 --mas-url http://127.0.0.1:8000 --bind 0.0.0.0 --port 8092 \
    --ice-ports 49152-49200 --persona anne-palmer --codec h264 --width 1920 --height 1080 --fps 30 \
    --mas-api-key-file /run/secrets/mas_api_key --ice-from-signal >/dev/null
wait_healthy sparc-hpg-renderer-3 60

# renderer-4: sparc-stream, the reference renderer
podman run \
  -d --pod "$pod" --name sparc-hpg-renderer-4 --restart on-failure \
  --health-cmd '["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8093 && printf \"GET /health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n\" >&3 && read -r _ code _ <&3 && [ \"$code\" = 200 ]"]' \
  --health-interval 10s --health-timeout 3s --health-retries 3 --health-start-period 10s \
  --secret sparc-hpg-mas_api_key,target=mas_api_key,uid=10001,gid=10001,mode=0400 \
  localhost/sparc-stream:latest \
    -signalingUrl http://127.0.0.1:8080 --mas-url http://127.0.0.1:8000 --bind 0.0.0.0 --port 8093 \
    --ice-ports 49152-49200 --persona anne-palmer --codec h264 --width 1920 --height 1080 --fps 30 \
    --mas-api-key-file /run/secrets/mas_api_key --ice-from-signal >/dev/null
wait_healthy sparc-hpg-renderer-4 60

echo "Stack 'sparc-hpg' is up: open http://c0101a-s1.ufhpc:8080/ in a browser."
