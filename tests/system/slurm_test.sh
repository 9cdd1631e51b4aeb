#!/usr/bin/env bash
# slurm_test.sh BIN_DIR: the SLURM artifacts `sparc render -t slurm` writes, run on a real single-node SLURM cluster.
#
# BIN_DIR holds sparc/, sparc-mas/, sparc-signal/ and sparc-stream/ (build/release/apps). As root, this script:
#   1. writes a private munge key and slurm.conf/cgroup.conf/gres.conf (one node, two fake GPUs through gres) in a
#      scratch folder and starts munged, slurmctld and slurmd on free ports with their own pid files;
#   2. renders the slurm target for a native-runtime spec (bin_dir: BIN_DIR's programs, two 320x240 renderers); has
#      `sbatch --test-only` accept both scripts;
#   3. runs backend.sbatch until healthy (backend.env written) and `sparc check` passes its backend checks; runs the
#      render.sbatch array, waits for both renderers to register with signaling and `sparc check` passes in full;
#   4. checks each render task holds its own fake GPU; kill -9s one renderer: its task must end FAILED, naming it,
#      while the other runs on;
#   5. scancels everything: backend.env is withdrawn, the jobs' traps run and no sparc-* process of theirs survives;
#   6. runs the backend again and kill -9s sparc-mas: the job must end FAILED, naming mas;
# then stops the daemons and removes the scratch folder (SPARC_KEEP=1 keeps it).
#
# Nothing is installed here: the packages are scripts/packages.txt's `system` group (slurm-wlm brings munge).
# Exit 0: passed (or "SKIP: reason" where SLURM cannot run at all: not root). Non-zero: failed, with the reason and
# the relevant logs on stderr.
set -euo pipefail

say() { printf '[slurm_test %3ds] %s\n' "$SECONDS" "$*" >&2; }
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
for b in sparc/sparc sparc-mas/sparc-mas sparc-signal/sparc-signal sparc-stream/sparc-stream; do
  [[ -x $BIN_DIR/$b ]] || die "$BIN_DIR/$b is missing: build the release preset first"
done
if ((EUID != 0)); then
  echo "SKIP: slurm_test.sh needs root (it runs slurmctld and slurmd itself)" >&2
  exit 0
fi
for tool in munged munge unmunge slurmctld slurmd sbatch squeue scontrol scancel sinfo python3 curl runuser; do
  command -v "$tool" >/dev/null || die "$tool not found: install scripts/packages.txt's system and test groups"
done
id munge >/dev/null 2>&1 || die "no munge user: install the munge package"

# --- scratch folder, free ports ---------------------------------------------------------------------------------
W=$(mktemp -d /tmp/sparc-slurm-test.XXXXXX)
chmod 0755 "$W"
ETC=$W/etc OUT=$W/deploy STATE=$W/state LOGS=$W/log
mkdir -p "$ETC" "$OUT" "$STATE" "$LOGS" "$W/spool/ctld" "$W/spool/d" "$W/run" "$W/fakegpu"
CLUSTER=sparcsys$((RANDOM % 10000))
export SLURM_CONF=$ETC/slurm.conf
jobs_seen=()

# Prints "PID COMM" for every sparc-* process started by a job of this cluster (the CI machine may run other sparc
# processes at the same time, e.g. the black-box suites, so the job environment tells ours apart).
our_procs() {
  local pid comm
  for pid in $(pgrep '^sparc-' || true); do
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
    case $comm in sparc-mas | sparc-signal | sparc-stream) ;; *) continue ;; esac
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "SLURM_CLUSTER_NAME=$CLUSTER"; then
      echo "$pid $comm"
    fi
  done
}

