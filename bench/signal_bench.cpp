// sparc-signal-bench: the load generator for sparc-signal. One scenario per run, one JSON line on stdout.
#include "scenarios.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <exception>
#include <iostream>

namespace {

void add_target_options(CLI::App& command, bench::target& server, bool pid_required, bool sends_sdp) {
  command.add_option("--url", server.url, "Server WebSocket URL, e.g. ws://127.0.0.1:8080/")->required();
  auto* pid = command.add_option("--server-pid", server.server_pid,
                                 "Server process id, for VmRSS and CPU time read from /proc/PID");
  if (pid_required) pid->required();
  if (sends_sdp)
    command.add_option("--sdp-bytes", server.sdp_bytes, "Size of the SDP text in each offer and answer")
        ->check(CLI::Range(1, 200000))
        ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Load generator for sparc-signal (Unity Render Streaming signaling over WebSocket).\n"
      "Runs one scenario against a running server, prints progress on stderr and one JSON result line on\n"
      "stdout; exits 0 when the scenario completed without errors. Start the server with rate limiting\n"
      "off and per-IP limits raised, e.g.\n"
      "  sparc-signal -p 0 --ready-file ready.json --max-message-rate 0 --max-sockets-per-ip 20000 \\\n"
      "               --max-sockets 19500 -l none --log-level warn --no-metrics [-m private]\n"
      "bench/run.sh runs every scenario and writes docs/benchmarks.md.",
      "sparc-signal-bench"};
  app.require_subcommand(1);
  app.footer(
      "Every socket is one file descriptor in this process: N sockets need `ulimit -n` above N. Beyond one\n"
      "process's limit, run several generators (each its own limit) against a server whose limit is higher.");

  bench::target server;

  bench::sockets_options sockets_opts;
  auto* sockets = app.add_subcommand(
      "sockets",
      "Sockets that each own a connectionId (public mode): server RSS idle, all open, after close");
  sockets->footer(
      "Opens --batch connections at a time; each sends {\"type\":\"connect\",\"connectionId\":<uuid>} and waits\n"
      "for the ack. VmRSS of --server-pid is read before, once all are acked, and --settle seconds after the\n"
      "last close (closing handshake from the client). per_socket_bytes = (open - idle) / sockets.");
  add_target_options(*sockets, server, true, false);
  sockets->add_option("-n,--count", sockets_opts.count, "Sockets to open")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  sockets->add_option("--batch", sockets_opts.batch, "Connections being opened at once")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  sockets->add_option("--settle", sockets_opts.settle_s, "Seconds to wait after closing before reading RSS")
      ->check(CLI::Range(0.0, 60.0))
      ->capture_default_str();

  bench::rtt_options rtt_opts;
  auto* rtt = app.add_subcommand(
      "rtt",
      "Offer->answer round trip through the server (public mode): p50/p90/p99/max in ms");
  rtt->footer(
      "Two sockets: A owns a connectionId and offers it; the server broadcasts the offer to B, B answers at\n"
      "once, the server relays the answer to A. Timed with steady_clock from A's send to A's receipt, one\n"
      "round trip at a time.");
  add_target_options(*rtt, server, false, true);
  rtt->add_option("-n,--iterations", rtt_opts.iterations, "Timed round trips")
      ->check(CLI::Range(1, 100000000))
      ->capture_default_str();
  rtt->add_option("--warmup", rtt_opts.warmup, "Untimed round trips first")->capture_default_str();

  bench::relay_options relay_opts;
  auto* relay = app.add_subcommand(
      "relay",
      "Pairs ping-ponging offers and answers (PRIVATE mode): relayed messages per second");
  relay->footer(
      "Both sockets of a pair connect with the same connectionId (first polite:false, second polite:true).\n"
      "A sends --window offers; B answers each offer, A sends a new offer for each answer. Offers and\n"
      "answers received by clients are counted after --warmup. The server must run with -m private.");
  add_target_options(*relay, server, false, true);
  relay->add_option("--pairs", relay_opts.pairs, "Socket pairs")->check(CLI::Range(1, 9000))->capture_default_str();
  relay->add_option("--seconds", relay_opts.seconds, "Measured duration")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  relay->add_option("--window", relay_opts.window, "Offers in flight per pair")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  relay->add_option("--warmup", relay_opts.warmup_s, "Seconds of traffic before counting")
      ->check(CLI::Range(0.0, 60.0))
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  try {
    bench::result r;
    if (sockets->parsed()) r = bench::run_sockets(server, sockets_opts);
    if (rtt->parsed()) r = bench::run_rtt(server, rtt_opts);
    if (relay->parsed()) r = bench::run_relay(server, relay_opts);
    std::cout << r.dump() << std::endl;
    return r.value("ok", false) ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "sparc-signal-bench: {}\n", e.what());
    return 2;
  }
}
