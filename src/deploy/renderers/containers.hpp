#pragma once
// What the container renderers (Containerfiles, the podman pod script, kube YAML) share, so the image a service
// runs, its arguments inside the pod, its health probe and the published ports cannot differ between them.

#include "deploy/model.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace deploy::containers {

/// The fixed uid (and gid) of the user the sparc images run as; secret mounts are owned by it.
inline constexpr int sparc_uid = 10001;
/// `nobody`, the user the coturn image runs as.
inline constexpr int coturn_uid = 65534;
/// Where secrets appear inside every container (the podman and Kubernetes convention).
inline constexpr std::string_view secrets_dir = "/run/secrets";
/// Where the sparc images keep state ({data}); a named volume in the pod.
inline constexpr std::string_view sparc_data_dir = "/var/lib/sparc";
/// The coturn image's own writable folder (owned by its user): the assembled config with the secret goes there.
inline constexpr std::string_view coturn_data_dir = "/var/lib/coturn";
/// Where the rendered turnserver.conf is mounted read-only.
inline constexpr std::string_view coturn_conf_path = "/etc/coturn/turnserver.conf";
/// Where the Unity player build is copied in the unity-server image.
inline constexpr std::string_view unity_dir = "/opt/sparc-unity";

/// The line every rendered file opens with after its title.
inline std::string rendered_from(const stack& st) {
  return "# Rendered by `sparc render` from " + st.spec.file + ": change the spec and render again.\n";
}

/// The renderers are the user's Unity player (else sparc-stream).
inline bool is_unity(const stack& st) {
  return st.spec.renderer.kind == "unity";
}

/// The image a service runs: the spec's, else the default `sparc init` documents for its table.
inline std::string image_of(const stack& st, const service& s) {
  if (!s.image.empty()) return s.image;
  if (s.role == "mas") return "localhost/sparc-mas:latest";
  if (s.role == "signal") return "localhost/sparc-signal:latest";
  if (s.role == "renderer")
    return is_unity(st) ? "localhost/sparc-unity-server:latest" : "localhost/sparc-stream:latest";
  if (s.role == "coturn") return "docker.io/coturn/coturn:4.6";
  if (s.role == "riva") return "nvcr.io/nvidia/riva/riva-speech:2.19.0";
  if (s.role == "llm") return "docker.io/vllm/vllm-openai:v0.8.5";
  return "localhost/" + s.name + ":latest";
}

/// True for the services whose image the Containerfile builds (their entry point takes the model's arguments).
inline bool built_here(const service& s) {
  return s.role == "mas" || s.role == "signal" || s.role == "renderer";
}

/// The uid a service's container runs as, so its secrets can be readable by it and nobody else.
inline int user_of(const service& s) {
  if (built_here(s)) return sparc_uid;
  if (s.role == "coturn") return coturn_uid;
  return 0;  // Riva and vLLM images run as root
}

/// Where {data} lives inside the service's container.
inline std::string data_dir_of(const service& s) {
  if (s.role == "coturn") return std::string(coturn_data_dir);
  if (s.role == "riva" || s.role == "llm") return "/data";  // Riva's model repository; vLLM's adapters
  return std::string(sparc_data_dir);
}

/// The named volume that keeps {data} across restarts; "" for services that keep nothing (coturn's folder holds
/// only the config assembled at start, secret included, so it stays in the container).
inline std::string data_volume_of(const stack& st, const service& s) {
  if (s.role == "mas" || s.role == "riva" || s.role == "llm") return st.spec.name + "-" + s.name + "-data";
  return "";
}

/// Where secret NAME appears inside a container.
inline std::string secret_path(std::string_view name) {
  return std::string(secrets_dir) + "/" + std::string(name);
}

/// The placeholder values of a service inside the pod: every member shares one network namespace.
inline std::map<std::string, std::string> placeholders(const service& s) {
  std::map<std::string, std::string> v{
      {"data", data_dir_of(s)}, {"signal_host", "127.0.0.1"}, {"mas_host", "127.0.0.1"}};
  for (const auto& [name, file] : s.secrets) v["secret:" + name] = secret_path(name);
  return v;
}

/// sparc-mas without API keys refuses every address beyond loopback, and rightly so inside a pod: other containers
/// on the podman network reach the pod's interface. It then stays on the pod's loopback, unpublished.
inline bool loopback_only(const service& s) {
  return s.role == "mas" && !s.secrets.contains("api_keys");
}

/// Whether a service's TCP listeners face the pod's interface, where published ports arrive.
inline bool faces_pod_interface(const service& s) {
  if (loopback_only(s)) return false;
  for (const auto& p : s.ports)
    if (p.published && p.protocol == "tcp") return true;
  return false;
}

