#include "deploy/spec.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <functional>
#include <limits>

namespace deploy {

std::string spec_error::to_string() const {
  return file + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": " + message;
}

namespace {

constexpr std::size_t max_spec_bytes = std::size_t{1} << 20;  ///< a stack spec is a page of settings, not data
constexpr std::size_t max_list_items = 256;

source_pos pos_of(const toml::node& n) {
  const auto& s = n.source();
  return {static_cast<int>(s.begin.line), static_cast<int>(s.begin.column)};
}

/// Reads one table's keys into fields; every problem becomes an error at its position.
class table_reader {
 public:
  using handler = std::function<void(const toml::node&)>;

  table_reader(std::string file, std::vector<spec_error>& errors) : file_(std::move(file)), errors_(errors) {}

  void fail(const toml::node& n, std::string message) { errors_.push_back({file_, pos_of(n), std::move(message)}); }

  /// Calls the handler of each key; a key without one is reported (a typo must not be silently ignored).
  void read(const toml::table& t, std::string_view name, const std::map<std::string, handler, std::less<>>& keys,
            std::map<std::string, source_pos>* where) {
    for (const auto& [k, v] : t) {
      const auto key = std::string(k.str());
      auto h = keys.find(key);
      const source_pos key_at{static_cast<int>(k.source().begin.line), static_cast<int>(k.source().begin.column)};
      if (h == keys.end()) {
        std::string known;
        for (const auto& [name2, _] : keys) known += (known.empty() ? "" : ", ") + name2;
        errors_.push_back({file_, key_at, "unknown key '" + key + "' in [" + std::string(name) + "] (known: " + known + ")"});
        continue;
      }
      if (where) (*where)[key] = key_at;
      h->second(v);
    }
  }

  handler text(std::string& out) {
    return [this, &out](const toml::node& n) {
      if (const auto* s = n.as_string()) out = s->get();
      else fail(n, "expected a string");
    };
  }
  handler one_of(std::string& out, std::vector<std::string> allowed) {
    return [this, &out, allowed = std::move(allowed)](const toml::node& n) {
      const auto* s = n.as_string();
      if (!s) return fail(n, "expected a string");
      for (const auto& a : allowed)
        if (a == s->get()) {
          out = a;
          return;
        }
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      fail(n, "'" + s->get() + "' is not one of: " + list);
    };
  }
  handler flag(bool& out) {
    return [this, &out](const toml::node& n) {
      if (const auto* b = n.as_boolean()) out = b->get();
      else fail(n, "expected true or false");
    };
  }
  handler number(int& out, std::int64_t lo, std::int64_t hi) {
    return [this, &out, lo, hi](const toml::node& n) {
      const auto* i = n.as_integer();
      if (!i) return fail(n, "expected an integer");
      if (i->get() < lo || i->get() > hi)
        return fail(n, std::to_string(i->get()) + " is out of range " + std::to_string(lo) + "-" + std::to_string(hi));
      out = static_cast<int>(i->get());
    };
  }
  handler port(std::uint16_t& out, bool zero_ok = false) {
    return [this, &out, zero_ok](const toml::node& n) {
      const auto* i = n.as_integer();
      if (!i) return fail(n, "expected a port number");
      if (i->get() < (zero_ok ? 0 : 1) || i->get() > 65535)
        return fail(n, "port " + std::to_string(i->get()) + " is out of range 1-65535");
      out = static_cast<std::uint16_t>(i->get());
    };
  }
  handler text_list(std::vector<std::string>& out) {
    return [this, &out](const toml::node& n) {
      const auto* a = n.as_array();
      if (!a) return fail(n, "expected a list of strings");
      if (a->size() > max_list_items) return fail(n, "more than " + std::to_string(max_list_items) + " items");
      out.clear();
      for (const auto& item : *a) {
        if (const auto* s = item.as_string()) out.push_back(s->get());
        else fail(item, "expected a string");
      }
    };
  }
  handler text_map(std::map<std::string, std::string>& out) {
    return [this, &out](const toml::node& n) {
      const auto* t = n.as_table();
      if (!t) return fail(n, "expected a table of strings, e.g. { NAME = \"value\" }");
      if (t->size() > max_list_items) return fail(n, "more than " + std::to_string(max_list_items) + " entries");
      out.clear();
      for (const auto& [k, v] : *t) {
        if (const auto* s = v.as_string()) out[std::string(k.str())] = s->get();
        else fail(v, "expected a string for '" + std::string(k.str()) + "'");
      }
    };
  }

