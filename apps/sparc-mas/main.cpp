// sparc-mas: the SPARC-P multi-agent backend.
#include "mas/config.hpp"
#include "mas/service.hpp"

int main(int argc, char** argv) {
  auto cli = mas::parse_command_line(argc, argv);
  if (!cli.cfg) return cli.exit_code;
  return cli.audit_verify ? mas::audit_verify(*cli.cfg) : mas::run(*cli.cfg);
}
