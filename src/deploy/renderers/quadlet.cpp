// Quadlet units (Podman >= 5.0): one .pod holding every published port, one .container per service joining it.
// Rendered twice, for root (/etc/containers/systemd) and for a user (~/.config/containers/systemd), because the
// install folder, the boot target and the port rules differ. Images, in-pod arguments, probes and published ports
// come from containers.hpp, so these units cannot disagree with the pod script or the kube YAML.
#include "deploy/render.hpp"
#include "deploy/renderers/containers.hpp"

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace deploy {
namespace {

/// Ports below this need root (net.ipv4.ip_unprivileged_port_start) to be published by a rootless pod.
constexpr std::uint16_t first_unprivileged_port = 1024;

/// podman's own stop timeout before SIGKILL; systemd's must be longer so podman, not systemd, does the killing.
constexpr int podman_stop_timeout_s = 10;

struct flavour {
  std::string_view name;          ///< rootful | rootless (the output folder)
  std::string_view install_dir;   ///< where the files go
  std::string_view config_dir;    ///< where host files the units mount go (a systemd specifier may lead)
  std::string_view config_shown;  ///< config_dir as a person types it
  std::string_view systemctl;     ///< "systemctl" or "systemctl --user"
  std::string_view wanted_by;     ///< the target that starts the stack at boot
  bool rootless = false;
};

constexpr flavour rootful{"rootful",   "/etc/containers/systemd/", "/etc/sparc/", "/etc/sparc/",
                          "systemctl", "multi-user.target",        false};
constexpr flavour rootless{"rootless",
                           "~/.config/containers/systemd/",
                           "%h/.config/sparc/",
                           "~/.config/sparc/",
                           "systemctl --user",
                           "default.target",
                           true};

/// systemd expands %specifiers and $VARIABLES in the ExecStart= Quadlet generates; these must reach podman as is.
std::string escape_systemd(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '%' || c == '$') out += c;
    out += c;
  }
  return out;
}

bool is_plain_word(std::string_view w) {
  return !w.empty() && std::all_of(w.begin(), w.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_@+=:,./-?").find(c) != std::string_view::npos;
  });
}

/// One word of an Exec= or Environment= line, quoted the way Quadlet splits them (systemd's rules: C escapes inside
/// quotes, so a multi-line script stays on one line of the unit file).
std::string unit_word(std::string_view w) {
  if (is_plain_word(w)) return std::string(w);
  std::string out = "\"";
  for (char c : w) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return escape_systemd(out + "\"");
}

/// Width after which an Exec= line continues on the next (a trailing backslash, between words only).
constexpr std::size_t unit_line_width = 100;

std::string join_words(const std::vector<std::string>& words) {
  std::string out;
  std::size_t line = 0;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const auto w = unit_word(words[i]);
    // A flag and its first value stay together; otherwise a new line starts once the current one is long.
    const bool after_flag = i > 0 && words[i - 1].size() > 1 && words[i - 1].starts_with("-");
    if (i > 0 && !after_flag && line + 1 + w.size() > unit_line_width) {
      out += " \\\n    ";
      line = 4;
    } else if (i > 0) {
      out += ' ';
      ++line;
    }
    out += w;
    line += w.size();
  }
  return out;
}

std::string unit_name(const stack& st, const service& s) {
  return st.spec.name + "-" + s.name;
}

/// The podman secret holding a service's secret NAME, named as the pod script names it: one per name and stack,
/// unless two services mean different files by the same NAME.
std::string secret_id(const stack& st, const service& s, const std::string& name) {
  std::set<std::string> files;
  for (const auto& other : st.services)
    if (auto it = other.secrets.find(name); it != other.secrets.end()) files.insert(it->second);
  return files.size() <= 1 ? st.spec.name + "-" + name : st.spec.name + "-" + s.name + "-" + name;
}

/// The services a unit is written for: everything but a model server that runs elsewhere.
std::vector<const service*> units_of(const stack& st) {
  std::vector<const service*> out;
  for (const auto& s : st.services)
    if (!s.external) out.push_back(&s);
  return out;
}

std::string publish_line(const stack& st, const containers::published_port& p) {
  auto range = std::to_string(p.first);
  if (p.last != p.first) range += "-" + std::to_string(p.last);
  auto address = containers::publish_address(st);
  if (address.find(':') != std::string::npos) address = "[" + address + "]";
  return "PublishPort=" + (address.empty() ? std::string() : address + ":") + range + ":" + range + "/" + p.protocol +
         "\n";
}

