// Kubernetes YAML for `podman kube play`: one Pod with a container per service, the same ports, images, arguments,
// secrets and health probes as the pod script, and coturn's configuration as a ConfigMap.
#include "deploy/render.hpp"
#include "deploy/renderers/containers.hpp"

#include <set>
#include <sstream>

namespace deploy {

namespace {

using containers::json_array;
using containers::json_quote;

/// Where the probe script is mounted in every container that has a health check.
constexpr std::string_view probe_dir = "/opt/sparc-probe";

/// The health probe, the pod script's check with the port and path as arguments. It is a file (a ConfigMap) because
/// podman 4.3's kube play joins an exec probe's words with spaces and hands them to /bin/sh, which breaks an inline
/// `bash -c SCRIPT`; `bash FILE PORT PATH` means the same to it, to newer podman and to Kubernetes.
constexpr std::string_view probe_program =
    "# sparc-probe PORT [PATH]: a TCP connect, or an HTTP GET of PATH answered with 200 (bash alone: no curl).\n"
    "exec 3<>\"/dev/tcp/127.0.0.1/$1\" || exit 1\n"
    "if [ -z \"${2:-}\" ]; then exit 0; fi\n"
    "printf \"GET %s HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n\" \"$2\" >&3\n"
    "read -r _ code _ <&3\n"
    "[ \"$code\" = 200 ]\n";

/// A volume name Kubernetes accepts (an RFC 1123 label: lower case, digits and '-').
std::string label(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
      out += c;
    else if (c >= 'A' && c <= 'Z')
      out += static_cast<char>(c - 'A' + 'a');
    else if (out.empty() || out.back() != '-')
      out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.substr(0, 63);
}

/// One Pod-level volume and where a container mounts it.
struct volume {
  std::string name;
  std::string source;  ///< the YAML lines under the volume's name, indented for `volumes:`
  std::string mount_path;
  bool read_only = false;
};

/// The secret's volume: one per secret name, unless services name different files with it.
std::string secret_volume_name(const stack& st, const service& s, const std::string& name) {
  std::set<std::string> files;
  for (const auto& other : st.services)
    if (auto it = other.secrets.find(name); it != other.secrets.end()) files.insert(it->second);
  return label("secret-" + (files.size() <= 1 ? name : s.name + "-" + name));
}

std::vector<volume> volumes_of(const stack& st, const service& s) {
  std::vector<volume> out;
  if (const auto v = containers::data_volume_of(st, s); !v.empty())
    out.push_back({label(s.name + "-data"), "      persistentVolumeClaim:\n        claimName: " + v + "\n",
                   containers::data_dir_of(s), false});
  int index = 0;
  for (const auto& spec : s.volumes) {
    // "host:container[:options]": a path is a bind mount, anything else a named volume.
    const auto first = spec.find(':');
    if (first == std::string::npos) continue;
    const auto second = spec.find(':', first + 1);
    const auto host = spec.substr(0, first);
    const auto path = spec.substr(first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
    const auto options = second == std::string::npos ? std::string() : spec.substr(second + 1);
    const bool ro = ("," + options + ",").find(",ro,") != std::string::npos;
    const auto source = host.starts_with("/") || host.starts_with(".")
                            ? "      hostPath:\n        path: " + json_quote(host) + "\n"
                            : "      persistentVolumeClaim:\n        claimName: " + json_quote(host) + "\n";
    out.push_back({label(s.name + "-volume-" + std::to_string(++index)), source, path, ro});
  }
  if (!containers::probe_script(s).empty())
    out.push_back({"probe", "      configMap:\n        name: " + label(st.spec.name + "-probe") + "\n",
                   std::string(probe_dir), true});
  if (s.role == "coturn")
    out.push_back({label(st.spec.name + "-coturn-conf"),
                   "      configMap:\n        name: " + label(st.spec.name + "-coturn") + "\n", "/etc/coturn", true});
  for (const auto& [name, file] : s.secrets)
    out.push_back({secret_volume_name(st, s, name),
                   "      hostPath:\n        path: " + json_quote(file) + "\n        type: File\n",
                   containers::secret_path(name), true});
  return out;
}

/// A `key: [...]` line, or a block sequence when an item spans lines (a script, kept readable as a literal block).
std::string yaml_list(std::string_view key, const std::vector<std::string>& items) {
  bool multi_line = false;
  for (const auto& i : items) multi_line = multi_line || i.find('\n') != std::string::npos;
  if (!multi_line) return "      " + std::string(key) + ": " + json_array(items) + "\n";
  std::string out = "      " + std::string(key) + ":\n";
  for (const auto& i : items) {
    if (i.find('\n') == std::string::npos) {
      out += "        - " + json_quote(i) + "\n";
      continue;
    }
    out += "        - |\n";
    std::size_t start = 0;
    while (start < i.size()) {
      auto end = i.find('\n', start);
      if (end == std::string::npos) end = i.size();
      out += "          " + i.substr(start, end - start) + "\n";
      start = end + 1;
    }
  }
  return out;
}

std::string probe(const service& s, std::string_view kind, int initial_delay_s) {
  if (containers::probe_script(s).empty()) return "";
  std::vector<std::string> command{"bash", std::string(probe_dir) + "/probe", std::to_string(s.health_port)};
  if (!s.health_path.empty()) command.push_back(containers::url_path_for_shell(s.health_path));
  std::ostringstream o;
  o << "      " << kind << ":\n"
    << "        exec:\n"
    << "          command: " << json_array(command) << "\n";
  if (initial_delay_s > 0) o << "        initialDelaySeconds: " << initial_delay_s << "\n";
  o << "        periodSeconds: " << containers::probe_interval_s << "\n"
    << "        timeoutSeconds: " << containers::probe_timeout_s << "\n"
    << "        failureThreshold: " << containers::probe_retries << "\n";
  return o.str();
}

/// The command (replacing the image's entry point) and arguments a service's container starts with.
std::pair<std::vector<std::string>, std::vector<std::string>> launch(const stack& st, const service& s) {
  if (s.role == "coturn") return {{"bash", "-c", containers::coturn_start_script(st, s)}, {}};
  if (s.role == "riva") {  // the image's entry point runs its command: start-riva and the flags
    std::vector<std::string> args{s.program};
    args.insert(args.end(), s.args.begin(), s.args.end());
    return {{}, args};
  }
  if (containers::built_here(s)) return {{}, containers::args_in_pod(s)};
  return {{s.program}, containers::args_in_pod(s)};
}

std::string container(const stack& st, const service& s, const std::vector<containers::published_port>& ports) {
  std::ostringstream o;
  o << "    - name: " << s.name << "\n"
    << "      image: " << json_quote(containers::image_of(st, s)) << "\n";
  const auto [command, args] = launch(st, s);
  if (!command.empty()) o << yaml_list("command", command);
  if (!args.empty()) o << yaml_list("args", args);
  std::map<std::string, std::string> env = s.env;
  if (s.role == "riva")
    for (const auto& p : s.ports)
      if (p.name == "http") env.emplace("RIVA_SERVER_HTTP_PORT", std::to_string(p.port));
  if (!env.empty()) {
    o << "      env:\n";
    for (const auto& [key, value] : env)
      o << "        - name: " << json_quote(key) << "\n          value: " << json_quote(value) << "\n";
  }
  const auto address = containers::publish_address(st);
  bool any_port = false;
  for (const auto& p : ports) {
    if (p.service != s.name) continue;
    if (!any_port) o << "      ports:\n";
    any_port = true;
    std::string protocol = p.protocol == "udp" ? "UDP" : "TCP";
    for (unsigned port = p.first; port <= p.last; ++port) {  // Kubernetes has no port ranges
      o << "        - {containerPort: " << port << ", hostPort: " << port;
      if (!address.empty()) o << ", hostIP: " << json_quote(address);
      o << ", protocol: " << protocol << "}\n";
    }
  }
  const auto vols = volumes_of(st, s);
  if (!vols.empty()) {
    o << "      volumeMounts:\n";
    for (const auto& v : vols)
      o << "        - {name: " << v.name << ", mountPath: " << json_quote(v.mount_path)
        << (v.read_only ? ", readOnly: true" : "") << "}\n";
  }
  if (s.gpus > 0) o << "      resources:\n        limits:\n          nvidia.com/gpu: " << s.gpus << "\n";
  o << probe(s, "livenessProbe", containers::start_period_s(s)) << probe(s, "readinessProbe", 0);
  return o.str();
}

/// The Pod's one restart policy: the strongest any service asks for.
std::string restart_policy(const stack& st) {
  bool always = false;
  bool on_failure = false;
  for (const auto& s : st.services) {
    always = always || s.restart == "always";
    on_failure = on_failure || s.restart == "on-failure";
  }
  return always ? "Always" : on_failure ? "OnFailure" : "Never";
}

std::string indent(std::string_view text, std::string_view prefix) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    out += std::string(prefix) + std::string(text.substr(start, end - start)) + "\n";
    start = end + 1;
  }
  return out;
}

}  // namespace

