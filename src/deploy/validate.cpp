#include "deploy/validate.hpp"

#include "deploy/model.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace deploy {

namespace {

source_pos at(const std::map<std::string, source_pos>& where, const std::string& key) {
  auto it = where.find(key);
  if (it == where.end()) it = where.find("");  // the key was left out: its table
  return it == where.end() ? source_pos{} : it->second;
}

bool is_loopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

/// RFC 1918 and link-local IPv4, plus loopback: addresses a browser elsewhere on the internet cannot reach.
bool is_private_address(std::string_view host) {
  if (is_loopback(host) || host == "0.0.0.0" || host.starts_with("10.") || host.starts_with("192.168.") ||
      host.starts_with("169.254."))
    return true;
  if (host.starts_with("172.")) {
    int second = 0;
    const auto rest = host.substr(4);
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), second);
    return ec == std::errc() && p != rest.data() && second >= 16 && second <= 31;
  }
  return false;
}

bool looks_secret(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  for (const char* word : {"SECRET", "PASSWORD", "PASSWD", "TOKEN", "API_KEY", "APIKEY", "CREDENTIAL", "PRIVATE_KEY"})
    if (upper.find(word) != std::string::npos) return true;
  return false;
}

struct linter {
  const stack_spec& s;
  std::vector<finding> out;

  void error(std::string id, source_pos p, std::string message, std::string hint) {
    out.push_back({std::move(id), severity::error, p, std::move(message), std::move(hint)});
  }
  void warn(std::string id, source_pos p, std::string message, std::string hint) {
    out.push_back({std::move(id), severity::warning, p, std::move(message), std::move(hint)});
  }

  void ports(const stack& st) {
    // Every port every service binds, hidden ones included (Riva's Triton listens on 8000-8002).
    struct use {
      std::string who;
      std::uint16_t port;
      std::string protocol;
    };
    std::vector<use> uses;
    for (const auto& svc : st.services) {
      if (svc.external) continue;
      for (const auto& p : svc.ports) {
        if (svc.role == "renderer" && p.name == "media") continue;  // a range, checked below
        uses.push_back({svc.name + " " + p.name, p.port, p.protocol});
      }
    }
    for (std::size_t i = 0; i < uses.size(); ++i)
      for (std::size_t j = i + 1; j < uses.size(); ++j) {
        if (uses[i].port != uses[j].port || uses[i].protocol != uses[j].protocol) continue;
        if (uses[i].who.substr(0, uses[i].who.find(' ')) == uses[j].who.substr(0, uses[j].who.find(' '))) continue;
        error("port-collision", {}, uses[i].who + " and " + uses[j].who + " both want " + uses[i].protocol + " port " +
                                        std::to_string(uses[i].port),
              "give one of them another port (Riva's Triton server also takes 8000-8002 inside its container)");
      }
    const auto& w = s.webrtc;
    const auto wr = at(w.where, "udp_min");
    if (w.udp_min > w.udp_max) {
      error("udp-range", wr, "the WebRTC UDP range " + std::to_string(w.udp_min) + "-" + std::to_string(w.udp_max) +
                                 " is empty", "set udp_min <= udp_max");
      return;
    }
    for (const auto& u : uses)
      if (u.protocol == "udp" && u.port >= w.udp_min && u.port <= w.udp_max)
        error("udp-range", wr, u.who + " (udp " + std::to_string(u.port) + ") lies inside the renderer's media range",
              "move the media range or the port");
    const int span = w.udp_max - w.udp_min + 1;
    if (span < s.renderer.instances * 4)
      warn("udp-range", wr, "the media range has " + std::to_string(span) + " ports for " +
                                std::to_string(s.renderer.instances) + " renderer(s) of up to 4 viewers each",
           "widen [webrtc] udp_min..udp_max to at least 4 ports per renderer instance");
    if (s.coturn.enabled) {
      const auto& c = s.coturn;
      const auto cr = at(c.where, "relay_min");
      if (c.relay_min > c.relay_max)
        error("udp-range", cr, "coturn's relay range is empty", "set relay_min <= relay_max");
      else if (c.relay_min <= w.udp_max && w.udp_min <= c.relay_max)
        error("udp-range", cr, "coturn's relay range " + std::to_string(c.relay_min) + "-" +
                                   std::to_string(c.relay_max) + " overlaps the renderer's media range " +
                                   std::to_string(w.udp_min) + "-" + std::to_string(w.udp_max),
              "give coturn its own range; the pod publishes both");
    }
  }