/// The model's arguments for a container: placeholders filled, and the listen address of a service with published
/// TCP ports opened to the pod's interface (a port published on the host arrives there, not on the pod's loopback;
/// the host side stays limited by the address the port is published on). `--ice-bind` is dropped: media leaves
/// through the pod's interface too.
inline std::vector<std::string> args_in_pod(const service& s) {
  const auto values = placeholders(s);
  const bool open = faces_pod_interface(s);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < s.args.size(); ++i) {
    const auto& a = s.args[i];
    const bool has_value = i + 1 < s.args.size();
    if (a == "--ice-bind" && has_value) {
      ++i;
      continue;
    }
    out.push_back(expand(a, values));
    if (open && (a == "--bind" || a == "--host") && has_value) {
      out.emplace_back("0.0.0.0");
      ++i;
    }
  }
  return out;
}

/// The host address ports are published on: "" means every interface.
inline std::string publish_address(const stack& st) {
  const auto& b = st.spec.bind;
  return b.empty() || b == "0.0.0.0" || b == "::" ? std::string() : b;
}

/// One published port or range (first == last for a single port).
struct published_port {
  std::string service;  ///< the service behind it
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  std::string protocol;  ///< tcp | udp
  std::string what;      ///< for comments
};

/// Every port the pod publishes, in service order: only ports something listens on. The renderers share one media
/// range (one network namespace); coturn adds its relay range.
inline std::vector<published_port> published_ports(const stack& st) {
  std::vector<published_port> out;
  bool media_done = false;
  for (const auto& s : st.services) {
    if (s.external) continue;
    for (const auto& p : s.ports) {
      if (!p.published || (p.protocol == "tcp" && !faces_pod_interface(s))) continue;
      if (p.name == "media") {
        if (media_done) continue;
        media_done = true;
        out.push_back({s.name, st.spec.webrtc.udp_min, st.spec.webrtc.udp_max, "udp", "WebRTC media (renderers)"});
        continue;
      }
      out.push_back({s.name, p.port, p.port, p.protocol, s.name + " " + p.name});
    }
    if (s.role == "coturn")
      out.push_back({s.name, st.spec.coturn.relay_min, st.spec.coturn.relay_max, "udp", "TURN relay"});
  }
  return out;
}

/// Escapes the characters that are special inside a bash double-quoted string by percent-encoding them (a health
/// path is a URL path, so the encoded form means the same).
inline std::string url_path_for_shell(std::string_view path) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || c == '\\' || c == '$' || c == '`' || c == '\'' || c == '%') {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 0x0f];
    } else {
      out += c;
    }
  }
  return out;
}

/// The health probe as a bash script (bash's /dev/tcp: the images have no curl, and adding one would only add
/// attack surface); "" when the service has none. It uses no single quotes, so it nests in any quoting.
inline std::string probe_script(const service& s) {
  if (s.health_port == 0) return "";
  auto connect = "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(s.health_port);
  if (s.health_path.empty()) return connect;  // a TCP connect: coturn and Riva's gRPC port have no HTTP route
  return connect + " && printf \"GET " + url_path_for_shell(s.health_path) +
         " HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n\" >&3 && read -r _ code _ <&3 && "
         "[ \"$code\" = 200 ]";
}

/// Model servers load for minutes before their port answers.
inline int start_period_s(const service& s) {
  return s.role == "riva" || s.role == "llm" ? 600 : 10;
}
/// Health check timing: a probe every 10 s, each given 3 s; three failures in a row mean unhealthy.
inline constexpr int probe_interval_s = 10;
inline constexpr int probe_timeout_s = 3;
inline constexpr int probe_retries = 3;

/// The coturn container's start script: coturn reads its shared secret only from its config or command line, so the
/// script appends the mounted secret to a private copy of the rendered config (mode 0600, never on the command line
/// where `ps` shows it), resolves the public host for `external-ip` when it is a name (inside a pod coturn otherwise
/// advertises its 10.88.x address), then runs turnserver with the model's arguments, passing SIGTERM on.
std::string coturn_start_script(const stack& st, const service& s);

/// True when `host` is an IPv4 or IPv6 literal.
inline bool is_ip_literal(std::string_view host) {
  if (host.find(':') != std::string_view::npos) return true;
  int dots = 0;
  for (const char c : host) {
    if (c == '.')
      ++dots;
    else if (c < '0' || c > '9')
      return false;
  }
  return dots == 3;
}

/// True for the names and addresses of this machine's loopback interface.
inline bool is_loopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

/// Quotes a word for POSIX shells (single quotes; an embedded one becomes '\'').
inline std::string sh_quote(std::string_view word) {
  const bool plain = !word.empty() && word.find_first_not_of(
                                          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789@%+=:,./_-") == std::string_view::npos;
  if (plain) return std::string(word);
  std::string out = "'";
  for (const char c : word) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

/// A JSON string literal (for exec-form instructions and podman's JSON health commands).
inline std::string json_quote(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += hex[u >> 4];
          out += hex[u & 0x0f];
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

/// A JSON array of strings on one line.
inline std::string json_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + json_quote(items[i]);
  return out + "]";
}

}  // namespace deploy::containers