std::vector<rendered_file> render_kube(const stack& st) {
  const auto& name = st.spec.name;
  const auto ports = containers::published_ports(st);
  std::ostringstream o;
  o << "# Stack '" << name << "' as one Pod for `podman kube play`.\n"
    << containers::rendered_from(st) << "#   podman kube play kube/" << name
    << ".yaml    start (all containers at once; renderers retry signaling)\n"
    << "#   podman kube down kube/" << name << ".yaml    stop and remove; the data and ConfigMap volumes stay\n"
    << "# Ports are the pod script's; Kubernetes has no port ranges, so each port of a UDP range is listed.\n"
    << "# Probes run a bash script from the " << label(name + "-probe")
    << " ConfigMap: podman runs an HTTP probe as curl, which the images lack.\n";
  bool secrets = false;
  bool gpus = false;
  for (const auto& s : st.services) {
    if (s.external) continue;
    secrets = secrets || !s.secrets.empty();
    gpus = gpus || s.gpus > 0;
  }
  if (secrets)
    o << "# Secrets are host files mounted read-only at /run/secrets/NAME: each must be readable by its container's\n"
      << "# user (uid " << containers::sparc_uid << " in the sparc images, " << containers::coturn_uid
      << " in coturn's), e.g. setfacl -m u:" << containers::sparc_uid << ":r FILE.\n";
  if (gpus)
    o << "# GPU limits are what Kubernetes' device plugin reads; podman kube play before 5.4 ignores them, so on "
         "older\n"
      << "# podman start GPU services with pod/" << name << "-pod.sh (CDI devices) instead.\n";
  if (st.find("riva"))
    o << "# Riva needs --ulimit memlock=-1 --ulimit stack=67108864, which a Pod cannot express: the pod script sets "
         "them.\n";
  bool probes = false;
  for (const auto& s : st.services) probes = probes || (!s.external && !containers::probe_script(s).empty());
  if (probes)
    o << "---\n"
      << "apiVersion: v1\n"
      << "kind: ConfigMap\n"
      << "metadata:\n"
      << "  name: " << label(name + "-probe") << "\n"
      << "data:\n"
      << "  probe: |\n"
      << indent(probe_program, "    ");
  if (st.find("coturn")) {
    std::string conf;
    for (const auto& f : render_coturn(st)) conf = f.content;
    o << "---\n"
      << "apiVersion: v1\n"
      << "kind: ConfigMap\n"
      << "metadata:\n"
      << "  name: " << label(name + "-coturn") << "\n"
      << "data:\n"
      << "  turnserver.conf: |\n"
      << indent(conf, "    ");
  }
  o << "---\n"
    << "apiVersion: v1\n"
    << "kind: Pod\n"
    << "metadata:\n"
    << "  name: " << label(name) << "\n"
    << "  labels:\n"
    << "    app: " << label(name) << "\n"
    << "spec:\n"
    << "  restartPolicy: " << restart_policy(st) << "\n"
    << "  terminationGracePeriodSeconds: 10\n"
    << "  containers:\n";
  std::vector<volume> all;
  std::set<std::string> seen;
  for (const auto& s : st.services) {
    if (s.external) continue;
    o << container(st, s, ports);
    for (auto& v : volumes_of(st, s))
      if (seen.insert(v.name).second) all.push_back(std::move(v));
  }
  if (!all.empty()) {
    o << "  volumes:\n";
    for (const auto& v : all) o << "    - name: " << v.name << "\n" << v.source;
  }
  return {{"kube/" + name + ".yaml", o.str()}};
}

}  // namespace deploy
