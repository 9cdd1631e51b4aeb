// SLURM batch scripts: the backend (everything but the renderers) as one job on one node, the renderers as a job
// array with a GPU per task. Both start services in order behind health checks and fail loudly when a service
// exits, because a crashed service hidden behind `&` + `wait` until the wall time is what the old script did.
#include "deploy/render.hpp"
#include "deploy/renderers/containers.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace deploy {
namespace {

/// Marks a shell variable inside an argument: "\x01NAME\x01" becomes ${NAME} in the script.
constexpr char var_mark = '\x01';

std::string var(std::string_view name) {
  return var_mark + std::string(name) + var_mark;
}

constexpr std::string_view container_data = "/var/lib/sparc";
constexpr std::string_view container_secrets = "/run/secrets/";

/// How long a task waits for the backend's address and for signaling to answer before it gives up.
constexpr int backend_wait_s = 600;

bool is_plain_shell(std::string_view w) {
  if (w.empty()) return false;
  return std::all_of(w.begin(), w.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_@%+=:,./-").find(c) != std::string_view::npos;
  });
}

/// One bash word: bare when safe, single-quoted when literal, double-quoted when it holds a variable.
std::string shell_word(std::string_view text) {
  if (text.find(var_mark) == std::string_view::npos) {
    if (is_plain_shell(text)) return std::string(text);
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }
  std::string out = "\"";
  bool in_var = false;
  for (char c : text) {
    if (c == var_mark) {
      out += in_var ? "}" : "${";
      in_var = !in_var;
      continue;
    }
    if (!in_var && std::string_view("\\\"$`").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out + "\"";
}

/// A command as it is laid out in the script: the runtime's words, one option per line, then the program's
/// arguments packed onto lines (a flag stays with its value), so neither can be mistaken for the other.
struct command {
  std::vector<std::vector<std::string>> runtime;  ///< lines before the arguments
  std::vector<std::string> args;
};

/// Width the packed argument lines stay within.
constexpr std::size_t line_width = 100;

std::string shell_command(const command& cmd, std::string_view indent) {
  std::vector<std::string> lines;
  for (const auto& words : cmd.runtime) {
    std::string line;
    for (const auto& w : words) line += (line.empty() ? "" : " ") + shell_word(w);
    lines.push_back(std::move(line));
  }
  std::string line;
  const auto is_flag = [](const std::string& w) { return w.size() > 1 && w.starts_with("-"); };
  for (std::size_t i = 0; i < cmd.args.size();) {
    // A flag and its first value never part; further values of a flag may go to the next line.
    std::string unit = shell_word(cmd.args[i]);
    if (is_flag(cmd.args[i++]) && i < cmd.args.size() && !is_flag(cmd.args[i])) unit += " " + shell_word(cmd.args[i++]);
    if (!line.empty() && indent.size() + line.size() + 1 + unit.size() > line_width) {
      lines.push_back(std::move(line));
      line.clear();
    }
    line += (line.empty() ? "" : " ") + unit;
  }
  if (!line.empty()) lines.push_back(std::move(line));
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) out += (i ? " \\\n" + std::string(indent) : "") + lines[i];
  return out;
}

bool is_apptainer(const stack& st) {
  return st.spec.hpc.runtime == "apptainer";
}

bool uses_data(const service& s) {
  return std::any_of(s.args.begin(), s.args.end(), [](const std::string& a) { return a.find("{data}") != a.npos; });
}

/// The image stem build-sifs.sh gives each role (see apptainer.cpp).
std::string sif_name(const stack& st, const service& s) {
  if (s.role != "renderer") return s.role;
  return st.spec.renderer.kind == "unity" ? "unity-server" : "stream";
}

/// Services answer on the address they bind; a wildcard bind answers on loopback.
std::string probe_host(const stack& st) {
  const auto& b = st.spec.bind;
  return b.empty() || b == "0.0.0.0" || b == "::" ? "127.0.0.1" : b;
}

bool is_loopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

/// GPU model servers load for minutes before they answer.
int start_limit_s(const service& s) {
  return s.role == "riva" || s.role == "llm" ? 900 : 120;
}

/// The command that runs one service: natively the model's program (from bin_dir or PATH); under Apptainer the
/// SIF's runscript, which names the program inside the image (apptainer/*.def). Placeholders come from `values`.
command service_command(const stack& st, const service& s, std::map<std::string, std::string> values,
                        const std::vector<std::string>& args, const std::vector<std::string>& extra_apptainer = {}) {
  const auto& hpc = st.spec.hpc;
  command cmd;
  if (is_apptainer(st)) {
    values["data"] = std::string(container_data);
    for (const auto& [name, file] : s.secrets) values["secret:" + name] = std::string(container_secrets) + name;
    cmd.runtime.push_back({"apptainer", "run"});
    if (s.gpus > 0) cmd.runtime.push_back({"--nv"});
    for (const auto& b : hpc.binds) cmd.runtime.push_back({"--bind", b});
    // The spec's "host:container[:ro]" volumes read the same as Apptainer binds.
    for (const auto& v : s.volumes) cmd.runtime.push_back({"--bind", v});
    if (uses_data(s))
      cmd.runtime.push_back({"--bind", var("SPARC_STATE") + "/data/" + s.name + ":" + std::string(container_data)});
    for (const auto& [name, file] : s.secrets)
      cmd.runtime.push_back({"--bind", file + ":" + std::string(container_secrets) + name + ":ro"});
    for (const auto& [key, value] : s.env) cmd.runtime.push_back({"--env", key + "=" + value});
    for (std::size_t i = 0; i + 1 < extra_apptainer.size(); i += 2)
      cmd.runtime.push_back({extra_apptainer[i], extra_apptainer[i + 1]});
    cmd.runtime.push_back({var("SPARC_SIF_DIR") + "/" + sif_name(st, s) + ".sif"});
  } else {
    values["data"] = var("SPARC_STATE") + "/data/" + s.name;
    for (const auto& [name, file] : s.secrets) values["secret:" + name] = file;
    std::vector<std::string> head;
    if (!s.env.empty()) {
      head.emplace_back("env");
      for (const auto& [key, value] : s.env) head.push_back(key + "=" + value);
    }
    const bool from_bin_dir = !hpc.bin_dir.empty() && s.program.find('/') == std::string::npos;
    head.push_back(from_bin_dir ? var("SPARC_BIN_DIR") + "/" + s.program : s.program);
    cmd.runtime.push_back(std::move(head));
  }
  for (const auto& a : args) cmd.args.push_back(expand(a, values));
  return cmd;
}

std::string sbatch_header(const stack& st, std::string_view job, bool array) {
  const auto& hpc = st.spec.hpc;
  std::string out = "#SBATCH --job-name=" + st.spec.name + "-" + std::string(job) + "\n";
  if (!hpc.partition.empty()) out += "#SBATCH --partition=" + hpc.partition + "\n";
  if (!hpc.account.empty()) out += "#SBATCH --account=" + hpc.account + "\n";
  if (!hpc.qos.empty()) out += "#SBATCH --qos=" + hpc.qos + "\n";
  out += "#SBATCH --nodes=1\n#SBATCH --ntasks=1\n";
  out += "#SBATCH --cpus-per-task=" + std::to_string(hpc.cpus) + "\n";
  out += "#SBATCH --mem=" + hpc.memory + "\n";
  out += "#SBATCH --time=" + hpc.time + "\n";
  // SIGTERM to this script a minute before the wall time, so the trap stops the services cleanly.
  out += "#SBATCH --signal=B:TERM@60\n#SBATCH --requeue\n";
  const std::string pattern = array ? "%x-%A_%a" : "%x-%j";
  out += "#SBATCH --output=" + pattern + ".out\n#SBATCH --error=" + pattern + ".err\n";
  return out;
}

/// What both jobs share: strict mode, modules, folders, logging, the health probe, start-up and the cleanup trap.
std::string prelude(const stack& st) {
  const auto& hpc = st.spec.hpc;
  std::string out;
  if (!hpc.modules.empty()) {
    out += "set -eo pipefail\n# Before set -u: module systems' shell functions read unset variables.\n";
    for (const auto& m : hpc.modules) out += "module load " + shell_word(m) + "\n";
  }
  out += "set -euo pipefail\n\n";
  const auto under_submit_dir = [](const std::string& path) {
    return path.starts_with("/") ? shell_word(path) : "\"${SLURM_SUBMIT_DIR:-$PWD}\"/" + shell_word(path);
  };
  out += "SPARC_STATE=${SPARC_STATE:-" + under_submit_dir(st.spec.state_dir) + "}\n";
  if (is_apptainer(st))
    out += "SPARC_SIF_DIR=${SPARC_SIF_DIR:-" + under_submit_dir(hpc.sif_dir) + "}\n";
  else if (!hpc.bin_dir.empty())
    out += "SPARC_BIN_DIR=${SPARC_BIN_DIR:-" + under_submit_dir(hpc.bin_dir) + "}\n";
  out += "job=${SLURM_JOB_ID:-$$}\nmkdir -p \"$SPARC_STATE/logs\"\n";
  out += R"sh(
log() { printf '%s sparc: %s\n' "$(date '+%F %T')" "$*"; }
fail() {
  log "error: $*" >&2
  exit 1
}

# probe HOST PORT [PATH]: succeeds once PATH answers HTTP 200, or without PATH once the port takes a connection.
# bash's /dev/tcp because compute nodes may lack curl; timeout bounds a host that drops packets.
probe() {
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    [[ -z ${3:-} ]] && exit 0
    printf "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$3" "$1" >&3
    read -r _ code _ <&3 && [[ $code == 200 ]]' probe "$@" 2>/dev/null
}

names=()
pids=()

# start NAME HOST PORT PATH SECONDS COMMAND...: runs COMMAND in the background (output in $SPARC_STATE/logs) and
# returns once it is healthy (PORT 0: still running after 5 s); fails the job if it exits or stays unhealthy.
start() {
  local name=$1 host=$2 port=$3 path=$4 limit=$5
  shift 5
  local out="$SPARC_STATE/logs/$name-$job.log"
  log "starting $name (log: $out)"
  "$@" >"$out" 2>&1 &
  local pid=$!
  names+=("$name")
  pids+=("$pid")
  local began=$SECONDS deadline=$((SECONDS + limit))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$out" >&2 || true
      fail "$name exited during start-up (log: $out)"
    fi
    if [[ $port == 0 ]]; then
      if ((SECONDS - began >= 5)); then break; fi
    elif probe "$host" "$port" "$path"; then
      break
    fi
    ((SECONDS < deadline)) || fail "$name not healthy on $host:$port$path after $limit s (log: $out)"
    sleep 1
  done
  log "$name is up (pid $pid)"
}

# watch: returns only by failing the job, naming the first service that exits (wait -n wakes on any child).
watch() {
  local status=0 i
  wait -n || status=$?
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[i]}" 2>/dev/null; then
      tail -n 20 "$SPARC_STATE/logs/${names[i]}-$job.log" >&2 || true
      fail "${names[i]} exited with status $status; stopping the job"
    fi
  done
  fail "a service exited with status $status; stopping the job"
}

# stop_all [STATUS]: on any exit, SIGTERM to the services, newest first, SIGKILL to what is left after 10 s.
stop_all() {
  local status=${1:-$?} i deadline
  trap - EXIT TERM INT
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  deadline=$((SECONDS + 10))
  for i in "${!pids[@]}"; do
    while kill -0 "${pids[i]}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    kill -KILL "${pids[i]}" 2>/dev/null || true
  done
  log "stopped (exit status $status)"
  exit "$status"
}
trap 'log "SIGTERM: stopping"; exit 143' TERM
trap 'log "SIGINT: stopping"; exit 130' INT
)sh";
  return out;
}

