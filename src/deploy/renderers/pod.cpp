// The podman pod: a start script that creates the pod with every published port, then runs each service in
// dependency order and waits for its health check before the next, and a script that takes it all down again.
#include "deploy/render.hpp"
#include "deploy/renderers/containers.hpp"

#include <set>
#include <sstream>

namespace deploy {

namespace {

using containers::sh_quote;

/// How long the start script waits for a service's health check: model servers load for minutes.
int health_deadline_s(const service& s) {
  return s.role == "riva" || s.role == "llm" ? 900 : 60;
}

/// The podman secret holding a service's secret NAME: one per name and stack, unless two services name different
/// files with the same NAME.
std::string secret_id(const stack& st, const service& s, const std::string& name) {
  std::set<std::string> files;
  for (const auto& other : st.services)
    if (auto it = other.secrets.find(name); it != other.secrets.end()) files.insert(it->second);
  return files.size() <= 1 ? st.spec.name + "-" + name : st.spec.name + "-" + s.name + "-" + name;
}

std::string publish_flag(const stack& st, const containers::published_port& p) {
  auto range = std::to_string(p.first);
  if (p.last != p.first) range += "-" + std::to_string(p.last);
  const auto address = containers::publish_address(st);
  return "-p " + (address.empty() ? std::string() : address + ":") + range + ":" + range + "/" + p.protocol;
}

/// Groups the arguments for display: an option and its value stay on one line.
std::vector<std::string> argument_lines(const std::vector<std::string>& args, std::size_t width) {
  std::vector<std::string> words;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto word = sh_quote(args[i]);
    const bool option = args[i].size() > 1 && args[i][0] == '-';
    if (option && i + 1 < args.size() && (args[i + 1] == "-" || !args[i + 1].starts_with("-")))
      word += " " + sh_quote(args[++i]);
    words.push_back(std::move(word));
  }
  std::vector<std::string> lines;
  for (auto& w : words) {
    if (!lines.empty() && lines.back().size() + 1 + w.size() <= width)
      lines.back() += " " + w;
    else
      lines.push_back(std::move(w));
  }
  return lines;
}

/// The podman run command of one service, an option (group) per line.
std::string run_command(const stack& st, const service& s) {
  const auto container = st.spec.name + "-" + s.name;
  std::vector<std::string> opts{"-d --pod \"$pod\" --name " + sh_quote(container) + " --restart " + s.restart};
  if (const auto probe = containers::probe_script(s); !probe.empty()) {
    opts.push_back("--health-cmd " + sh_quote(containers::json_array({"bash", "-c", probe})));
    opts.push_back("--health-interval " + std::to_string(containers::probe_interval_s) + "s --health-timeout " +
                   std::to_string(containers::probe_timeout_s) + "s --health-retries " +
                   std::to_string(containers::probe_retries) + " --health-start-period " +
                   std::to_string(containers::start_period_s(s)) + "s");
  }
  if (s.gpus > 0) opts.emplace_back("--device nvidia.com/gpu=all");
  if (s.role == "riva")  // as NVIDIA's quickstart runs it: an init for its server processes, pinned memory
    opts.emplace_back("--init --ulimit memlock=-1:-1 --ulimit stack=67108864:67108864");
  if (const auto volume = containers::data_volume_of(st, s); !volume.empty())
    opts.push_back("-v " + sh_quote(volume + ":" + containers::data_dir_of(s)));
  for (const auto& v : s.volumes) opts.push_back("-v " + sh_quote(v));
  if (s.role == "coturn")
    opts.push_back("-v \"$here/../coturn/turnserver.conf:" + std::string(containers::coturn_conf_path) + ":ro,z\"");
  const auto uid = std::to_string(containers::user_of(s));
  for (const auto& [name, file] : s.secrets)
    opts.push_back("--secret " +
                   sh_quote(secret_id(st, s, name) + ",target=" + name + ",uid=" + uid + ",gid=" + uid + ",mode=0400"));
  for (const auto& [key, value] : s.env) opts.push_back("-e " + sh_quote(key + "=" + value));

  std::vector<std::string> command;  // after the image
  if (s.role == "coturn") {
    opts.emplace_back("--entrypoint bash");
    command = {"-c", containers::coturn_start_script(st, s)};
  } else if (s.role == "riva") {
    // The image's entry point sets up the NVIDIA environment and then runs its command: start-riva and the flags.
    command = {s.program};
    command.insert(command.end(), s.args.begin(), s.args.end());
  } else {
    if (!containers::built_here(s)) opts.push_back("--entrypoint " + sh_quote(s.program));
    command = containers::args_in_pod(s);
  }
  std::ostringstream o;
  o << "podman run";
  for (const auto& opt : opts) o << " \\\n  " << opt;
  o << " \\\n  " << sh_quote(containers::image_of(st, s));
  for (const auto& line : argument_lines(command, 100)) o << " \\\n    " << line;
  o << " >/dev/null\n";
  return o.str();
}

std::string what_runs(const stack& st, const service& s) {
  if (s.role == "renderer")
    return containers::is_unity(st) ? "the Unity player on a virtual display" : "sparc-stream, the reference renderer";
  if (s.role == "coturn") return "the TURN relay";
  if (s.role == "mas") return "sparc-mas, the backend";
  if (s.role == "signal") return "sparc-signal, signaling and the web client";
  if (s.role == "riva") return "NVIDIA Riva speech (gRPC)";
  if (s.role == "llm") return "vLLM, the OpenAI-compatible model server";
  return s.program;
}

std::string up_script(const stack& st) {
  const auto& name = st.spec.name;
  const auto down = name + "-pod-down.sh";
  std::ostringstream o;
  o << "#!/usr/bin/env bash\n"
    << "# Starts stack '" << name << "' as one podman pod.\n"
    << containers::rendered_from(st) << "# Services start in dependency order, each healthy before the next; " << down
    << " beside this file\n"
    << "# stops them. Needs rootful podman 4.3 or later and the images (containerfiles/build.sh)";
  bool gpus = false;
  for (const auto& s : st.services) gpus = gpus || (s.gpus > 0 && !s.external);
  if (gpus)
    o << ";\n# GPUs come through CDI: nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml, once per driver.\n";
  else
    o << ".\n";
  o << "# Members share the pod's network namespace: they reach each other on 127.0.0.1 and listen on the pod's own\n"
    << "# interface; the host sees only the published ports";
  if (const auto address = containers::publish_address(st); !address.empty()) o << ", on " << address;
  o << ".\n"
    << "set -euo pipefail\n\n"
    << "pod=" << sh_quote(name) << "\n"
    << "here=$(cd \"$(dirname \"${BASH_SOURCE[0]}\")\" && pwd)\n\n"
    << "if podman pod exists \"$pod\"; then\n"
    << "  echo \"sparc: pod $pod exists already; stop it first with $here/" << down << "\" >&2\n"
    << "  exit 1\n"
    << "fi\n";
  if (st.find("coturn"))
    o << "if [[ ! -r $here/../coturn/turnserver.conf ]]; then\n"
      << "  echo \"sparc: $here/../coturn/turnserver.conf is missing: render the coturn target too\" >&2\n"
      << "  exit 1\n"
      << "fi\n";
  o << "\n"
    << "# Polls a container's health check until it passes; gives up at the deadline or when the container stops.\n"
    << "wait_healthy() {  # CONTAINER SECONDS\n"
    << "  local deadline=$((SECONDS + $2))\n"
    << "  until podman healthcheck run \"$1\" >/dev/null 2>&1; do\n"
    << "    if ((SECONDS >= deadline)) || [[ $(podman container inspect --format '{{.State.Running}}' \"$1\") != true "
       "]]; "
       "then\n"
    << "      echo \"sparc: $1 is not healthy after $2 s; its last log lines:\" >&2\n"
    << "      podman logs --tail 30 \"$1\" >&2 || true\n"
    << "      exit 1\n"
    << "    fi\n"
    << "    sleep 1\n"
    << "  done\n"
    << "  echo \"  ok  $1\"\n"
    << "}\n\n"
    << "# A service without a health check must at least still run a moment after its start.\n"
    << "wait_running() {  # CONTAINER\n"
    << "  sleep 3\n"
    << "  if [[ $(podman container inspect --format '{{.State.Running}}' \"$1\") != true ]]; then\n"
    << "    echo \"sparc: $1 exited; its last log lines:\" >&2\n"
    << "    podman logs --tail 30 \"$1\" >&2 || true\n"
    << "    exit 1\n"
    << "  fi\n"
    << "  echo \"  ok  $1 (running; it has no health check)\"\n"
    << "}\n";

  // Secrets: one podman secret per file, mounted at /run/secrets/NAME for the container's user only.
  std::set<std::string> made;
  std::ostringstream secrets;
  for (const auto& s : st.services) {
    if (s.external) continue;
    for (const auto& [secret, file] : s.secrets) {
      const auto id = secret_id(st, s, secret);
      if (made.insert(id).second) secrets << "add_secret " << sh_quote(id) << " " << sh_quote(file) << "\n";
    }
  }
  if (!made.empty())
    o << "\n# Secrets go into podman's secret store from the files the spec names (never into an image or a rendered\n"
      << "# file); each container sees its own at /run/secrets/NAME, mode 0400, owned by its user.\n"
      << "add_secret() {  # NAME FILE\n"
      << "  if [[ ! -r $2 ]]; then\n"
      << "    echo \"sparc: secret file $2 is missing or unreadable\" >&2\n"
      << "    exit 1\n"
      << "  fi\n"
      << "  podman secret rm \"$1\" >/dev/null 2>&1 || true\n"
      << "  podman secret create \"$1\" \"$2\" >/dev/null\n"
      << "}\n"
      << secrets.str();

  o << "\n# Published: only ports something listens on.\n"
    << "ports=(\n";
  for (const auto& p : containers::published_ports(st)) o << "  " << publish_flag(st, p) << "  # " << p.what << "\n";
  o << ")\n"
    << "podman pod create --name \"$pod\" \"${ports[@]}\" >/dev/null\n"
    << "# From here on a failed start takes the pod down again.\n"
    << "trap 'status=$?; if ((status != 0)); then \"$here/" << down << "\" >/dev/null 2>&1 || true; fi' EXIT\n"
    << "echo \"Starting stack '" << name << "' in pod $pod\"\n";

  for (const auto& s : st.services) {
    if (s.external) continue;
    o << "\n# " << s.name << ": " << what_runs(st, s) << "\n";
    if (s.role == "riva") {
      o << "# Its model repository (what riva_init.sh prepares) belongs in volume " << containers::data_volume_of(st, s)
        << " (/data).\n# The spec reserves";
      for (const auto& p : s.ports)
        if (p.name.starts_with("triton")) o << " " << p.port;
      o << " for its Triton server, unpublished.\n";
    }
    if (containers::loopback_only(s))
      o << "# Without API keys ([mas] api_keys_file) it listens on the pod's loopback only: the renderers reach it,\n"
        << "# nothing publishes it.\n";
    if (s.role == "llm" && !st.spec.llm.adapters.empty())
      o << "# The LoRA adapters belong in the " << containers::data_volume_of(st, s)
        << " volume under /data/adapters.\n";
    o << run_command(st, s);
    if (containers::probe_script(s).empty())
      o << "wait_running " << sh_quote(name + "-" + s.name) << "\n";
    else
      o << "wait_healthy " << sh_quote(name + "-" + s.name) << " " << health_deadline_s(s) << "\n";
  }
  const auto* sig = st.find("signal");
  o << "\necho \"Stack '" << name << "' is up";
  if (sig) o << ": open http://" << st.spec.public_host << ":" << st.spec.signal.port << "/ in a browser";
  o << ".\"\n";
  return o.str();
}

std::string down_script(const stack& st) {
  const auto& name = st.spec.name;
  std::ostringstream o;
  std::set<std::string> ids;
  for (const auto& s : st.services)
    if (!s.external)
      for (const auto& [secret, file] : s.secrets) ids.insert(secret_id(st, s, secret));
  o << "#!/usr/bin/env bash\n"
    << "# Stops stack '" << name << "' that " << name
    << "-pod.sh started: the services in reverse start order, then the pod" << (ids.empty() ? "" : " and its secrets")
    << ".\n"
    << containers::rendered_from(st);
  std::vector<std::string> volumes;
  for (const auto& s : st.services)
    if (!s.external)
      if (auto v = containers::data_volume_of(st, s); !v.empty()) volumes.push_back(v);
  if (!volumes.empty()) {
    o << "# The data volumes stay; remove them with\n#   podman volume rm";
    for (const auto& v : volumes) o << " " << v;
    o << "\n";
  }
  o << "set -euo pipefail\n\n"
    << "pod=" << sh_quote(name) << "\n"
    << "if podman pod exists \"$pod\"; then\n"
    << "  for container in";
  for (auto it = st.services.rbegin(); it != st.services.rend(); ++it)
    if (!it->external) o << " " << sh_quote(name + "-" + it->name);
  o << "; do\n"
    << "    podman stop --ignore -t 10 \"$container\" >/dev/null\n"
    << "  done\n"
    << "  podman pod rm -f -t 10 \"$pod\" >/dev/null\n"
    << "  echo \"Stopped pod $pod\"\n"
    << "fi\n";
  if (!ids.empty()) {
    o << "for secret in";
    for (const auto& id : ids) o << " " << sh_quote(id);
    o << "; do\n"
      << "  podman secret rm \"$secret\" >/dev/null 2>&1 || true\n"
      << "done\n";
  }
  return o.str();
}

}  // namespace

std::vector<rendered_file> render_pod(const stack& st) {
  return {{"pod/" + st.spec.name + "-pod.sh", up_script(st), true},
          {"pod/" + st.spec.name + "-pod-down.sh", down_script(st), true}};
}

}  // namespace deploy