  void turn() {
    const auto host = at(s.where, "public_host");
    if (s.public_deployment && is_private_address(s.public_host))
      error("turn-host-unreachable", host, "public_host '" + s.public_host +
                                               "' is a loopback or private address, but the stack is public: browsers "
                                               "elsewhere cannot reach its TURN server or media",
            "set [stack] public_host to the name browsers use");
    if (s.public_deployment && !s.coturn.enabled)
      warn("turn-missing", at(s.where, "public"), "a public stack without TURN: browsers behind NAT or firewalls "
                                                  "will not get media",
           "enable [coturn] with a secret_file");
    if (s.coturn.enabled && s.coturn.secret_file.empty())
      error("turn-secret-missing", at(s.coturn.where, "enabled"),
            "coturn is enabled without secret_file: sparc-signal cannot mint TURN credentials",
            "set [coturn] secret_file to a file holding the shared secret");
  }

  void renderer() {
    const auto& r = s.renderer;
    if (r.kind != "unity") return;
    if (r.unity_executable.empty())
      error("unity-executable-missing", at(r.where, "kind"), "renderer kind is unity but unity_executable is empty",
            "set [renderer] unity_build and unity_executable to your Linux player build");
    for (const auto& a : r.unity_args) {
      if (a == "-batchmode" || a == "-nographics")
        error("unity-no-rendering", at(r.where, "unity_args"),
              "unity_args has " + a + ": the player renders nothing with it, so nothing is streamed",
              "remove " + a + "; run the player on a virtual display instead (the container image has one)");
      if ((a == "-force-vulkan" && r.graphics_api != "vulkan") ||
          ((a == "-force-glcore" || a == "-force-opengl") && r.graphics_api != "glcore"))
        error("graphics-api-mismatch", at(r.where, "unity_args"),
              "unity_args has " + a + " but graphics_api is " + r.graphics_api,
              "set graphics_api and drop the flag; sparc adds the right one");
    }
    std::string image = r.image;
    std::transform(image.begin(), image.end(), image.begin(), [](unsigned char c) { return std::tolower(c); });
    if ((r.graphics_api == "vulkan" && image.find("opengl") != std::string::npos) ||
        (r.graphics_api == "glcore" && image.find("vulkan") != std::string::npos))
      error("graphics-api-mismatch", at(r.where, "image"),
            "graphics_api is " + r.graphics_api + " but the image '" + r.image + "' is built for the other API",
            "use a base image with the " + r.graphics_api + " driver libraries");
    if (r.gpus == 0)
      warn("gpu-missing", at(r.where, "gpus"), "the Unity player renders on a GPU but [renderer] gpus is 0",
           "set gpus = 1 (sparc passes the device with CDI)");
  }

  void gpus() {
    if (s.riva.enabled && s.riva.gpus == 0)
      error("gpu-missing", at(s.riva.where, "gpus"), "Riva needs a GPU but [riva] gpus is 0", "set gpus = 1");
    if (s.llm.enabled && s.llm.base_url.empty() && s.llm.gpus == 0)
      error("gpu-missing", at(s.llm.where, "gpus"), "the model server needs a GPU but [llm] gpus is 0", "set gpus = 1");
    if (s.hpc.gpus > 1)
      warn("hpc-gpus", at(s.hpc.where, "gpus"),
           "each render task asks for " + std::to_string(s.hpc.gpus) + " GPUs; a renderer uses one",
           "set [hpc] gpus = 1 and scale with renderer instances (one array task each)");
  }

