#include "deploy/model.hpp"

namespace deploy {

const service* stack::find(std::string_view name) const {
  for (const auto& s : services)
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<const service*> stack::by_role(std::string_view role) const {
  std::vector<const service*> out;
  for (const auto& s : services)
    if (s.role == role) out.push_back(&s);
  return out;
}

std::string expand(std::string_view text, const std::map<std::string, std::string>& values) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto open = text.find('{', i);
    if (open == std::string_view::npos) break;
    const auto close = text.find('}', open);
    if (close == std::string_view::npos) break;
    out.append(text.substr(i, open - i));
    const auto key = std::string(text.substr(open + 1, close - open - 1));
    if (auto it = values.find(key); it != values.end()) out += it->second;
    else out.append(text.substr(open, close - open + 1));
    i = close + 1;
  }
  out.append(text.substr(i));
  return out;
}

namespace {

void copy_common(service& out, const service_common& c) {
  out.image = c.image;
  out.env = c.env;
  out.secrets = c.secrets;
  out.volumes = c.volumes;
  out.restart = c.restart;
  out.gpus = c.gpus;
  out.health_path = c.health;
}

std::string port_text(std::uint16_t p) { return std::to_string(p); }

}  // namespace

std::vector<std::string> process_extras(const stack& st, const service& s) {
  const auto& spec = st.spec;
  // A browser can only speak to sparc-mas directly when it takes no API keys (it could not hold one).
  if (!spec.mas.api_keys_file.empty()) return {};
  const auto signal_port = std::to_string(spec.signal.port);
  if (s.role == "signal")
    return {"--speech-url", "ws://" + spec.public_host + ":" + std::to_string(spec.mas.port) + "/ws/audio"};
  if (s.role != "mas") return {};
  std::vector<std::string> out;
  if (!spec.riva.enabled) out.insert(out.end(), {"--asr", "pocketsphinx"});  // offline, on this machine
  // The page's origins: sparc-signal's port under the public host, and its loopback twin.
  out.insert(out.end(), {"--cors-origin", "http://" + spec.public_host + ":" + signal_port});
  if (spec.public_host == "127.0.0.1") out.insert(out.end(), {"--cors-origin", "http://localhost:" + signal_port});
  if (spec.public_host == "localhost") out.insert(out.end(), {"--cors-origin", "http://127.0.0.1:" + signal_port});
  return out;
}

