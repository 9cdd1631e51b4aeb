#!/usr/bin/env bash
# Starts stack 'sparcp' as one podman pod.
# Rendered by `sparc render` from gpu-vm.toml: change the spec and render again.
# Services start in dependency order, each healthy before the next; sparcp-pod-down.sh beside this file
# stops them. Needs rootful podman 4.3 or later and the images (containerfiles/build.sh);
# GPUs come through CDI: nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml, once per driver.
# Members share the pod's network namespace: they reach each other on 127.0.0.1 and listen on the pod's own
# interface; the host sees only the published ports.
set -euo pipefail

pod=sparcp
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if podman pod exists "$pod"; then
  echo "sparc: pod $pod exists already; stop it first with $here/sparcp-pod-down.sh" >&2
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
add_secret sparcp-turn_secret /etc/sparc/turn-secret
add_secret sparcp-api_keys /etc/sparc/api-keys
add_secret sparcp-tls_cert /etc/sparc/tls.crt

# Published: only ports something listens on.
ports=(
  -p 3478:3478/udp  # coturn turn
  -p 3478:3478/tcp  # coturn turn-tcp
  -p 49201-49250:49201-49250/udp  # TURN relay
  -p 8010:8010/tcp  # mas http
  -p 8080:8080/tcp  # signal http
  -p 8888:8888/tcp  # signal metrics
  -p 49152-49200:49152-49200/udp  # WebRTC media (renderers)
)
podman pod create --name "$pod" "${ports[@]}" >/dev/null
# From here on a failed start takes the pod down again.
trap 'status=$?; if ((status != 0)); then "$here/sparcp-pod-down.sh" >/dev/null 2>&1 || true; fi' EXIT
echo "Starting stack 'sparcp' in pod $pod"

# coturn: the TURN relay
podman run \
  -d --pod "$pod" --name sparcp-coturn --restart on-failure \
  --health-cmd '["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/3478"]' \
  --health-interval 10s --health-timeout 3s --health-retries 3 --health-start-period 10s \
  -v "$here/../coturn/turnserver.conf:/etc/coturn/turnserver.conf:ro,z" \
  --secret sparcp-turn_secret,target=turn_secret,uid=65534,gid=65534,mode=0400 \
  --entrypoint bash \
  docker.io/coturn/coturn:4.6 \
    -c 'set -eu
umask 077
secret=$(cat /run/secrets/turn_secret)
ip=$(getent ahostsv4 sparc.example.org | head -n 1 | cut -d " " -f 1)
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
wait_healthy sparcp-coturn 60

# riva: NVIDIA Riva speech (gRPC)
# Its model repository (what riva_init.sh prepares) belongs in volume sparcp-riva-data (/data).
# The spec reserves 8000 8001 8002 for its Triton server, unpublished.
podman run \
  -d --pod "$pod" --name sparcp-riva --restart on-failure \
  --health-cmd '["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/50051"]' \
  --health-interval 10s --health-timeout 3s --health-retries 3 --health-start-period 600s \
  --device nvidia.com/gpu=all \
  --init --ulimit memlock=-1:-1 --ulimit stack=67108864:67108864 \
  -v sparcp-riva-data:/data \
  -e RIVA_SERVER_HTTP_PORT=8009 \
  nvcr.io/nvidia/riva/riva-speech:2.19.0 \
    start-riva --riva-uri=0.0.0.0:50051 --asr_service=true --tts_service=true --nlp_service=false >/dev/null
wait_healthy sparcp-riva 900

# llm: vLLM, the OpenAI-compatible model server
# The LoRA adapters belong in the sparcp-llm-data volume under /data/adapters.
podman run \
  -d --pod "$pod" --name sparcp-llm --restart on-failure \
  --health-cmd '["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8100 && printf \"GET /v1/models HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n\" >&3 && read -r _ code _ <&3 && [ \"$code\" = 200 ]"]' \
  --health-interval 10s --health-timeout 3s --health-retries 3 --health-start-period 600s \
  --device nvidia.com/gpu=all \
  -v sparcp-llm-data:/data \
  --entrypoint vllm \
  docker.io/vllm/vllm-openai:v0.8.5 \
    serve meta-llama/Llama-3.1-8B-Instruct --host 0.0.0.0 --port 8100 --enable-lora \
    --lora-modules caregiver-lora=/data/adapters/caregiver-lora coach-lora=/data/adapters/coach-lora \
    supervisor-lora=/data/adapters/supervisor-lora >/dev/null
wait_healthy sparcp-llm 900

# mas: sparc-mas, the backend
podman run \
  -d --pod "$pod" --name sparcp-mas --restart on-failure \
  --health-cmd '["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8010 && printf \"GET /health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n\" >&3 && read -r _ code _ <&3 && [ \"$code\" = 200 ]"]' \
  --health-interval 10s --health-timeout 3s --health-retries 3 --health-start-period 10s \
  -v sparcp-mas-data:/var/lib/sparc \
  --secret sparcp-api_keys,target=api_keys,uid=10001,gid=10001,mode=0400 \
  registry.example.org/sparc/mas:1.0 \
    --bind 0.0.0.0 --port 8010 --db /var/lib/sparc/sparc-mas.db --profile production \
    --api-keys-file /run/secrets/api_keys --tts riva --asr riva --riva-url 127.0.0.1:50051 \
    --engine openai --llm-url http://127.0.0.1:8100/v1 --llm-model meta-llama/Llama-3.1-8B-Instruct \
    --llm-adapter caregiver=caregiver-lora --llm-adapter coach=coach-lora \
    --llm-adapter supervisor=supervisor-lora >/dev/null
wait_healthy sparcp-mas 60

# signal: sparc-signal, signaling and the web client
podman run \
  -d --pod "$pod" --name sparcp-signal --restart on-failure \
  --health-cmd '["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8888 && printf \"GET /health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n\" >&3 && read -r _ code _ <&3 && [ \"$code\" = 200 ]"]' \
  --health-interval 10s --health-timeout 3s --health-retries 3 --health-start-period 10s \
  --secret sparcp-tls_cert,target=tls_cert,uid=10001,gid=10001,mode=0400 \
  --secret sparcp-turn_secret,target=turn_secret,uid=10001,gid=10001,mode=0400 \
  registry.example.org/sparc/signal:1.0 \
    --bind 0.0.0.0 --port 8080 --metrics-port 8888 --type websocket --mode public \
    --turn-url 'turn:sparc.example.org:3478?transport=udp' --turn-secret-file /run/secrets/turn_secret >/dev/null
wait_healthy sparcp-signal 60

# renderer-1: the Unity player on a virtual display
podman run \
  -d --pod "$pod" --name sparcp-renderer-1 --restart on-failure \
  --device nvidia.com/gpu=all \
  registry.example.org/sparc/unity-server:1.0 \
    -signalingUrl ws://127.0.0.1:8080 -signalingType websocket -force-vulkan -screen-width 1280 \
    -screen-height 720 -logFile - >/dev/null
wait_running sparcp-renderer-1

# renderer-2: the Unity player on a virtual display
podman run \
  -d --pod "$pod" --name sparcp-renderer-2 --restart on-failure \
  --device nvidia.com/gpu=all \
  registry.example.org/sparc/unity-server:1.0 \
    -signalingUrl ws://127.0.0.1:8080 -signalingType websocket -force-vulkan -screen-width 1280 \
    -screen-height 720 -logFile - >/dev/null
wait_running sparcp-renderer-2

echo "Stack 'sparcp' is up: open http://sparc.example.org:8080/ in a browser."