std::string header(const stack& st, const flavour& f, const std::string& file, const std::string& what) {
  return "# " + file + ": " + what + " (" + std::string(f.name) + ").\n# Install path: " + std::string(f.install_dir) +
         file + "\n# Rendered by `sparc render --target quadlet` from the stack spec of '" + st.spec.name +
         "'; change the spec and render again.\n";
}

std::string render_pod_unit(const stack& st, const flavour& f) {
  const auto file = st.spec.name + ".pod";
  const std::string dir(f.install_dir);
  auto out = header(st, f, file, "the pod of SPARC stack '" + st.spec.name + "'");
  out += "#\n# Needs Podman 5.0 or later (.pod units). Check the installed files with\n#   QUADLET_UNIT_DIRS=" + dir +
         " /usr/libexec/podman/quadlet " + (f.rootless ? "-user " : "") + "-dryrun\n";
  out += "# 1. The images: containerfiles/build.sh (our images), podman pull (the others).\n";
  out += "# 2. mkdir -p " + dir + " && cp quadlet/" + std::string(f.name) + "/* " + dir + "\n";
  std::set<std::pair<std::string, std::string>> secrets;
  bool gpu = false;
  for (const auto* s : units_of(st)) {
    for (const auto& [name, path] : s->secrets) secrets.insert({secret_id(st, *s, name), path});
    gpu = gpu || s->gpus > 0;
  }
  int step = 3;
  if (!secrets.empty()) {
    out += "# " + std::to_string(step++) + ". Secrets, once, and again with --replace after a file changes:\n";
    for (const auto& [id, path] : secrets) out += "#      podman secret create " + id + " " + path + "\n";
  }
  if (st.find("coturn") != nullptr)
    out += "# " + std::to_string(step++) + ". install -D -m 0644 coturn/turnserver.conf " +
           std::string(f.config_shown) + st.spec.name + "/turnserver.conf   (coturn adds the secret at start)\n";
  if (gpu)
    out += "# " + std::to_string(step++) +
           ". GPUs come through CDI, once per driver update: nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml\n";
  out += "# " + std::to_string(step++) + ". " + std::string(f.systemctl) + " daemon-reload && " +
         std::string(f.systemctl) + " start " + st.spec.name + "-pod.service   (the pod starts its containers)\n";
  if (f.rootless)
    out += "# " + std::to_string(step++) +
           ". loginctl enable-linger \"$USER\" keeps the stack running after logout and starts it at boot.\n";
  const auto ports = containers::published_ports(st);
  if (f.rootless) {
    std::uint16_t lowest = 0;
    for (const auto& p : ports)
      if (lowest == 0 || p.first < lowest) lowest = p.first;
    if (lowest != 0 && lowest < first_unprivileged_port)
      out += "# Port " + std::to_string(lowest) + " is privileged: a user's pod can publish it only after sysctl " +
             "net.ipv4.ip_unprivileged_port_start=" + std::to_string(lowest) + ".\n";
  }
  out += "# The containers share the pod's network namespace, so their ports are published here and nowhere else.\n";
  out += "\n[Unit]\nDescription=SPARC stack " + st.spec.name + " (pod)\n\n[Pod]\nPodName=" + st.spec.name + "\n";
  for (const auto& p : ports) out += "# " + p.what + "\n" + publish_line(st, p);
  out += "\n[Install]\nWantedBy=" + std::string(f.wanted_by) + "\n";
  return out;
}

/// What runs in the container after the image name, and the entrypoint it needs ("" : the image's own).
struct container_command {
  std::string entrypoint;
  std::vector<std::string> args;
};

container_command command_of(const stack& st, const service& s) {
  // coturn reads its shared secret only from its config: a shell assembles a private copy, then execs turnserver.
  if (s.role == "coturn") return {"bash", {"-c", containers::coturn_start_script(st, s)}};
  // NVIDIA's entry point sets up its environment, then runs the command it is given: start-riva and the flags.
  if (s.role == "riva") {
    std::vector<std::string> args{s.program};
    args.insert(args.end(), s.args.begin(), s.args.end());
    return {"", args};
  }
  // Our images run their program (or the Unity player's virtual-display wrapper) as ENTRYPOINT; third-party images'
  // entrypoints vary between releases, so they get the program explicitly.
  return {containers::built_here(s) ? "" : s.program, containers::args_in_pod(s)};
}