  void hpc() {
    const auto& h = s.hpc;
    const auto t = parse_slurm_time(h.time);
    if (t < 0) error("slurm-time", at(h.where, "time"), "wall time '" + h.time + "' does not parse", "use HH:MM:SS or D-HH:MM:SS");
    else if (t == 0)
      error("slurm-time", at(h.where, "time"), "wall time is unlimited: a crashed service would hold the node",
            "set a finite wall time");
    if (!h.partition_max_time.empty()) {
      const auto limit = parse_slurm_time(h.partition_max_time);
      if (limit < 0)
        error("slurm-time", at(h.where, "partition_max_time"), "partition_max_time does not parse", "use D-HH:MM:SS");
      else if (limit > 0 && t > limit)
        error("slurm-time", at(h.where, "time"), "wall time " + h.time + " exceeds the partition's limit " +
                                                     h.partition_max_time + ": sbatch would reject the job",
              "lower [hpc] time");
    }
    if (h.runtime == "native" && h.bin_dir.empty())
      warn("hpc-bin-dir", at(h.where, "runtime"), "native runtime without bin_dir: the jobs look the binaries up on PATH",
           "set [hpc] bin_dir");
  }

  void secrets() {
    const std::array<std::pair<const char*, const service_common*>, 6> services{{{"signal", &s.signal},
                                                                                  {"mas", &s.mas},
                                                                                  {"renderer", &s.renderer},
                                                                                  {"coturn", &s.coturn},
                                                                                  {"riva", &s.riva},
                                                                                  {"llm", &s.llm}}};
    for (const auto& [name, c] : services) {
      for (const auto& [k, v] : c->env)
        if (looks_secret(k) && !v.empty())
          error("secret-in-env", at(c->where, "env"),
                std::string("[") + name + "] env " + k + " looks like a secret written into the spec",
                "move it to a file and use secrets = { " + k + " = \"/path/to/file\" }");
      if (c->enabled && c->health.empty() && (std::string_view(name) == "signal" || std::string_view(name) == "mas"))
        warn("no-health-check", at(c->where, "health"), std::string("[") + name + "] has no health check",
             "keep health = \"/health\" so restarts and `sparc check` see failures");
    }
    if (s.renderer.kind == "unity" && s.renderer.health.empty())
      warn("no-health-check", at(s.renderer.where, "health"), "the Unity renderer has no health check",
           "the container checks the process; set health to a path if your build serves one");
  }

  void exposure() {
    if (!is_loopback(s.bind) && s.mas.api_keys_file.empty())
      error("mas-open", at(s.where, "bind"),
            "the stack binds " + s.bind + " but sparc-mas has no api_keys_file: it would refuse to start",
            "set [mas] api_keys_file, or bind 127.0.0.1");
    if (s.mas.profile == "production" && !s.llm.enabled)
      error("mas-production-engine", at(s.mas.where, "profile"),
            "the production profile needs a model server ([llm] enabled): sparc-mas refuses to grade with the "
            "scripted engine",
            "enable [llm] or use profile = \"development\"");
    if (s.mas.profile == "production" && s.mas.api_keys_file.empty())
      error("mas-open", at(s.mas.where, "profile"), "the production profile requires [mas] api_keys_file",
            "set api_keys_file");
    if (!s.mas.api_keys_file.empty() && s.renderer.kind == "reference" && s.renderer.mas_api_key_file.empty())
      error("renderer-key-missing", at(s.renderer.where, "kind"),
            "sparc-mas requires API keys but the renderer has no mas_api_key_file: every chat turn would get 401",
            "set [renderer] mas_api_key_file to a file holding one of the keys");
    if (s.llm.enabled && s.llm.model.empty())
      error("llm-model-missing", at(s.llm.where, "enabled"), "[llm] is enabled without a model", "set [llm] model");
  }

