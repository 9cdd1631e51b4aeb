#!/usr/bin/env bash
# End-to-end proof that the TURN REST credentials sparc-signal serves in /config are accepted by a
# real coturn, and that expired or wrongly signed credentials are refused.
#
# Usage (CTest): coturn_test.sh <path-to-sparc-signal>
# Needs Debian's coturn package (turnserver, turnutils_uclient, turnutils_peer), python3, curl and
# openssl. Everything runs on 127.0.0.1 with free ports; every process started here is stopped on exit.
set -euo pipefail

readonly name=coturn_test
signal_bin=${1:-}
if [[ -z $signal_bin ]]; then
  echo "usage: $0 <path-to-sparc-signal>" >&2
  exit 2
fi
if [[ ! -x $signal_bin ]]; then
  echo "$name: FAIL: sparc-signal binary '$signal_bin' is missing or not executable" >&2
  exit 1
fi
for tool in turnserver turnutils_uclient turnutils_peer python3 curl openssl timeout; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "$name: FAIL: '$tool' not found; install Debian's coturn package (apt-get install coturn)" >&2
    echo "$name: this test is required and is not skipped when coturn is absent" >&2
    exit 1
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/sparc-coturn.XXXXXX")
pids=()
passed=0
failed=0

step() { printf '[%s] %s\n' "$name" "$*"; }
pass() { passed=$((passed + 1)); printf '[%s]   ok: %s\n' "$name" "$*"; }
fail() {
  failed=$((failed + 1))
  printf '[%s]   FAIL: %s\n' "$name" "$*" >&2
  exit 1
}

