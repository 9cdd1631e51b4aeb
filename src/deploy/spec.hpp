#pragma once
// The stack spec (sparc.toml): one declarative description of a deployment. Parsed once, strictly (an unknown key
// is an error, with its file:line), into aggregates whose defaults make a working local stack.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deploy {

/// Where in the spec file a value came from (1-based; 0 when it is a default).
struct source_pos {
  int line = 0;
  int column = 0;
};

/// What every service table shares: how it runs in containers and under a supervisor.
struct service_common {
  bool enabled = true;
  std::string image;                           ///< container image reference
  std::map<std::string, std::string> env;      ///< plain settings; never secrets (validate flags those)
  std::map<std::string, std::string> secrets;  ///< name -> file on the host; mounted read-only, never inlined
  std::vector<std::string> volumes;            ///< "host:container[:ro]"
  std::string restart = "on-failure";          ///< no | on-failure | always
  int gpus = 0;                                ///< GPUs the service needs (0: none)
  std::string health = "/health";              ///< HTTP path probed for readiness ("" : none)
  std::map<std::string, source_pos> where;     ///< key -> position ("" : the table header), for findings
};

struct signal_spec : service_common {
  std::uint16_t port = 8080;
  std::uint16_t metrics_port = 8888;
  std::string transport = "websocket";  ///< websocket | http
  std::string mode = "public";          ///< public | private
};

struct mas_spec : service_common {
  std::uint16_t port = 8000;
  std::string api_keys_file;  ///< a file of API keys; empty: auth off (loopback only)
  std::string profile = "development";
};

struct renderer_spec : service_common {
  std::string kind = "reference";     ///< reference (sparc-stream) | unity (the user's Linux player build)
  int instances = 1;
  std::uint16_t health_port = 8090;   ///< reference renderer: first instance's /health; the next count up
  std::string graphics_api = "vulkan";  ///< unity: vulkan | glcore
  std::string unity_build;            ///< unity: folder holding the player build
  std::string unity_executable;       ///< unity: the player binary inside it
  std::vector<std::string> unity_args;  ///< extra player flags (validate rejects ones that stop rendering)
  std::string mas_api_key_file;       ///< reference: the key it sends to sparc-mas when the backend requires keys
  std::string persona = "anne-palmer";
  std::string codec = "h264";
  int width = 1280;
  int height = 720;
  int fps = 30;
};

struct webrtc_spec {
  std::uint16_t udp_min = 49152;  ///< the renderer's ICE port range, published by the pod
  std::uint16_t udp_max = 49200;
  std::string ice_bind;           ///< renderer's ICE address (127.0.0.1 on a loopback-only host); empty: all
  std::map<std::string, source_pos> where;
};

struct coturn_spec : service_common {
  coturn_spec() { enabled = false; health.clear(); }
  std::uint16_t port = 3478;
  std::uint16_t relay_min = 49201;  ///< coturn's relay range: must not overlap the renderer's
  std::uint16_t relay_max = 49250;
  std::string realm = "sparc";
  std::string secret_file;          ///< the TURN REST shared secret (use-auth-secret), a file
};

struct riva_spec : service_common {
  riva_spec() { enabled = false; health.clear(); gpus = 1; }
  std::uint16_t port = 50051;       ///< gRPC
  std::uint16_t http_port = 8009;   ///< Riva's HTTP API
  std::uint16_t triton_http = 8000;  ///< the Triton server inside the Riva image listens on these too
  std::uint16_t triton_grpc = 8001;
  std::uint16_t triton_metrics = 8002;
};

struct llm_spec : service_common {
  llm_spec() { enabled = false; health = "/v1/models"; gpus = 1; }
  std::uint16_t port = 8100;
  std::string base_url;  ///< an external OpenAI-compatible server; empty with enabled: the one run here
  std::string model;
  std::map<std::string, std::string> adapters;  ///< agent -> LoRA adapter name
  std::string api_key_file;  ///< the server's bearer token (vLLM --api-key), a secret for sparc-mas
};

struct hpc_spec {
  std::string partition = "gpu";
  std::string account;
  std::string qos;
  int gpus = 1;             ///< per render task
  int cpus = 4;
  std::string memory = "16G";
  std::string time = "08:00:00";            ///< wall time, [D-]HH:MM:SS
  std::string partition_max_time;           ///< the partition's limit, when known (validate compares)
  std::string runtime = "apptainer";        ///< apptainer | native
  std::string sif_dir = "sif";
  std::string bin_dir;                      ///< native runtime: where the sparc binaries are on the cluster
  std::vector<std::string> modules;         ///< `module load` names
  std::vector<std::string> binds;           ///< apptainer --bind paths
  std::map<std::string, source_pos> where;
};

struct stack_spec {
  std::string file = "sparc.toml";  ///< for messages
  std::string name = "sparc";
  std::string public_host = "127.0.0.1";  ///< the name browsers use (TURN URLs, links)
  std::string bind = "127.0.0.1";         ///< the address services listen on
  std::string state_dir = ".sparc";       ///< process runtime: pids, logs, data (relative to the spec's folder)
  bool public_deployment = false;         ///< reachable from other machines: TURN must be too
  std::map<std::string, source_pos> where;
  signal_spec signal;
  mas_spec mas;
  renderer_spec renderer;
  webrtc_spec webrtc;
  coturn_spec coturn;
  riva_spec riva;
  llm_spec llm;
  hpc_spec hpc;
};

/// A problem in the spec file, pointing at its place.
struct spec_error {
  std::string file;
  source_pos at;
  std::string message;
  std::string to_string() const;  ///< "file:line:col: message"
};

struct parse_result {
  std::optional<stack_spec> spec;
  std::vector<spec_error> errors;
};

/// Parses a spec. Unknown tables and keys, wrong types and out-of-range values are errors; parsing goes on after
/// one so a user sees every mistake at once. `file` only names the source in messages.
parse_result parse_spec(std::string_view text, std::string_view file = "sparc.toml");

/// The commented sparc.toml `sparc init` writes; parses to the defaults.
std::string default_spec_text();

}  // namespace deploy