dump_logs() {
  local f
  for f in "$LOGS"/slurmctld.log "$LOGS"/slurmd.log "$OUT"/*.out "$OUT"/*.err "$STATE"/logs/*.log; do
    [[ -s $f ]] || continue
    printf '\n----- %s (last 25 lines) -----\n' "$f" >&2
    tail -n 25 "$f" >&2 || true
  done
}

pid_of() { [[ -s $1 ]] && cat "$1"; }

cleanup() {
  local status=$? pid p
  trap - EXIT INT TERM
  set +e
  if ((status != 0)); then dump_logs; fi
  ((${#jobs_seen[@]})) && scancel "${jobs_seen[@]}" 2>/dev/null
  if pid=$(pid_of "$W/run/slurmctld.pid") && kill -0 "$pid" 2>/dev/null; then
    # Give cancelled jobs a moment, then stop slurmctld and slurmd together.
    for _ in $(seq 100); do [[ -z $(squeue -h 2>/dev/null) ]] && break; sleep 0.2; done
    scontrol shutdown >/dev/null 2>&1
  fi
  for p in slurmd slurmctld; do
    pid=$(pid_of "$W/run/$p.pid") || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { say "$p did not stop: SIGKILL"; kill -KILL "$pid"; }
  done
  # Last resort: whatever of ours outlived the daemons (a step daemon whose slurmd went away, or its services).
  while read -r pid p; do
    [[ -n ${pid:-} ]] || continue
    say "leftover $p (pid $pid): SIGKILL"
    kill -KILL "$pid"
  done < <(
    our_procs
    for pid in $(pgrep -x slurmstepd || true); do
      tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "SLURM_CONF=$SLURM_CONF" && echo "$pid slurmstepd"
    done
  )
  if pid=$(pid_of "$W/munge-run/munged.pid"); then
    kill "$pid" 2>/dev/null
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  if [[ ${SPARC_KEEP:-0} == 1 ]]; then say "kept $W"; else rm -rf "$W"; fi
  if ((status == 0)); then say "PASS (${SECONDS} s)"; else say "FAILED (exit $status, ${SECONDS} s)"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_ports TCP_COUNT UDP_COUNT: "TCPBASE UDPBASE", each the first of a run of free consecutive ports.
free_ports() {
  python3 - "$1" "$2" <<'PY'
import random, socket, sys
def run_free(count, kind, avoid):
    for _ in range(500):
        base = random.randrange(20000, 32000 - count)  # below the ephemeral range (32768-)
        if any(base <= a < base + count or a <= base < a + 64 for a in avoid): continue
        socks = []
        try:
            for p in range(base, base + count):
                s = socket.socket(socket.AF_INET, kind)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            pass
        finally:
            for s in socks: s.close()
    sys.exit("no free port range")
tcp = run_free(int(sys.argv[1]), socket.SOCK_STREAM, [])
udp = run_free(int(sys.argv[2]), socket.SOCK_DGRAM, [tcp])
print(tcp, udp)
PY
}
read -r TCP UDP < <(free_ports 8 16)
CTLD_PORT=$TCP SLURMD_PORT=$((TCP + 1)) MAS_PORT=$((TCP + 2)) SIGNAL_PORT=$((TCP + 3)) METRICS_PORT=$((TCP + 4))
HEALTH_PORT=$((TCP + 5)) # and HEALTH_PORT + 1 for the second renderer
UDP_MIN=$UDP UDP_MAX=$((UDP + 15))
say "scratch $W; cluster $CLUSTER; ports: slurmctld $CTLD_PORT, slurmd $SLURMD_PORT, mas $MAS_PORT," \
  "signal $SIGNAL_PORT/$METRICS_PORT, renderers $HEALTH_PORT-$((HEALTH_PORT + 1)), media $UDP_MIN-$UDP_MAX/udp"

# --- munge ------------------------------------------------------------------------------------------------------
# The key, seed and log in a private folder; the socket and pid file where every client can reach them.
install -d -o munge -g munge -m 0700 "$W/munge"
install -d -o munge -g munge -m 0755 "$W/munge-run"
mungekey --create --keyfile="$W/munge/munge.key" 2>/dev/null ||
  dd if=/dev/urandom of="$W/munge/munge.key" bs=1024 count=1 status=none
chown munge:munge "$W/munge/munge.key"
chmod 0400 "$W/munge/munge.key"
MSOCK=$W/munge-run/munge.socket
runuser -u munge -- munged --socket="$MSOCK" --key-file="$W/munge/munge.key" --pid-file="$W/munge-run/munged.pid" \
  --log-file="$W/munge/munged.log" --seed-file="$W/munge/munged.seed" ||
  die "munged did not start: $(tail -n 5 "$W/munge/munged.log" 2>/dev/null)"
for _ in $(seq 50); do [[ -S $MSOCK ]] && break; sleep 0.1; done
munge -S "$MSOCK" -n | unmunge -S "$MSOCK" >/dev/null || die "munge round trip failed"
say "munged up"

# --- slurm.conf, cgroup.conf, gres.conf --------------------------------------------------------------------------
NODE=$(hostname -s)
mknod "$W/fakegpu/nvidia0" c 1 3
mknod "$W/fakegpu/nvidia1" c 1 3
MEM=$(($(free -m | awk '/^Mem:/{print $2}') * 85 / 100))
# cgroup v1 (these machines: hybrid, every controller on v1) gives real limits; elsewhere fall back to plain process
# tracking, which still lets scancel reach every process of a job.
if [[ -d /sys/fs/cgroup/freezer && -d /sys/fs/cgroup/memory && -d /sys/fs/cgroup/cpuset ]]; then
  TRACKING="ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup,task/affinity
JobAcctGatherType=jobacct_gather/cgroup"
  cat >"$ETC/cgroup.conf" <<CONF
CgroupPlugin=cgroup/v1
ConstrainCores=yes
ConstrainRAMSpace=yes
CONF
else
  say "no cgroup v1 freezer/memory/cpuset: proctrack/linuxproc, no cgroup limits"
  TRACKING="ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none"
fi
# OverSubscribe=FORCE: the backend and both render tasks (one CPU each) share the 2-CPU node; memory and the two
# fake GPUs stay consumable, so the GPU request is still enforced.
cat >"$SLURM_CONF" <<CONF
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MSOCK
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$W/spool/ctld
SlurmdSpoolDir=$W/spool/d
SlurmctldPidFile=$W/run/slurmctld.pid
SlurmdPidFile=$W/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
$TRACKING
JobCompType=jobcomp/filetxt
JobCompLoc=$LOGS/jobcomp.log
AccountingStorageType=accounting_storage/none
MailProg=/bin/true
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
EnforcePartLimits=ALL
ReturnToService=2
KillWait=5
FirstJobId=$((1000 + RANDOM))
MinJobAge=300
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$MEM Gres=gpu:fake:2 State=UNKNOWN
PartitionName=sysgpu Nodes=$NODE Default=YES MaxTime=INFINITE OverSubscribe=FORCE:4 State=UP
CONF
cat >"$ETC/gres.conf" <<CONF
AutoDetect=off
NodeName=$NODE Name=gpu Type=fake File=$W/fakegpu/nvidia[0-1]
CONF

slurmctld -f "$SLURM_CONF" -i || die "slurmctld did not start"
slurmd -f "$SLURM_CONF" || die "slurmd did not start"
state=
for _ in $(seq 150); do
  state=$(sinfo -h -o %T 2>/dev/null || true)
  [[ $state == idle ]] && break
  sleep 0.2
done
[[ $state == idle ]] || die "node not idle after 30 s (sinfo: ${state:-no answer})"
say "slurmctld and slurmd up, node $NODE idle: $(sinfo -h -o '%P %c CPUs %m MB %G')"

# --- spec, render, validate, sbatch --test-only -------------------------------------------------------------------
# bin_dir is a flat folder of programs (an install prefix's bin/); the build tree has one folder per program, so
# the test links them into one.
mkdir -p "$W/bin"
for b in sparc-mas sparc-signal sparc-stream; do ln -s "$BIN_DIR/$b/$b" "$W/bin/$b"; done
SPEC=$W/sparc.toml
cat >"$SPEC" <<TOML
# slurm_test.sh: the native HPC runtime on a single-node cluster.
[stack]
name = "sparcsys"
bind = "127.0.0.1"
state_dir = "$STATE"

[signal]
port = $SIGNAL_PORT
metrics_port = $METRICS_PORT

[mas]
port = $MAS_PORT

[renderer]
instances = 2
health_port = $HEALTH_PORT
width = 320
height = 240
fps = 15

[webrtc]
udp_min = $UDP_MIN
udp_max = $UDP_MAX
ice_bind = "127.0.0.1"

[hpc]
partition = "sysgpu"
gpus = 1
cpus = 1
memory = "1G"
time = "00:10:00"
runtime = "native"
bin_dir = "$W/bin"
TOML
"$SPARC" -f "$SPEC" validate >"$W/validate.txt" 2>&1 || {
  cat "$W/validate.txt" >&2
  die "sparc validate rejects the test spec"
}
"$SPARC" -f "$SPEC" render -t slurm -o "$OUT" >/dev/null || die "sparc render -t slurm failed"
for f in backend render; do
  [[ -f $OUT/slurm/$f.sbatch ]] || die "render wrote no slurm/$f.sbatch"
  bash -n "$OUT/slurm/$f.sbatch" || die "slurm/$f.sbatch: bash -n fails"
  (cd "$OUT" && sbatch --test-only "slurm/$f.sbatch") >"$W/test-only-$f.txt" 2>&1 || {
    cat "$W/test-only-$f.txt" >&2
    die "sbatch --test-only rejects slurm/$f.sbatch"
  }
done
say "rendered; sbatch --test-only accepts both: $(tr '\n' ' ' <"$W/test-only-render.txt")"

# --- helpers for jobs ---------------------------------------------------------------------------------------------
submit() { # submit VAR [SBATCH OPTIONS...] SCRIPT: the job id goes to VAR (and to the list the EXIT trap cancels)
  local -n id_=$1
  shift
  id_=$(cd "$OUT" && sbatch --parsable "$@") || die "sbatch $* failed"
  id_=${id_%%;*}
  jobs_seen+=("$id_")
}
job_field() { # job_field JOBID FIELD: one field of `scontrol show job` (first task of an array)
  scontrol -o show job "$1" 2>/dev/null | head -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}
# wait_backend JOBID: until backend.env names the job; fails at once if the job ends.
wait_backend() {
  local j=$1 deadline=$((SECONDS + 60)) st
  while ! grep -qx "SPARC_BACKEND_JOB=$j" "$STATE/backend.env" 2>/dev/null; do
    st=$(job_field "$j" JobState)
    case $st in PENDING | CONFIGURING | RUNNING) ;; *) die "backend job $j is $st before it was healthy" ;; esac
    ((SECONDS < deadline)) || die "backend job $j not healthy after 60 s (state $st)"
    sleep 0.3
  done
}
# wait_gone JOBID...: until squeue lists none of the jobs (30 s).
wait_gone() {
  local deadline=$((SECONDS + 30)) left ids
  ids=$(IFS=, && echo "$*")
  while :; do
    left=$(squeue -h -j "$ids" -t PENDING,CONFIGURING,RUNNING,COMPLETING -o '%i %T' 2>/dev/null || true)
    [[ -z $left ]] && return 0
    ((SECONDS < deadline)) || die "jobs still listed 30 s after scancel: $left"
    sleep 0.3
  done
}
# wait_no_procs SECONDS: until no sparc-* process of this cluster's jobs is left.
wait_no_procs() {
  local deadline=$((SECONDS + $1)) left
  while :; do
    left=$(our_procs)
    [[ -z $left ]] && return 0
    ((SECONDS < deadline)) || die "sparc processes left $1 s after the jobs ended: $(echo "$left" | tr '\n' ' ')"
    sleep 0.3
  done
}
run_check() { # run_check OUTFILE: sparc check against the backend's signaling and sparc-mas; returns its status
  "$SPARC" -f "$SPEC" check --url "http://$SIGNAL_IP:$SIGNAL_PORT" --mas-url "http://$SIGNAL_IP:$MAS_PORT" \
    --timeout-ms 5000 >"$1" 2>&1
}
expect_ok() { # expect_ok OUTFILE NAME...: each named check passed
  local f=$1 n
  shift
  for n in "$@"; do
    grep -qE "^  ok +$n " "$f" || {
      cat "$f" >&2
      die "sparc check: '$n' did not pass"
    }
  done
}

# --- the backend job ----------------------------------------------------------------------------------------------
submit B slurm/backend.sbatch
say "backend job $B submitted"
wait_backend "$B"
BACKEND_HOST=$(sed -n 's/^SPARC_SIGNAL_HOST=//p' "$STATE/backend.env")
grep -qx "SPARC_SIGNAL_URL=http://$BACKEND_HOST:$SIGNAL_PORT" "$STATE/backend.env" ||
  die "backend.env: unexpected SPARC_SIGNAL_URL: $(cat "$STATE/backend.env")"
grep -qx "SPARC_MAS_URL=http://$BACKEND_HOST:$MAS_PORT" "$STATE/backend.env" ||
  die "backend.env: unexpected SPARC_MAS_URL: $(cat "$STATE/backend.env")"
# The spec binds 127.0.0.1 (one node): the services answer there whatever the node name resolves to.
SIGNAL_IP=$(getent ahostsv4 "$BACKEND_HOST" | awk 'NR == 1 {print $1}')
if [[ $SIGNAL_IP != 127.0.0.1 ]]; then
  say "note: $BACKEND_HOST resolves to ${SIGNAL_IP:-nothing}; signaling binds 127.0.0.1, so that is used"
  SIGNAL_IP=127.0.0.1
fi
[[ $(job_field "$B" JobState) == RUNNING ]] || die "backend job $B is not RUNNING"
say "backend job $B running and healthy on $BACKEND_HOST (backend.env written)"
curl -fsS -m 5 "http://$SIGNAL_IP:$METRICS_PORT/health" >/dev/null || die "signal /health on $METRICS_PORT does not answer"
if run_check "$W/check-backend.txt"; then
  cat "$W/check-backend.txt" >&2
  die "sparc check passed with no renderer running: the renderer check proves nothing"
fi
expect_ok "$W/check-backend.txt" "signal /config" "web client" "backend health" "chat turn" "signaling connect"
grep -qE '^  FAIL +renderer answers ' "$W/check-backend.txt" || {
  cat "$W/check-backend.txt" >&2
  die "sparc check failed for a reason other than the missing renderers"
}
say "sparc check: signal, web client, backend, chat turn and signaling pass (renderer answers fails, as it must)"

# --- the render array ---------------------------------------------------------------------------------------------
submit A --export="ALL,SPARC_SIGNAL_HOST=$SIGNAL_IP" slurm/render.sbatch
say "render array $A submitted (SPARC_SIGNAL_HOST=$SIGNAL_IP)"
deadline=$((SECONDS + 90))
while :; do
  running=$(squeue -h -j "$A" -t RUNNING -o %i 2>/dev/null | grep -c "^${A}_" || true)
  # Public mode without a streamer registry: each renderer holds one WebSocket to signaling.
  sockets=$(curl -fsS -m 2 "http://$SIGNAL_IP:$METRICS_PORT/api/status" 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["websockets"])' 2>/dev/null || echo 0)
  connected=$(cat "$STATE"/logs/renderer-[12]-*.log 2>/dev/null | grep -c '"event":"signaling_connected"' || true)
  ((running == 2 && sockets >= 2 && connected >= 2)) && break
  for t in 0 1; do
    st=$(scontrol -o show job "${A}_$t" 2>/dev/null | tr ' ' '\n' | sed -n 's/^JobState=//p')
    case ${st:-PENDING} in PENDING | CONFIGURING | RUNNING) ;; *) die "render task ${A}_$t is $st" ;; esac
  done
  ((SECONDS < deadline)) ||
    die "after 90 s: $running render task(s) running, $connected renderer(s) connected to signaling," \
      "$sockets WebSocket(s) open there (want 2, 2, 2)"
  sleep 0.5
done
for t in 0 1; do
  curl -fsS -m 5 "http://127.0.0.1:$((HEALTH_PORT + t))/health" >/dev/null ||
    die "renderer-$((t + 1)) /health on $((HEALTH_PORT + t)) does not answer"
done
say "both render tasks running; both renderers connected (signaling's /api/status: $sockets WebSockets);" \
  "both renderers' /health answer"
run_check "$W/check-full.txt" || {
  cat "$W/check-full.txt" >&2
  die "sparc check fails with the render array running"
}
expect_ok "$W/check-full.txt" "signal /config" "web client" "backend health" "chat turn" "signaling connect" \
  "renderer answers"
say "sparc check passes in full: $(grep -E '^  ok +renderer answers' "$W/check-full.txt" | sed 's/  */ /g')"

# Each task got a fake GPU of its own (--gres=gpu:1): SLURM_JOB_GPUS differs between the two renderers.
gpus=()
for t in 0 1; do
  pid=$(sed -n 's/.*sparc: renderer-[0-9]* is up (pid \([0-9]*\)).*/\1/p' "$OUT/sparcsys-render-${A}_$t.out")
  [[ -n $pid ]] || die "no renderer pid in sparcsys-render-${A}_$t.out"
  gpus+=("$(tr '\0' '\n' <"/proc/$pid/environ" | sed -n 's/^SLURM_JOB_GPUS=//p')")
  [[ $t == 1 ]] && RENDERER2_PID=$pid
done
[[ -n ${gpus[0]} && -n ${gpus[1]} && ${gpus[0]} != "${gpus[1]}" ]] ||
  die "render tasks' GPUs: '${gpus[0]}' and '${gpus[1]}' (want two different fake GPUs)"
say "render tasks hold fake GPUs ${gpus[0]} and ${gpus[1]}"

# --- a renderer dies: its task fails, naming it; the other task runs on -------------------------------------------
kill -KILL "$RENDERER2_PID"
deadline=$((SECONDS + 30))
while :; do
  st=$(scontrol -o show job "${A}_1" 2>/dev/null | tr ' ' '\n' | sed -n 's/^JobState=//p')
  case $st in PENDING | CONFIGURING | RUNNING | COMPLETING) ;; *) break ;; esac
  ((SECONDS < deadline)) || die "render task ${A}_1 still $st 30 s after its renderer was killed"
  sleep 0.3