# shellcheck disable=SC2317  # stop_pid and cleanup run from the EXIT trap
stop_pid() {
  local pid=$1 _
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317
cleanup() {
  local rc=$?
  set +e
  if ((rc != 0)); then
    ((failed == 0)) && failed=1
    if [[ -f $work/turnserver.log ]]; then
      echo "---- turnserver log (last 40 lines) ----" >&2
      tail -n 40 "$work/turnserver.log" >&2
    fi
    local f
    for f in "$work"/signal-*.log "$work"/uclient-*.out; do
      [[ -f $f ]] || continue
      echo "---- $(basename "$f") (last 20 lines) ----" >&2
      tail -n 20 "$f" >&2
    done
  fi
  local pid
  for pid in ${pids[@]+"${pids[@]}"}; do stop_pid "$pid"; done
  rm -rf "$work"
  echo "$name: $passed passed, $failed failed"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { date +%s; }

# ---------------------------------------------------------------------------------------------------
step "choosing free loopback ports"
# TURN port: UDP and TCP. Peer: UDP P and P+1 (turnutils_peer binds both). Relay: 16 UDP ports.
# Blocks come from 20000-32000, below Linux's default ephemeral range, and are held while choosing.
read -r turn_port peer_port relay_min relay_max < <(python3 - <<'PY'
import random, socket
held = []
def grab(n, tcp=False):
    for _ in range(200):
        base = random.randrange(20000, 32000 - n)
        socks = []
        try:
            for p in range(base, base + n):
                for kind in ([socket.SOCK_DGRAM, socket.SOCK_STREAM] if tcp else [socket.SOCK_DGRAM]):
                    s = socket.socket(socket.AF_INET, kind)
                    socks.append(s)
                    s.bind(("127.0.0.1", p))
        except OSError:
            for s in socks: s.close()
            continue
        held.extend(socks)
        return base
    raise SystemExit("no free port block found")
turn = grab(1, tcp=True)
peer = grab(2)
relay = grab(16)
print(turn, peer, relay, relay + 15)
PY
) || true
[[ -n ${relay_max:-} ]] || fail "could not choose free ports"
pass "turn=$turn_port peer=$peer_port relay=$relay_min-$relay_max"

step "writing a random TURN secret (mode 600)"
secret_file=$work/turn-secret
(umask 077 && openssl rand -hex 32 | tr -d '\n' >"$secret_file")
chmod 600 "$secret_file"
[[ $(stat -c %a "$secret_file") == 600 ]] || fail "secret file mode is $(stat -c %a "$secret_file")"
secret=$(<"$secret_file")
[[ ${#secret} -eq 64 ]] || fail "secret has unexpected length ${#secret}"
pass "secret file $secret_file, mode 600"

# ---------------------------------------------------------------------------------------------------
step "starting turnserver on 127.0.0.1:$turn_port (TURN REST auth, realm sparc.test)"
turnserver -n \
  --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$turn_port" \
  --min-port="$relay_min" --max-port="$relay_max" \
  --use-auth-secret --static-auth-secret="$secret" --realm=sparc.test \
  --allow-loopback-peers --no-tls --no-dtls --no-cli \
  --userdb="$work/turndb" --pidfile="$work/turnserver.pid" \
  --log-file="$work/turnserver.log" --simple-log --no-stdout-log \
  >"$work/turnserver.stdout" 2>&1 &
turn_pid=$!
pids+=("$turn_pid")

step "starting turnutils_peer on 127.0.0.1:$peer_port"
turnutils_peer -L 127.0.0.1 -p "$peer_port" >"$work/peer.log" 2>&1 &
peer_pid=$!
pids+=("$peer_pid")

udp_bound() { # exit 0 when 127.0.0.1:$1/udp is taken by someone
  python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)' "$1"
}

deadline=$(($(now) + 15))
until timeout 1 turnutils_stunclient -p "$turn_port" 127.0.0.1 >"$work/stun.out" 2>&1; do
  kill -0 "$turn_pid" 2>/dev/null || fail "turnserver exited during start-up"
  (($(now) < deadline)) || fail "turnserver did not answer STUN on port $turn_port within 15 s"
  sleep 0.1
done
pass "turnserver answers STUN binding ($(grep -o 'UDP reflexive addr: [0-9.:]*' "$work/stun.out" | head -n 1))"

deadline=$(($(now) + 10))
until udp_bound "$peer_port"; do
  kill -0 "$peer_pid" 2>/dev/null || fail "turnutils_peer exited during start-up"
  (($(now) < deadline)) || fail "turnutils_peer did not bind UDP $peer_port within 10 s"
  sleep 0.1
done
pass "turnutils_peer listening"

# ---------------------------------------------------------------------------------------------------
turn_url="turn:127.0.0.1:$turn_port?transport=udp"

# start_signal TAG SECRET_SOURCE(file|env) TTL: starts an instance, records its pid in sig_pid[TAG].
declare -A sig_pid sig_port
start_signal() {
  local tag=$1 source=$2 ttl=$3
  local ready=$work/signal-$tag.ready
  local -a args=(--bind 127.0.0.1 -p 0 --no-metrics --ready-file "$ready"
    --turn-url "$turn_url" --turn-ttl "$ttl")
  if [[ $source == file ]]; then
    env -u SPARC_TURN_SECRET "$signal_bin" "${args[@]}" --turn-secret-file "$secret_file" \
      >"$work/signal-$tag.log" 2>&1 &
  else
    SPARC_TURN_SECRET=$secret "$signal_bin" "${args[@]}" >"$work/signal-$tag.log" 2>&1 &
  fi
  sig_pid[$tag]=$!
  pids+=("${sig_pid[$tag]}")
}

wait_signal() {
  local tag=$1 ready=$work/signal-$1.ready port
  local deadline=$(($(now) + 10))
  while :; do
    if [[ -s $ready ]] && port=$(python3 -c 'import json, sys; print(int(json.load(open(sys.argv[1]))["port"]))' "$ready" 2>/dev/null) && ((port > 0)); then
      break
    fi
    kill -0 "${sig_pid[$tag]}" 2>/dev/null || fail "sparc-signal ($tag) exited during start-up"
    (($(now) < deadline)) || fail "sparc-signal ($tag) wrote no usable ready file within 10 s"
    sleep 0.05
  done
  sig_port[$tag]=$port
}

# fetch_turn TAG: GET /config, writes "<username> <credential>" of the single entry for $turn_url
# to $work/turn-TAG. Runs in the main shell so that fail ends the test.
fetch_turn() {
  local tag=$1 body=$work/config-$1.json
  curl -sS -f --max-time 5 -o "$body" "http://127.0.0.1:${sig_port[$tag]}/config" ||
    fail "GET /config on sparc-signal ($tag) failed"
  if grep -qF -- "$secret" "$body"; then fail "/config ($tag) leaks the TURN secret"; fi
  python3 - "$body" "$turn_url" >"$work/turn-$tag" <<'PY' || fail "/config ($tag) has no usable TURN entry: $(head -c 600 "$body")"
import json, sys
cfg = json.load(open(sys.argv[1]))
want = sys.argv[2]
servers = cfg.get("iceServers")
if not isinstance(servers, list):
    sys.exit("iceServers missing or not a list")
hits = []
for s in servers:
    urls = s.get("urls") if isinstance(s, dict) else None
    urls = [urls] if isinstance(urls, str) else (urls or [])
    if want in urls:
        hits.append(s)
if len(hits) != 1:
    sys.exit(f"expected one iceServers entry with {want}, found {len(hits)}")
user, cred = hits[0].get("username"), hits[0].get("credential")
if not isinstance(user, str) or not isinstance(cred, str) or not user or not cred:
    sys.exit("username/credential missing or not strings")
if any(c.isspace() for c in user + cred):
    sys.exit("whitespace in username/credential")
print(user, cred)
PY
}

hmac_b64() { # hmac_b64 KEY MESSAGE
  printf '%s' "$2" | openssl dgst -sha1 -hmac "$1" -binary | base64
}

# check_creds TAG USER CRED TTL TOLERANCE: username format, expiry window, HMAC.
check_creds() {
  local tag=$1 user=$2 cred=$3 ttl=$4 tol=$5 expiry t
  [[ $user =~ ^([0-9]+):sparc$ ]] || fail "($tag) username '$user' is not '<expiry>:sparc'"
  expiry=${BASH_REMATCH[1]}
  t=$(now)
  ((expiry >= t + ttl - tol && expiry <= t + ttl + tol)) ||
    fail "($tag) expiry $expiry is $((expiry - t)) s from now, expected ${ttl}±${tol}"
  pass "($tag) username '$user' expires in $((expiry - t)) s (ttl $ttl)"
  local want
  want=$(hmac_b64 "$secret" "$user")
  [[ $cred == "$want" ]] || fail "($tag) credential '$cred' != base64(HMAC-SHA1(secret, username)) '$want'"
  pass "($tag) credential equals base64(HMAC-SHA1(secret, username)) computed by openssl"
}

# uclient OUT USER CRED: prints the exit status of one relayed allocation to the echo peer.
uclient() {
  local rc=0
  timeout 20 turnutils_uclient -u "$2" -w "$3" -p "$turn_port" -n 5 \
    -e 127.0.0.1 -r "$peer_port" 127.0.0.1 >"$1" 2>&1 || rc=$?
  echo "$rc"
}

expect_refused() { # expect_refused WHAT OUT RC
  local what=$1 out=$2 rc=$3
  ((rc != 0)) || fail "$what: turnutils_uclient succeeded, expected refusal"
  ((rc != 124)) || fail "$what: turnutils_uclient timed out instead of being refused"
  pass "$what refused (rc $rc: $(grep -m 1 -o 'ERROR: .*' "$out" || echo 'no error line'))"
}

step "starting sparc-signal: A (secret file, ttl 3600), B (secret file, ttl 1), C (SPARC_TURN_SECRET, ttl 3600)"
start_signal A file 3600
start_signal B file 1
start_signal C env 3600
for tag in A B C; do wait_signal "$tag"; done
pass "ready files read: A=${sig_port[A]} B=${sig_port[B]} C=${sig_port[C]}"

step "GET /config: credentials minted from the secret file (A)"
fetch_turn A
read -r user_a cred_a <"$work/turn-A" || true
[[ -n ${cred_a:-} ]] || fail "(A) no credentials extracted"
check_creds A "$user_a" "$cred_a" 3600 60

step "GET /config: short-lived credentials (B, --turn-ttl 1)"
fetch_turn B
read -r user_b cred_b <"$work/turn-B" || true
[[ -n ${cred_b:-} ]] || fail "(B) no credentials extracted"
check_creds B "$user_b" "$cred_b" 1 3
expiry_b=${user_b%%:*}

step "GET /config: secret from the environment (C, SPARC_TURN_SECRET)"
fetch_turn C
read -r user_c cred_c <"$work/turn-C" || true
[[ -n ${cred_c:-} ]] || fail "(C) no credentials extracted"
check_creds C "$user_c" "$cred_c" 3600 60

step "TURN allocation with A's credentials, relayed to the echo peer"
rc=$(uclient "$work/uclient-valid.out" "$user_a" "$cred_a")
((rc == 0)) || fail "turnutils_uclient with valid credentials exited $rc"
read -r sent recvd < <(python3 - "$work/uclient-valid.out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
tot = re.findall(r"start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", text)
print(*(tot[-1] if tot else (0, 0)))
PY
) || true
((recvd > 0 && recvd == sent)) || fail "relay echoed $recvd of $sent messages"
grep -q 'Total lost packets 0 (0\.0*%)' "$work/uclient-valid.out" || fail "uclient reports lost packets"
pass "allocation relayed $recvd/$sent messages, 0% lost"

step "TURN allocation with A's username signed by a wrong secret"
wrong_cred=$(hmac_b64 "$(openssl rand -hex 32)" "$user_a")
rc=$(uclient "$work/uclient-wrong.out" "$user_a" "$wrong_cred")
expect_refused "wrong-secret credential" "$work/uclient-wrong.out" "$rc"

step "TURN allocation with B's credentials after they expired"
while (($(now) < expiry_b + 2)); do sleep 0.2; done
rc=$(uclient "$work/uclient-expired.out" "$user_b" "$cred_b")
expect_refused "expired credential (expiry $expiry_b, now $(now))" "$work/uclient-expired.out" "$rc"

step "sparc-signal logs do not contain the secret"
for tag in A B C; do
  if grep -qF -- "$secret" "$work/signal-$tag.log"; then fail "sparc-signal ($tag) logged the TURN secret"; fi
  kill -0 "${sig_pid[$tag]}" 2>/dev/null || fail "sparc-signal ($tag) died during the test"
done
pass "no secret in logs; all instances still running"

exit 0
