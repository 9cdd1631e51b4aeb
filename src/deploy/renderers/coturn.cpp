// coturn: turnserver.conf for the TURN relay (only when [coturn] is enabled), and the start script the pod and kube
// targets run in the coturn container to add the shared secret, which never goes into a rendered file.
#include "deploy/render.hpp"
#include "deploy/renderers/containers.hpp"

#include <sstream>

namespace deploy {

namespace containers {

std::string coturn_start_script(const stack& st, const service& s) {
  const auto args = args_in_pod(s);
  std::string conf = data_dir_of(s) + "/turnserver.conf";
  for (std::size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "-c") conf = args[i + 1];
  const auto& host = st.spec.public_host;
  const bool resolve = !is_ip_literal(host) && !is_loopback(host);
  std::string script = "set -eu\numask 077\nsecret=$(cat " + secret_path("turn_secret") + ")\n";
  if (resolve)
    script +=
        "ip=$(getent ahostsv4 " + sh_quote(host) +
        " | head -n 1 | cut -d \" \" -f 1)\n"
        "if [ -z \"$ip\" ]; then echo \"coturn: public_host has no IPv4 address for external-ip\" >&2; exit 1; fi\n";
  script += "{\n  cat " + std::string(coturn_conf_path) + "\n  printf \"static-auth-secret=%s\\n\" \"$secret\"\n";
  if (resolve) script += "  printf \"external-ip=%s\\n\" \"$ip\"\n";
  script += "} > " + sh_quote(conf) + "\n";
  // bash stays PID 1 and passes SIGTERM on: turnserver as PID 1 ignores it, so a stop would wait for SIGKILL.
  script += "turnserver";
  for (const auto& a : args) script += " " + sh_quote(a);
  script +=
      " &\nturn=$!\nstop() { kill -TERM \"$turn\" 2>/dev/null || true; }\ntrap stop TERM INT\nstatus=0\n"
      "wait \"$turn\" || status=$?\n"
      "if kill -0 \"$turn\" 2>/dev/null; then status=0; wait \"$turn\" || status=$?; fi\n"
      "exit \"$status\"\n";
  return script;
}

}  // namespace containers

std::vector<rendered_file> render_coturn(const stack& st) {
  const auto* turn = st.find("coturn");
  if (!turn) return {};
  const auto& c = st.spec.coturn;
  const auto& host = st.spec.public_host;
  std::ostringstream o;
  o << "# coturn, the TURN relay of stack '" << st.spec.name << "'.\n"
    << containers::rendered_from(st)
    << "# sparc-signal hands browsers short-lived credentials minted from the shared secret (TURN REST API).\n"
    << "listening-port=" << c.port << "\n"
    << "# Relay ports, published with the pod and apart from the renderers' media range " << st.spec.webrtc.udp_min
    << "-" << st.spec.webrtc.udp_max << ".\n"
    << "min-port=" << c.relay_min << "\n"
    << "max-port=" << c.relay_max << "\n"
    << "realm=" << c.realm << "\n"
    << "fingerprint\n"
    << "use-auth-secret\n"
    << "# coturn reads static-auth-secret only from this file or its command line, and secrets never go into rendered\n"
    << "# files: the container's start script (pod/" << st.spec.name << "-pod.sh, kube/" << st.spec.name
    << ".yaml) appends\n"
    << "#   static-auth-secret=<the contents of " << containers::secret_path("turn_secret") << ">\n"
    << "# to a private copy of this file (mode 0600) and starts turnserver with that copy.\n";
  if (containers::is_loopback(host)) {
    o << "# public_host " << host << " is loopback: browsers on this machine reach the relay directly.\n";
  } else if (containers::is_ip_literal(host)) {
    o << "# The address browsers reach; inside a pod coturn would otherwise advertise its 10.88.x container address.\n"
      << "external-ip=" << host << "\n";
  } else {
    o << "# external-ip: the start script adds the address " << host
      << " resolves to (coturn takes an address, not a name);\n"
      << "# inside a pod coturn would otherwise advertise its 10.88.x container address.\n";
  }
  o << "no-tls\n"
    << "no-dtls\n"
    << "no-cli\n"
    << "no-multicast-peers\n"
    << "# Never relay to \"this network\" or link-local addresses (a cloud's metadata service lives there).\n"
    << "denied-peer-ip=0.0.0.0-0.255.255.255\n"
    << "denied-peer-ip=169.254.0.0-169.254.255.255\n"
    << "log-file=stdout\n"
    << "simple-log\n";
  return {{"coturn/turnserver.conf", o.str()}};
}

}  // namespace deploy
