// sparc-stream: the reference render-streaming peer; a drop-in for the Unity Linux player.
#include "stream/config.hpp"
#include "stream/service.hpp"

int main(int argc, char** argv) {
  auto cli = stream::parse_command_line(argc, argv);
  if (!cli.cfg) return cli.exit_code;
  return stream::run(*cli.cfg);
}