std::string render_container_unit(const stack& st, const service& s, const flavour& f) {
  const auto file = unit_name(st, s) + ".container";
  auto out = header(st, f, file, s.name + " of SPARC stack '" + st.spec.name + "', in pod " + st.spec.name + ".pod");
  out += "\n[Unit]\nDescription=SPARC stack " + st.spec.name + ": " + s.name + "\n";
  for (const auto& dep : s.depends_on) {
    const auto* d = st.find(dep);
    if (d == nullptr || d->external) continue;
    const auto unit = unit_name(st, *d) + ".service";
    out += "Requires=" + unit + "\nAfter=" + unit + "\n";
  }

  out += "\n[Container]\nContainerName=" + unit_name(st, s) + "\nImage=" + containers::image_of(st, s) +
         "\nPod=" + st.spec.name + ".pod\n";
  const auto cmd = command_of(st, s);
  if (s.role == "riva") {
    out += "# As NVIDIA's quickstart runs it: an init for its server processes, unlimited locked memory.\n";
    out += "RunInit=true\nUlimit=memlock=-1:-1\nUlimit=stack=67108864:67108864\n";
  }
  if (!cmd.entrypoint.empty()) out += "Entrypoint=" + escape_systemd(cmd.entrypoint) + "\n";
  if (!cmd.args.empty()) out += "Exec=" + join_words(cmd.args) + "\n";
  for (const auto& [key, value] : s.env) out += "Environment=" + unit_word(key + "=" + value) + "\n";
  // Secrets stay in podman's store; each shows up at /run/secrets/NAME, readable by the container's user only.
  const auto uid = std::to_string(containers::user_of(s));
  for (const auto& [name, path] : s.secrets)
    out += "Secret=" + secret_id(st, s, name) + ",type=mount,target=" + name + ",uid=" + uid + ",gid=" + uid +
           ",mode=0400\n";
  if (const auto volume = containers::data_volume_of(st, s); !volume.empty())
    out += "Volume=" + volume + ":" + containers::data_dir_of(s) + "\n";
  if (s.role == "coturn")
    out += "Volume=" + std::string(f.config_dir) + st.spec.name +
           "/turnserver.conf:" + std::string(containers::coturn_conf_path) + ":ro,z\n";
  for (const auto& v : s.volumes) out += "Volume=" + escape_systemd(v) + "\n";
  if (s.gpus > 0) {
    out += "# The CDI device of nvidia-ctk; its device nodes carry no SELinux container label, hence no labelling.\n";
    out += "AddDevice=nvidia.com/gpu=all\nSecurityLabelDisable=true\n";
  }
  if (const auto probe = containers::probe_script(s); !probe.empty()) {
    out += s.health_path.empty()
               ? "# Health: a TCP connect through bash's /dev/tcp (the images have bash, not curl).\n"
               : "# Health: GET " + s.health_path + " through bash's /dev/tcp (the images have bash, not curl).\n";
    out += "HealthCmd=" + escape_systemd("/bin/bash -c '" + probe + "'") + "\n";
    out += "HealthInterval=" + std::to_string(containers::probe_interval_s) +
           "s\nHealthTimeout=" + std::to_string(containers::probe_timeout_s) +
           "s\nHealthRetries=" + std::to_string(containers::probe_retries) +
           "\nHealthStartPeriod=" + std::to_string(containers::start_period_s(s)) + "s\n";
    out +=
        "# Unhealthy: podman kills it and systemd restarts it. The unit turns active only once the check passes,\n"
        "# so the units ordered after this one start when it answers, not when it forks.\n";
    out += "HealthOnFailure=kill\nNotify=healthy\n";
  }

  out += "\n[Service]\nRestart=" + s.restart + "\n";
  if (s.restart != "no") out += "RestartSec=5\n";
  // Covers image pulls and, with Notify=healthy, the start period; model servers load for minutes.
  out += "TimeoutStartSec=" + std::to_string(containers::start_period_s(s) + 300) + "\n";
  out += "# podman sends SIGKILL " + std::to_string(podman_stop_timeout_s) +
         " s after SIGTERM; systemd waits longer so podman does the killing.\n";
  out += "TimeoutStopSec=" + std::to_string(3 * podman_stop_timeout_s) + "\n";
  out += "\n[Install]\nWantedBy=" + std::string(f.wanted_by) + "\n";
  return out;
}

}  // namespace

std::vector<rendered_file> render_quadlet(const stack& st) {
  std::vector<rendered_file> out;
  for (const auto* f : {&rootful, &rootless}) {
    const auto dir = "quadlet/" + std::string(f->name) + "/";
    out.push_back({dir + st.spec.name + ".pod", render_pod_unit(st, *f)});
    for (const auto* s : units_of(st))
      out.push_back({dir + unit_name(st, *s) + ".container", render_container_unit(st, *s, *f)});
  }
  return out;
}

}  // namespace deploy
