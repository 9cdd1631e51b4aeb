// sparc: the stack CLI (one stack spec -> validate, run, check).
#include "deploy/cli.hpp"

int main(int argc, char** argv) { return deploy::run_cli(argc, argv); }