  void model_server() {
    const auto& l = s.llm;
    if (!l.enabled) return;
    for (const auto& [agent, adapter] : l.adapters) {
      if (agent != "caregiver" && agent != "coach" && agent != "supervisor")
        error("llm-adapter-agent", at(l.where, "adapters"), "adapter for unknown agent '" + agent + "'",
              "name caregiver, coach or supervisor");
      if (adapter.empty() || adapter.find_first_of(" =,\t") != std::string::npos)
        error("llm-adapter-name", at(l.where, "adapters"), "adapter name '" + adapter + "' for " + agent +
              " is empty or has spaces, '=' or ','", "use the name the server lists under GET /v1/models");
    }
    if (!l.base_url.empty()) {
      if (!l.base_url.starts_with("http://"))
        error("llm-url", at(l.where, "base_url"), "base_url '" + l.base_url + "' is not http://host:port[/v1]",
              "sparc-mas speaks plain HTTP to the model server; put a TLS proxy beside it for https");
    } else if (!l.adapters.empty() && l.model.empty()) {
      error("llm-model-missing", at(l.where, "adapters"),
            "adapters are LoRA modules on a base model, but [llm] model is empty", "set [llm] model");
    }
    if (!l.api_key_file.empty() && l.base_url.empty())
      warn("llm-api-key-unused", at(l.where, "api_key_file"),
           "api_key_file is sent to the model server, but the one run here is started without --api-key",
           "leave api_key_file empty for the stack's own server, or set base_url");
  }
};

}  // namespace

long long parse_slurm_time(std::string_view text) {
  if (text == "UNLIMITED" || text == "INFINITE" || text == "infinite" || text == "unlimited" || text == "-1" ||
      text == "0")
    return 0;
  if (text.empty() || text.size() > 32) return -1;
  long long days = 0;
  auto rest = text;
  const auto dash = rest.find('-');
  const auto number = [](std::string_view v, long long& out) {
    if (v.empty()) return false;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    return ec == std::errc() && p == v.data() + v.size() && out >= 0;
  };
  std::vector<long long> parts;
  if (dash != std::string_view::npos) {
    if (!number(rest.substr(0, dash), days)) return -1;
    rest = rest.substr(dash + 1);
  }
  while (true) {
    const auto colon = rest.find(':');
    long long v = 0;
    if (!number(rest.substr(0, colon), v)) return -1;
    parts.push_back(v);
    if (colon == std::string_view::npos) break;
    rest = rest.substr(colon + 1);
  }
  if (parts.size() > 3) return -1;
  long long secs = 0;
  if (dash != std::string_view::npos) {  // days-hours[:minutes[:seconds]]
    const long long h = parts[0];
    const long long m = parts.size() > 1 ? parts[1] : 0;
    const long long sec = parts.size() > 2 ? parts[2] : 0;
    secs = ((days * 24 + h) * 60 + m) * 60 + sec;
  } else if (parts.size() == 1) {
    secs = parts[0] * 60;  // minutes
  } else if (parts.size() == 2) {
    secs = parts[0] * 60 + parts[1];  // minutes:seconds
  } else {
    secs = (parts[0] * 60 + parts[1]) * 60 + parts[2];
  }
  return secs == 0 ? -1 : secs;
}

std::vector<finding> validate(const stack_spec& spec) {
  linter l{spec, {}};
  l.ports(build_stack(spec));
  l.turn();
  l.renderer();
  l.gpus();
  l.hpc();
  l.secrets();
  l.exposure();
  l.model_server();
  std::stable_sort(l.out.begin(), l.out.end(), [](const finding& a, const finding& b) {
    if (a.level != b.level) return a.level == severity::error;
    return a.at.line < b.at.line;
  });
  return l.out;
}

bool has_errors(const std::vector<finding>& findings) {
  return std::any_of(findings.begin(), findings.end(), [](const finding& f) { return f.level == severity::error; });
}

std::string format_finding(const stack_spec& spec, const finding& f) {
  std::string out = spec.file + ":" + std::to_string(f.at.line) + ":" + std::to_string(f.at.column) + ": " +
                    (f.level == severity::error ? "error" : "warning") + "[" + f.id + "]: " + f.message;
  if (!f.hint.empty()) out += "\n  hint: " + f.hint;
  return out;
}

}  // namespace deploy
