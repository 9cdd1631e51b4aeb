// sparc-fake-llm: the OpenAI-compatible test model server (tests/support/fake_llm.hpp) as a program, for the
// black-box suites and the benchmarks. Prints its port; SIGINT or SIGTERM stops it.
#include "support/fake_llm.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <fstream>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"sparc-fake-llm: an OpenAI-compatible test model server (GET /v1/models, POST /v1/chat/completions)"};
  sparc_test::fake_llm_options o;
  std::uint16_t port = 0;
  double per_token_ms = 0;
  int first_token_delay_ms = 0;
  std::string ready_file;
  app.add_option("--bind", o.bind, "listen address")->capture_default_str();
  app.add_option("--port", port, "listen port (0: any free port)")->capture_default_str();
  app.add_option("--per-token-ms", per_token_ms, "generation time per token")->capture_default_str();
  app.add_option("--first-token-delay-ms", first_token_delay_ms, "extra wait before the first token");
  app.add_option("--max-concurrent", o.max_concurrent, "requests generating at once; 0: no limit")
      ->capture_default_str();
  app.add_option("--models", o.models, "what GET /v1/models lists (base model and adapters)")->capture_default_str();
  app.add_option("--ready-file", ready_file, "write {\"port\":N} here once listening");
  CLI11_PARSE(app, argc, argv);
  o.port = port;
  o.per_token = std::chrono::microseconds(static_cast<long>(per_token_ms * 1000));

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // the server's threads inherit the mask; this thread waits below
  sparc_test::fake_llm server(o);
  if (first_token_delay_ms > 0) {
    sparc_test::llm_faults f;
    f.first_token_delay = std::chrono::milliseconds(first_token_delay_ms);
    server.set_faults(f);
  }
  std::cout << "sparc-fake-llm listening on " << server.base_url() << std::endl;
  if (!ready_file.empty()) std::ofstream(ready_file) << "{\"port\":" << server.port() << "}\n";
  int sig = 0;
  sigwait(&set, &sig);
  return 0;
}
