#pragma once
#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>

namespace bench {

/// The server under test.
struct target {
  std::string url;          ///< ws://host:port/
  int server_pid = 0;       ///< for VmRSS and CPU time from /proc; 0 = not reported
  std::size_t sdp_bytes = 256;  ///< size of the SDP text carried by each offer and answer
};

struct sockets_options {
  std::size_t count = 5000;
  std::size_t batch = 500;   ///< connections in flight at once (pacing)
  double settle_s = 1.5;     ///< wait after the last close before reading RSS again
};

struct rtt_options {
  std::size_t iterations = 5000;
  std::size_t warmup = 500;
};

struct relay_options {
  std::size_t pairs = 50;
  double seconds = 5;
  std::size_t window = 1;  ///< offers in flight per pair
  double warmup_s = 0.5;   ///< traffic before counting starts
};

using result = nlohmann::ordered_json;

/// N sockets that each own a connectionId (public mode): server RSS idle, with all open, after closing.
result run_sockets(const target& server, const sockets_options& options);

/// Offer from A -> server -> B, answer B -> server -> A (public mode): round-trip percentiles.
result run_rtt(const target& server, const rtt_options& options);

/// Pairs in private mode ping-ponging offers and answers: relayed messages per second.
result run_relay(const target& server, const relay_options& options);

}  // namespace bench
