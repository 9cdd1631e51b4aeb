// sparc-fake-riva: the Riva-protocol test server (tests/support/riva_server.hpp) as a program, for black-box
// suites. Prints its port; SIGINT or SIGTERM stops it.
#include "support/riva_server.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"sparc-fake-riva: a Riva-protocol gRPC test server (TTS, streaming ASR, grpc.health.v1)"};
  int port = 0;
  std::string ready_file;
  app.add_option("--port", port, "listen port on 127.0.0.1 (0: any free port)")->capture_default_str();
  app.add_option("--ready-file", ready_file, "write {\"port\":N} here once listening");
  CLI11_PARSE(app, argc, argv);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // gRPC's threads inherit the mask; this thread waits below
  sparc_test::riva_server server(port);
  std::cout << "sparc-fake-riva listening on " << server.address() << std::endl;
  if (!ready_file.empty()) {
    // Written whole, then renamed: a watcher never reads half a file.
    const auto partial = ready_file + ".partial";
    std::ofstream(partial) << "{\"port\":" << server.port() << "}\n";
    std::filesystem::rename(partial, ready_file);
  }
  int sig = 0;
  sigwait(&set, &sig);
  server.shutdown();
  return 0;
}