/// Checks that fail fast, before anything starts: the runtime, each image or binary, and each secret file.
std::string preflight(const stack& st, const std::vector<const service*>& services) {
  const auto& hpc = st.spec.hpc;
  std::string out;
  if (is_apptainer(st)) {
    std::string hint = "install it";
    if (!hpc.modules.empty()) hint = "module load failed?";
    out += "command -v apptainer >/dev/null || fail \"apptainer not found (" + hint + ")\"\n";
    std::vector<std::string> sifs;
    for (const auto* s : services)
      if (std::find(sifs.begin(), sifs.end(), sif_name(st, *s)) == sifs.end()) sifs.push_back(sif_name(st, *s));
    out += "for sif in";
    for (const auto& n : sifs) out += " " + n;
    out +=
        "; do\n  [[ -f $SPARC_SIF_DIR/$sif.sif ]] || fail \"no $SPARC_SIF_DIR/$sif.sif: run apptainer/build-sifs.sh\"\n"
        "done\n";
  } else {
    for (const auto* s : services) {
      const bool from_bin_dir = !hpc.bin_dir.empty() && s->program.find('/') == std::string::npos;
      const auto program = shell_word(from_bin_dir ? var("SPARC_BIN_DIR") + "/" + s->program : s->program);
      out += "command -v " + program + " >/dev/null || fail \"" + s->program + " not found (bin_dir or PATH)\"\n";
    }
  }
  std::set<std::pair<std::string, std::string>> secrets;
  for (const auto* s : services) secrets.insert(s->secrets.begin(), s->secrets.end());
  for (const auto& [name, file] : secrets)
    out += "[[ -r " + shell_word(file) + " ]] || fail \"secret " + name + ": cannot read " + file + "\"\n";
  if (std::any_of(services.begin(), services.end(), [](const service* s) { return s->role == "coturn"; }))
    out +=
        "[[ -r $SPARC_COTURN_CONF ]] || fail \"no $SPARC_COTURN_CONF: render the coturn target too, or set "
        "SPARC_COTURN_CONF\"\n";
  return out;
}

