// sparc-mas: the SPARC-P multi-agent backend.
#include "mas/config.hpp"
#include "mas/kb/kb.hpp"
#include "mas/service.hpp"

#include <iostream>

int main(int argc, char** argv) {
  auto cli = mas::parse_command_line(argc, argv);
  if (!cli.cfg) return cli.exit_code;
  if (cli.kb_import) return mas::kb::import_command(cli.cfg->kb, *cli.kb_import, std::cout, std::cerr);
  return cli.audit_verify ? mas::audit_verify(*cli.cfg) : mas::run(*cli.cfg);
}
