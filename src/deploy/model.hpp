#pragma once
// The stack model: the spec with defaults applied and references resolved into concrete services (their command
// lines, ports, health checks and start order). Every renderer and the runner read this, never the raw spec, so
// the artifacts cannot disagree about a port or a flag.

#include "deploy/spec.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace deploy {

struct port_binding {
  std::string name;          ///< http, metrics, grpc, turn, ...
  std::uint16_t port = 0;
  std::string protocol = "tcp";
  bool published = true;     ///< reachable from outside the pod / node
};

/// One process of the stack. Arguments may hold placeholders each runtime fills in:
/// `{data}` (the service's writable data folder), `{secret:NAME}` (the file holding secret NAME),
/// `{signal_host}` (where sparc-signal is reachable), `{mas_host}` (where sparc-mas is).
struct service {
  std::string name;     ///< unique: signal, mas, renderer-1, coturn, riva, llm
  std::string role;     ///< signal | mas | renderer | coturn | riva | llm
  std::string program;  ///< the binary (sparc-signal, sparc-mas, sparc-stream, turnserver, or the Unity player)
  std::vector<std::string> args;
  std::string image;
  std::vector<port_binding> ports;
  std::uint16_t health_port = 0;  ///< HTTP port probed for readiness (0: a TCP or no check)
  std::string health_path;        ///< "" : no HTTP health check
  std::vector<std::string> depends_on;
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> secrets;  ///< name -> host file
  std::vector<std::string> volumes;
  std::string restart = "on-failure";
  int gpus = 0;
  bool external = false;  ///< runs elsewhere (a model server given by URL): nothing to start
};

struct stack {
  stack_spec spec;
  std::vector<service> services;  ///< in start order (dependencies first)

  const service* find(std::string_view name) const;
  std::vector<const service*> by_role(std::string_view role) const;
};

/// What the process runtime (`sparc up`) adds to a service's arguments for the page's microphone on this machine:
/// sparc-signal hands out sparc-mas's WS /ws/audio, and sparc-mas recognises offline (pocketsphinx, unless Riva is
/// on) and lets the page's origin in. Nothing when sparc-mas takes API keys: a browser could not hold one. The
/// container and HPC targets leave it out (there sparc-mas is not reachable from a browser without keys).
std::vector<std::string> process_extras(const stack& st, const service& s);

/// Applies defaults and derives every service; the spec should have passed validate() without errors.
stack build_stack(const stack_spec& spec);

/// Replaces the placeholders in `text` (see `service`); unknown placeholders stay as they are.
std::string expand(std::string_view text, const std::map<std::string, std::string>& values);

}  // namespace deploy