/// coturn reads its shared secret only from its configuration, and rendered files never hold secrets: the job
/// writes a private copy (0600) of coturn/turnserver.conf with the secret and coturn's own paths appended.
std::string coturn_config(const stack& st, const service& s) {
  const std::string data = is_apptainer(st) ? std::string(container_data) : "$SPARC_STATE/data/" + s.name;
  std::string out =
      "(\n  umask 077\n  cat \"$SPARC_COTURN_CONF\" - >\"$SPARC_STATE/data/" + s.name + "/turnserver.conf\" <<EOF\n";
  if (auto it = s.secrets.find("turn_secret"); it != s.secrets.end())
    out += "static-auth-secret=$(head -n 1 " + shell_word(it->second) + ")\n";
  out += "userdb=" + data + "/turndb\npidfile=" + data + "/turnserver.pid\nEOF\n)\n";
  return out;
}

std::string start_line(const stack& st, const service& s, const std::string& name, const std::string& port,
                       const command& cmd) {
  const std::string path = s.health_port != 0 ? s.health_path : "";
  return "start " + name + " " + probe_host(st) + " " + port + " " + (path.empty() ? "''" : shell_word(path)) + " " +
         std::to_string(start_limit_s(s)) + " \\\n  " + shell_command(cmd, "    ") + "\n";
}