  /// The keys every service table has.
  void common(std::map<std::string, handler, std::less<>>& keys, service_common& c) {
    keys["enabled"] = flag(c.enabled);
    keys["image"] = text(c.image);
    keys["env"] = text_map(c.env);
    keys["secrets"] = text_map(c.secrets);
    keys["volumes"] = text_list(c.volumes);
    keys["restart"] = one_of(c.restart, {"no", "on-failure", "always"});
    keys["gpus"] = number(c.gpus, 0, 16);
    keys["health"] = text(c.health);
  }

 private:
  std::string file_;
  std::vector<spec_error>& errors_;
};

}  // namespace

parse_result parse_spec(std::string_view text, std::string_view file) {
  parse_result out;
  const std::string file_name(file);
  if (text.size() > max_spec_bytes) {
    out.errors.push_back({file_name, {1, 1}, "the spec is larger than 1 MiB"});
    return out;
  }
  toml::table root;
  try {
    root = toml::parse(text, file_name);
  } catch (const toml::parse_error& e) {
    out.errors.push_back({file_name,
                          {static_cast<int>(e.source().begin.line), static_cast<int>(e.source().begin.column)},
                          std::string(e.description())});
    return out;
  }
  stack_spec s;
  s.file = file_name;
  table_reader r(file_name, out.errors);
  using keys_t = std::map<std::string, table_reader::handler, std::less<>>;

  const auto section = [&](std::string_view name, keys_t keys, std::map<std::string, source_pos>* where) {
    return [&r, name = std::string(name), keys = std::move(keys), where](const toml::node& n) {
      if (where) (*where)[""] = pos_of(n);  // findings about a key left out point at the table
      if (const auto* t = n.as_table()) r.read(*t, name, keys, where);
      else r.fail(n, "[" + name + "] must be a table");
    };
  };

  keys_t stack{{"name", r.text(s.name)},           {"public_host", r.text(s.public_host)},
               {"bind", r.text(s.bind)},           {"state_dir", r.text(s.state_dir)},
               {"public", r.flag(s.public_deployment)}};

  keys_t signal{{"port", r.port(s.signal.port)},
                {"metrics_port", r.port(s.signal.metrics_port)},
                {"transport", r.one_of(s.signal.transport, {"websocket", "http"})},
                {"mode", r.one_of(s.signal.mode, {"public", "private"})}};
  r.common(signal, s.signal);

  keys_t mas{{"port", r.port(s.mas.port)},
             {"api_keys_file", r.text(s.mas.api_keys_file)},
             {"profile", r.one_of(s.mas.profile, {"development", "production"})}};
  r.common(mas, s.mas);

  auto& rd = s.renderer;
  keys_t renderer{{"kind", r.one_of(rd.kind, {"reference", "unity"})},
                  {"instances", r.number(rd.instances, 1, 64)},
                  {"health_port", r.port(rd.health_port)},
                  {"graphics_api", r.one_of(rd.graphics_api, {"vulkan", "glcore"})},
                  {"unity_build", r.text(rd.unity_build)},
                  {"unity_executable", r.text(rd.unity_executable)},
                  {"unity_args", r.text_list(rd.unity_args)},
                  {"mas_api_key_file", r.text(rd.mas_api_key_file)},
                  {"persona", r.text(rd.persona)},
                  {"codec", r.one_of(rd.codec, {"h264", "openh264", "vp8"})},
                  {"width", r.number(rd.width, 160, 3840)},
                  {"height", r.number(rd.height, 160, 3840)},
                  {"fps", r.number(rd.fps, 1, 120)}};
  r.common(renderer, rd);

  keys_t webrtc{{"udp_min", r.port(s.webrtc.udp_min)},
                {"udp_max", r.port(s.webrtc.udp_max)},
                {"ice_bind", r.text(s.webrtc.ice_bind)}};

  keys_t coturn{{"port", r.port(s.coturn.port)},
                {"relay_min", r.port(s.coturn.relay_min)},
                {"relay_max", r.port(s.coturn.relay_max)},
                {"realm", r.text(s.coturn.realm)},
                {"secret_file", r.text(s.coturn.secret_file)}};
  r.common(coturn, s.coturn);

  keys_t riva{{"port", r.port(s.riva.port)},
              {"http_port", r.port(s.riva.http_port)},
              {"triton_http", r.port(s.riva.triton_http)},
              {"triton_grpc", r.port(s.riva.triton_grpc)},
              {"triton_metrics", r.port(s.riva.triton_metrics)}};
  r.common(riva, s.riva);

  keys_t llm{{"port", r.port(s.llm.port)},
             {"base_url", r.text(s.llm.base_url)},
             {"model", r.text(s.llm.model)},
             {"adapters", r.text_map(s.llm.adapters)},
             {"api_key_file", r.text(s.llm.api_key_file)}};
  r.common(llm, s.llm);

  auto& h = s.hpc;
  keys_t hpc{{"partition", r.text(h.partition)},
             {"account", r.text(h.account)},
             {"qos", r.text(h.qos)},
             {"gpus", r.number(h.gpus, 0, 16)},
             {"cpus", r.number(h.cpus, 1, 512)},
             {"memory", r.text(h.memory)},
             {"time", r.text(h.time)},
             {"partition_max_time", r.text(h.partition_max_time)},
             {"runtime", r.one_of(h.runtime, {"apptainer", "native"})},
             {"sif_dir", r.text(h.sif_dir)},
             {"bin_dir", r.text(h.bin_dir)},
             {"modules", r.text_list(h.modules)},
             {"binds", r.text_list(h.binds)}};

  const keys_t top{{"stack", section("stack", std::move(stack), &s.where)},
                   {"signal", section("signal", std::move(signal), &s.signal.where)},
                   {"mas", section("mas", std::move(mas), &s.mas.where)},
                   {"renderer", section("renderer", std::move(renderer), &s.renderer.where)},
                   {"webrtc", section("webrtc", std::move(webrtc), &s.webrtc.where)},
                   {"coturn", section("coturn", std::move(coturn), &s.coturn.where)},
                   {"riva", section("riva", std::move(riva), &s.riva.where)},
                   {"llm", section("llm", std::move(llm), &s.llm.where)},
                   {"hpc", section("hpc", std::move(hpc), &s.hpc.where)}};
  // Top-level keys outside any table are mistakes too.
  for (const auto& [k, v] : root) {
    const auto key = std::string(k.str());
    if (auto it = top.find(key); it != top.end()) it->second(v);
    else r.fail(v, "unknown table [" + key + "] (known: stack, signal, mas, renderer, webrtc, coturn, riva, llm, hpc)");
  }
  // toml++ keeps a table's keys sorted by name; report in file order.
  std::stable_sort(out.errors.begin(), out.errors.end(), [](const spec_error& a, const spec_error& b) {
    return a.at.line != b.at.line ? a.at.line < b.at.line : a.at.column < b.at.column;
  });
  if (out.errors.empty()) out.spec = std::move(s);
  return out;
}

std::string default_spec_text() {
  return R"(# sparc.toml: the SPARC stack spec. Every artifact `sparc render` writes and everything `sparc up` runs comes
# from this one file. Each value shown is the default; delete what you do not change.
# Check it with `sparc validate`; see docs/deployment.md for every key.

[stack]
name = "sparc"                 # names the pod, units, images and jobs
public_host = "127.0.0.1"      # the host name browsers use to reach the stack (and its TURN server)
bind = "127.0.0.1"             # address the services listen on; 0.0.0.0 to open them to the network
state_dir = ".sparc"           # `sparc up`: pids, logs and data, relative to this file
public = false                 # true when browsers on other machines connect (TURN must then be reachable)

[signal]                       # sparc-signal: WebRTC signaling (Unity Render Streaming protocol) and the web client
port = 8080
metrics_port = 8888
transport = "websocket"        # websocket | http (HTTP polling)
mode = "public"                # public | private (pairs a browser with a renderer by connection id)
image = "localhost/sparc-signal:latest"

[mas]                          # sparc-mas: the multi-agent backend (supervisor, caregiver, coach)
port = 8000
api_keys_file = ""             # a file with one API key per line; empty: no auth (loopback only)
profile = "development"        # development | production (requires API keys and a model server)
image = "localhost/sparc-mas:latest"

[renderer]                     # what streams the avatar
kind = "reference"             # reference (sparc-stream) | unity (your Unity Linux player build)
instances = 1
health_port = 8090             # reference renderer's /health; further instances count up
persona = "anne-palmer"        # anne-palmer | maya-pena
mas_api_key_file = ""          # a file with the one key the renderer sends when [mas] api_keys_file is set
codec = "h264"                 # h264 | openh264 | vp8
width = 1280
height = 720
fps = 30
image = "localhost/sparc-stream:latest"
# For kind = "unity":
graphics_api = "vulkan"        # vulkan | glcore; picks the GPU base image and the player flag
unity_build = ""               # folder with the Linux player build
unity_executable = ""          # the player binary inside it
unity_args = []                # extra player flags (never -batchmode or -nographics: nothing would render)

[webrtc]
udp_min = 49152                # the renderer's ICE (media) port range, published by the pod
udp_max = 49200
ice_bind = ""                  # one local address for media (127.0.0.1 on a loopback-only host); empty: all

[coturn]                       # TURN relay for browsers behind NAT
enabled = false
port = 3478
relay_min = 49201              # coturn's relay ports; must not overlap the renderer's range
relay_max = 49250
realm = "sparc"
secret_file = ""               # shared secret for TURN REST credentials (sparc-signal mints them)
image = "docker.io/coturn/coturn:4.6"

[riva]                         # NVIDIA Riva speech (gRPC); never published, sparc-mas reaches it in the pod
enabled = false
port = 50051
# Its Triton server binds 8000-8002 (triton_http, triton_grpc, triton_metrics say where, they cannot move it):
# with Riva on, move [mas] port off 8000 (validate reports the collision).
image = "nvcr.io/nvidia/riva/riva-speech:2.19.0"
gpus = 1

[llm]                          # an OpenAI-compatible model server (vLLM) with one LoRA adapter per agent
enabled = false
port = 8100
base_url = ""                  # an existing server; empty: run `image` in the stack
model = ""
adapters = {}                  # e.g. { caregiver = "caregiver-lora", coach = "coach-lora" }
api_key_file = ""              # the server's bearer token, if it wants one (vLLM --api-key)
gpus = 1

[hpc]                          # SLURM + Apptainer (HiPerGator)
partition = "gpu"
account = ""
qos = ""
gpus = 1                       # per render task
cpus = 4
memory = "16G"
time = "08:00:00"              # wall time; always finite
partition_max_time = ""        # the partition's limit, if you know it (validate compares)
runtime = "apptainer"          # apptainer | native (binaries under bin_dir)
sif_dir = "sif"
bin_dir = ""
modules = []                   # e.g. ["apptainer"]
binds = []                     # extra apptainer --bind paths
)";
}

}  // namespace deploy
