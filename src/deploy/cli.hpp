#pragma once
// The `sparc` command line: subcommands over one stack spec.

namespace deploy {

/// Parses the command line and runs the subcommand; returns the process exit code.
int run_cli(int argc, char** argv);

}  // namespace deploy