std::string backend_script(const stack& st) {
  std::vector<const service*> services;
  int gpus = 0;
  for (const auto& s : st.services) {
    if (s.role == "renderer" || s.external) continue;
    services.push_back(&s);
    gpus += s.gpus;
  }
  std::string list;
  for (const auto* s : services) list += (list.empty() ? "" : ", ") + s->name;
  // The model always has both (build_stack).
  const auto* sig = st.find("signal");
  const auto* mas = st.find("mas");

  std::string out = "#!/bin/bash\n";
  out += "# backend.sbatch: the backend of SPARC stack '" + st.spec.name + "' on one node: " + list + ".\n";
  out += "# Rendered by `sparc render --target slurm` from the stack spec; change the spec and render again.\n#\n";
  out += "# Submit from the folder `sparc render` wrote (state goes to " + st.spec.state_dir +
         "/ there, or to $SPARC_STATE):\n";
  out += "#   sbatch slurm/backend.sbatch\n#   sbatch --dependency=after:BACKEND_JOB_ID slurm/render.sbatch\n";
  out += "# Services start in dependency order, each once the one before answers its health check. When any of them\n";
  out += "# exits, the job stops the rest and fails naming it. The node's address goes to $SPARC_STATE/backend.env\n";
  out += "# for the render jobs while this job runs.\n";
  if (is_loopback(st.spec.bind))
    out += "# Warning: the spec binds " + st.spec.bind + ", so render tasks on other nodes cannot reach signaling.\n";
  out += sbatch_header(st, "backend", false);
  if (gpus > 0) out += "#SBATCH --gres=gpu:" + std::to_string(gpus) + "\n";
  out += prelude(st);
  out += R"sh(
# Withdraws backend.env (if it is still ours) before stopping the services.
cleanup() {
  local status=$?
  if [[ -f $SPARC_STATE/backend.env ]] && grep -qx "SPARC_BACKEND_JOB=$job" "$SPARC_STATE/backend.env"; then
    rm -f "$SPARC_STATE/backend.env"
  fi
  stop_all "$status"
}
trap cleanup EXIT

)sh";
  if (st.find("coturn") != nullptr)
    out += "SPARC_COTURN_CONF=${SPARC_COTURN_CONF:-\"${SLURM_SUBMIT_DIR:-$PWD}\"/coturn/turnserver.conf}\n";
  out += preflight(st, services);
  for (const auto* s : services)
    if (uses_data(*s)) out += "mkdir -p \"$SPARC_STATE/data/" + s->name + "\"\n";
  const std::map<std::string, std::string> values{{"signal_host", "127.0.0.1"}, {"mas_host", "127.0.0.1"}};
  for (const auto* s : services) {
    out += "\n";
    if (s->role == "coturn") out += coturn_config(st, *s);
    out += start_line(st, *s, s->name, std::to_string(s->health_port), service_command(st, *s, values, s->args));
  }
  // Written whole, then renamed, so a render task never reads half a file.
  const auto signal_url = "http://$host:" + std::to_string(sig->ports.front().port);
  const auto mas_url = "http://$host:" + std::to_string(mas->ports.front().port);
  out += "\nhost=${SLURMD_NODENAME:-$(hostname)}\ncat >\"$SPARC_STATE/backend.env.$job\" <<EOF\n";
  out += "SPARC_BACKEND_JOB=$job\nSPARC_SIGNAL_HOST=$host\nSPARC_SIGNAL_URL=" + signal_url +
         "\nSPARC_MAS_HOST=$host\nSPARC_MAS_URL=" + mas_url + "\nEOF\n";
  out += "mv -f \"$SPARC_STATE/backend.env.$job\" \"$SPARC_STATE/backend.env\"\n";
  out += "log \"backend up on $host: signaling " + signal_url + "/, sparc-mas " + mas_url + "/\"\nwatch\n";
  return out;
}