done
[[ $st == FAILED ]] || die "render task ${A}_1 ended $st after its renderer died; want FAILED"
grep -q 'error: renderer-2 exited with status 137; stopping the job' "$OUT/sparcsys-render-${A}_1.err" ||
  die "sparcsys-render-${A}_1.err does not name renderer-2: $(tail -n 3 "$OUT/sparcsys-render-${A}_1.err")"
[[ $(scontrol -o show job "${A}_0" | tr ' ' '\n' | sed -n 's/^JobState=//p') == RUNNING ]] ||
  die "render task ${A}_0 stopped when task 1's renderer died"
say "kill -9 renderer-2: task ${A}_1 FAILED naming it, task ${A}_0 still running"

# --- scancel: everything stops --------------------------------------------------------------------------------------
[[ -n $(our_procs) ]] || die "no sparc process of the jobs found before scancel (environment match broken?)"
scancel "$A" "$B"
wait_gone "$A" "$B"
wait_no_procs 20
[[ ! -e $STATE/backend.env ]] || die "backend.env still there after the backend job was cancelled"
grep -q 'sparc: stopped (exit status 143)' "$OUT/sparcsys-backend-$B.out" ||
  die "the backend job's trap did not run (no 'stopped (exit status 143)' in sparcsys-backend-$B.out)"
