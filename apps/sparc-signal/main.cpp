// sparc-signal: WebRTC signaling server compatible with Unity Render Streaming.
#include "signal/config.hpp"
#include "signal/service.hpp"

int main(int argc, char** argv) {
  auto cli = signaling::parse_command_line(argc, argv);
  if (!cli.cfg) return cli.exit_code;
  return signaling::run(*cli.cfg);
}