std::string render_script(const stack& st) {
  const auto renderers = st.by_role("renderer");
  const auto& hpc = st.spec.hpc;
  const auto& r = *renderers.front();
  const bool reference = st.spec.renderer.kind != "unity";
  const auto instances = static_cast<int>(renderers.size());
  const auto* sig = st.find("signal");

  std::string out = "#!/bin/bash\n";
  out += "# render.sbatch: the renderers of SPARC stack '" + st.spec.name + "', " + std::to_string(instances) + " " +
         (reference ? "sparc-stream" : "Unity player") + " instance(s) as one array task\n";
  out += "# each, connecting to the backend job's signaling server.\n";
  out += "# Rendered by `sparc render --target slurm` from the stack spec; change the spec and render again.\n#\n";
  out += "#   sbatch --dependency=after:BACKEND_JOB_ID slurm/render.sbatch   (from the folder backend.sbatch ran in)\n";
  out += "# A task finds signaling through $SPARC_SIGNAL_HOST (sbatch --export=ALL,SPARC_SIGNAL_HOST=NODE) or the\n";
  out += "# $SPARC_STATE/backend.env the backend job writes, waiting up to " + std::to_string(backend_wait_s / 60) +
         " minutes for it and for signaling to answer.\n# When its renderer exits, the task fails naming it.\n";
  if (hpc.gpus > 0 && r.gpus == 0)
    out +=
        "# The reference renderer encodes on the CPU ([renderer] gpus = 0): [hpc] gpus still reserves a GPU per "
        "task.\n";
  out += sbatch_header(st, "render", true);
  out += "#SBATCH --array=0-" + std::to_string(instances - 1) + "\n";
  if (hpc.gpus > 0) out += "#SBATCH --gres=gpu:" + std::to_string(hpc.gpus) + "\n";
  out += prelude(st);
  out += "trap stop_all EXIT\n\n";
  out += "task=${SLURM_ARRAY_TASK_ID:-0}\nSPARC_RENDERER=renderer-$((task + 1))\n";
  if (reference) out += "SPARC_HEALTH_PORT=$((" + std::to_string(r.health_port) + " + task))\n";
  // The player's wrapper starts Xvfb on $DISPLAY; tasks sharing a node need displays of their own.
  const bool own_display = !reference && is_apptainer(st);
  if (own_display) out += "SPARC_DISPLAY=$((99 + task))\n";

  const auto signal_port = sig != nullptr ? std::to_string(sig->health_port) : std::string("0");
  const std::string signal_path = sig != nullptr ? sig->health_path : "";
  out += "\nif [[ -z ${SPARC_SIGNAL_HOST:-} ]]; then\n";
  out += "  env_file=\"$SPARC_STATE/backend.env\"\n  deadline=$((SECONDS + " + std::to_string(backend_wait_s) + "))\n";
  out += R"sh(  [[ -f $env_file ]] || log "waiting for $env_file (the backend job writes it once healthy)"
  until [[ -f $env_file ]]; do
    ((SECONDS < deadline)) || fail "no $env_file: is the backend job running? (or set SPARC_SIGNAL_HOST)"
    sleep 5
  done
  while IFS='=' read -r key value; do
    case $key in
      SPARC_SIGNAL_HOST) SPARC_SIGNAL_HOST=$value ;;
      SPARC_MAS_HOST) SPARC_MAS_HOST=${SPARC_MAS_HOST:-$value} ;;
    esac
  done <"$env_file"
  [[ -n ${SPARC_SIGNAL_HOST:-} ]] || fail "$env_file names no SPARC_SIGNAL_HOST"