grep -q 'sparc: stopped (exit status 143)' "$OUT/sparcsys-render-${A}_0.out" ||
  die "render task 0's trap did not run (no 'stopped (exit status 143)' line)"
say "scancel: both jobs gone, no sparc-* process left, backend.env withdrawn, traps ran"

# --- a service dies: the backend job fails, naming it -------------------------------------------------------------
submit B2 slurm/backend.sbatch
wait_backend "$B2"
MAS_PID=$(sed -n 's/.*sparc: mas is up (pid \([0-9]*\)).*/\1/p' "$OUT/sparcsys-backend-$B2.out")
[[ -n $MAS_PID && $(cat "/proc/$MAS_PID/comm" 2>/dev/null) == sparc-mas ]] ||
  die "cannot find sparc-mas's pid in sparcsys-backend-$B2.out (got '${MAS_PID}')"
say "backend job $B2 healthy; kill -9 sparc-mas (pid $MAS_PID)"
kill -KILL "$MAS_PID"
deadline=$((SECONDS + 30))
while :; do
  st=$(job_field "$B2" JobState)
  case $st in PENDING | CONFIGURING | RUNNING | COMPLETING) ;; *) break ;; esac
  ((SECONDS < deadline)) || die "backend job $B2 still $st 30 s after sparc-mas was killed"
  sleep 0.3
done
code=$(job_field "$B2" ExitCode)
[[ $st == FAILED ]] || die "backend job $B2 ended $st (exit $code) after sparc-mas died; want FAILED"
[[ $code == 1:0 ]] || die "backend job $B2 exit code $code; want 1:0"
grep -q 'error: mas exited with status 137; stopping the job' "$OUT/sparcsys-backend-$B2.err" ||
  die "sparcsys-backend-$B2.err does not name mas: $(tail -n 3 "$OUT/sparcsys-backend-$B2.err")"
grep -q "JobId=$B2 .*JobState=FAILED" "$LOGS/jobcomp.log" || die "jobcomp.log has no FAILED record for job $B2"
wait_no_procs 20
[[ ! -e $STATE/backend.env ]] || die "backend.env still there after the backend job failed"
say "killing sparc-mas failed job $B2 (JobState=FAILED ExitCode=$code, '.err' names mas); signal stopped too"