stack build_stack(const stack_spec& spec) {
  stack st;
  st.spec = spec;
  const auto& bind = spec.bind;

  if (spec.coturn.enabled) {
    service s;
    s.name = s.role = "coturn";
    copy_common(s, spec.coturn);
    s.program = "turnserver";
    s.args = {"-c", "{data}/turnserver.conf"};
    s.ports = {{"turn", spec.coturn.port, "udp"}, {"turn-tcp", spec.coturn.port, "tcp"}};
    s.health_port = spec.coturn.port;  // a TCP connect: coturn has no HTTP health endpoint
    if (!spec.coturn.secret_file.empty()) s.secrets["turn_secret"] = spec.coturn.secret_file;
    st.services.push_back(std::move(s));
  }
  if (spec.riva.enabled) {
    service s;
    s.name = s.role = "riva";
    copy_common(s, spec.riva);
    // NVIDIA's image starts its server with start-riva (riva_start.sh is the quickstart's host-side script). Inside a
    // container 0.0.0.0 is the container's own interfaces; what the host sees depends on publishing, and Riva has no
    // authentication, so its ports stay inside the pod or node: sparc-mas reaches them on localhost.
    s.program = "start-riva";
    s.args = {"--riva-uri=0.0.0.0:" + port_text(spec.riva.port), "--asr_service=true", "--tts_service=true",
              "--nlp_service=false"};
    s.env.emplace("RIVA_SERVER_HTTP_PORT", port_text(spec.riva.http_port));
    s.ports = {{"grpc", spec.riva.port, "tcp", false},
               {"http", spec.riva.http_port, "tcp", false},
               {"triton-http", spec.riva.triton_http, "tcp", false},
               {"triton-grpc", spec.riva.triton_grpc, "tcp", false},
               {"triton-metrics", spec.riva.triton_metrics, "tcp", false}};
    s.health_port = spec.riva.port;
    st.services.push_back(std::move(s));
  }
  if (spec.llm.enabled) {
    service s;
    s.name = s.role = "llm";
    copy_common(s, spec.llm);
    s.external = !spec.llm.base_url.empty();
    s.program = "vllm";
    s.args = {"serve", spec.llm.model, "--host", bind, "--port", port_text(spec.llm.port)};
    if (!spec.llm.adapters.empty()) {
      s.args.emplace_back("--enable-lora");
      s.args.emplace_back("--lora-modules");
      for (const auto& [agent, adapter] : spec.llm.adapters) s.args.push_back(adapter + "={data}/adapters/" + adapter);
    }
    // The OpenAI-compatible API has no authentication of its own here: only sparc-mas, in the same pod or on the
    // same node, talks to it.
    s.ports = {{"http", spec.llm.port, "tcp", false}};
    s.health_port = spec.llm.port;
    st.services.push_back(std::move(s));
  }
  {
    service s;
    s.name = s.role = "mas";
    copy_common(s, spec.mas);
    s.program = "sparc-mas";
    s.args = {"--bind", bind, "--port", port_text(spec.mas.port), "--db", "{data}/sparc-mas.db", "--profile",
              spec.mas.profile};
    if (!spec.mas.api_keys_file.empty()) {
      s.secrets["api_keys"] = spec.mas.api_keys_file;
      s.args.insert(s.args.end(), {"--api-keys-file", "{secret:api_keys}"});
    }
    s.ports = {{"http", spec.mas.port}};
    s.health_port = spec.mas.port;
    if (spec.riva.enabled) {
      // Riva speaks and listens for sparc-mas; it runs beside it (same pod or node).
      s.args.insert(s.args.end(),
                    {"--tts", "riva", "--asr", "riva", "--riva-url", "127.0.0.1:" + port_text(spec.riva.port)});
      s.depends_on.emplace_back("riva");
    }
    if (spec.llm.enabled) {
      // The model server runs beside sparc-mas (same pod or node: localhost) unless base_url names another one.
      const auto url = spec.llm.base_url.empty() ? "http://127.0.0.1:" + port_text(spec.llm.port) + "/v1"
                                                 : spec.llm.base_url;
      s.args.insert(s.args.end(), {"--engine", "openai", "--llm-url", url});
      if (!spec.llm.model.empty()) s.args.insert(s.args.end(), {"--llm-model", spec.llm.model});
      for (const auto& [agent, adapter] : spec.llm.adapters)
        s.args.insert(s.args.end(), {"--llm-adapter", agent + "=" + adapter});
      if (!spec.llm.api_key_file.empty()) {
        s.secrets["llm_api_key"] = spec.llm.api_key_file;
        s.args.insert(s.args.end(), {"--llm-api-key-file", "{secret:llm_api_key}"});
      }
      if (spec.llm.base_url.empty()) s.depends_on.emplace_back("llm");
    }
    st.services.push_back(std::move(s));
  }
  {
    service s;
    s.name = s.role = "signal";
    copy_common(s, spec.signal);
    s.program = "sparc-signal";
    s.args = {"--bind", bind, "--port", port_text(spec.signal.port), "--metrics-port", port_text(spec.signal.metrics_port),
              "--type", spec.signal.transport, "--mode", spec.signal.mode};
    if (spec.coturn.enabled) {
      s.args.insert(s.args.end(), {"--turn-url", "turn:" + spec.public_host + ":" + port_text(spec.coturn.port) +
                                                     "?transport=udp"});
      if (!spec.coturn.secret_file.empty()) {
        s.secrets["turn_secret"] = spec.coturn.secret_file;
        s.args.insert(s.args.end(), {"--turn-secret-file", "{secret:turn_secret}"});
      }
      s.depends_on.emplace_back("coturn");
    }
    s.ports = {{"http", spec.signal.port}, {"metrics", spec.signal.metrics_port}};
    s.health_port = spec.signal.metrics_port;  // /health lives beside /metrics; the main port serves the page
    st.services.push_back(std::move(s));
  }
  const auto& r = spec.renderer;
  const std::string scheme = spec.signal.transport == "http" ? "http://" : "ws://";
  const std::string signal_url = scheme + "{signal_host}:" + port_text(spec.signal.port);
  const std::string udp_range = port_text(spec.webrtc.udp_min) + "-" + port_text(spec.webrtc.udp_max);
  for (int i = 1; i <= r.instances; ++i) {
    service s;
    s.name = "renderer-" + std::to_string(i);
    s.role = "renderer";
    copy_common(s, r);
    s.depends_on = {"signal", "mas"};
    s.ports = {{"media", spec.webrtc.udp_min, "udp"}};
    if (r.kind == "reference") {
      s.program = "sparc-stream";
      const auto health = static_cast<std::uint16_t>(r.health_port + i - 1);
      s.args = {"-signalingUrl", signal_url, "--mas-url", "http://{mas_host}:" + port_text(spec.mas.port),
                "--bind", bind, "--port", port_text(health), "--ice-ports", udp_range,
                "--persona", r.persona, "--codec", r.codec, "--width", std::to_string(r.width),
                "--height", std::to_string(r.height), "--fps", std::to_string(r.fps)};
      if (!r.mas_api_key_file.empty()) {
        s.secrets["mas_api_key"] = r.mas_api_key_file;
        s.args.insert(s.args.end(), {"--mas-api-key-file", "{secret:mas_api_key}"});
      }
      if (!spec.webrtc.ice_bind.empty()) s.args.insert(s.args.end(), {"--ice-bind", spec.webrtc.ice_bind});
      if (spec.coturn.enabled) s.args.emplace_back("--ice-from-signal");
      if (spec.signal.mode == "private") s.args.insert(s.args.end(), {"--mode", "private", "--connection-id", s.name});
      s.ports.push_back({"health", health, "tcp", false});
      s.health_port = health;
    } else {
      // The Unity Linux player with its Render Streaming flags; it renders (no -batchmode) on the GPU.
      s.program = r.unity_build.empty() ? r.unity_executable : r.unity_build + "/" + r.unity_executable;
      s.args = {"-signalingUrl", signal_url, "-signalingType", spec.signal.transport,
                r.graphics_api == "vulkan" ? "-force-vulkan" : "-force-glcore", "-screen-width",
                std::to_string(r.width), "-screen-height", std::to_string(r.height), "-logFile", "-"};
      s.args.insert(s.args.end(), r.unity_args.begin(), r.unity_args.end());
      s.health_path.clear();
      if (s.gpus == 0) s.gpus = 1;
    }
    st.services.push_back(std::move(s));
  }
  return st;
}

}  // namespace deploy