fi
SPARC_MAS_HOST=${SPARC_MAS_HOST:-$SPARC_SIGNAL_HOST}
)sh";
  out += "deadline=$((SECONDS + " + std::to_string(backend_wait_s) + "))\n";
  out += "until probe \"$SPARC_SIGNAL_HOST\" " + signal_port + " " +
         (signal_path.empty() ? "''" : shell_word(signal_path)) + "; do\n";
  out += "  ((SECONDS < deadline)) || fail \"signaling on $SPARC_SIGNAL_HOST:" + signal_port + " does not answer\"\n";
  out += "  sleep 5\ndone\nlog \"signaling on $SPARC_SIGNAL_HOST answers\"\n\n";

  out += preflight(st, {&r});
  // renderer-1's command stands for every task: its name and health port become the task's own.
  std::vector<std::string> args;
  for (std::size_t i = 0; i < r.args.size(); ++i) {
    if (reference && i > 0 && r.args[i - 1] == "--port")
      args.push_back(var("SPARC_HEALTH_PORT"));
    else if (r.args[i] == r.name)
      args.push_back(var("SPARC_RENDERER"));
    else
      args.push_back(r.args[i]);
  }
  const std::map<std::string, std::string> values{{"signal_host", var("SPARC_SIGNAL_HOST")},
                                                  {"mas_host", var("SPARC_MAS_HOST")}};
  out += start_line(st, r, "\"$SPARC_RENDERER\"", reference ? "\"$SPARC_HEALTH_PORT\"" : "0",
                    service_command(st, r, values, args,
                                    own_display ? std::vector<std::string>{"--env", "DISPLAY=:" + var("SPARC_DISPLAY")}
                                                : std::vector<std::string>{}));
  out += "watch\n";
  return out;
}

}  // namespace

std::vector<rendered_file> render_slurm(const stack& st) {
  std::vector<rendered_file> out{{"slurm/backend.sbatch", backend_script(st), true}};
  if (!st.by_role("renderer").empty()) out.push_back({"slurm/render.sbatch", render_script(st), true});
  return out;
}

}  // namespace deploy
