#pragma once
#include "signal/protocol.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <map>
#include <unordered_map>
#include <vector>

namespace signaling {

/// A socket, identified by the transport's connection number.
using peer_id = std::uint64_t;

/// One message to send; broadcasts share one payload.
struct delivery {
  peer_id to;
  std::shared_ptr<const std::string> payload;
};

/// Counts by event, for metrics.
struct relay_counts {
  std::uint64_t connect = 0, disconnect = 0, offer = 0, answer = 0, candidate = 0;
  std::uint64_t dropped_no_partner = 0;  ///< answers/offers/candidates with nobody to receive them
  std::uint64_t dropped_self_answer = 0; ///< a socket answering its own offer
  std::uint64_t refused_id_in_use = 0;   ///< private-mode third connect
  std::uint64_t refused_too_many_ids = 0;
  std::uint64_t refused_no_streamer = 0;  ///< streamer registry: no free render instance
};

/// The WebSocket routing rules of the Unity Render Streaming webapp (public broadcast rendezvous or
/// private pairing by connection id). Pure: no I/O, no clock; the caller sends the deliveries.
///
/// Extension (public mode, `streamer_registry`): render instances register as streamers and each
/// viewer's connection id is assigned to one free streamer at `connect`; that viewer's offers and
/// candidates then go to its streamer only, instead of to every socket.
class ws_registry {
 public:
  explicit ws_registry(bool private_mode, bool streamer_registry = false)
      : private_(private_mode), registry_(streamer_registry && !private_mode) {}

  void open(peer_id p);
  /// Opens a socket that is a render instance (registry mode); it is acknowledged with `registered`.
  std::vector<delivery> open_streamer(peer_id p, std::string name);
  std::vector<delivery> handle(peer_id from, const client_message& message, std::int64_t now_ms);
  /// The socket went away: its partners are told `disconnect` for each id it owned.
  std::vector<delivery> close(peer_id p);

  std::size_t sockets() const noexcept { return owners_.size(); }
  std::size_t pairs() const noexcept { return pairs_.size(); }
  std::size_t connection_ids() const noexcept { return owned_ids_; }
  const relay_counts& counts() const noexcept { return counts_; }
  std::size_t streamers() const noexcept { return streamers_.size(); }
  std::size_t streamers_busy() const noexcept;

 private:
  struct pair_state {
    peer_id first = 0;   ///< the offering side in public mode; the first owner in private mode
    peer_id second = 0;  ///< 0 = none yet
    peer_id other(peer_id p) const noexcept { return first == p ? second : first; }
  };

  void on_connect(peer_id from, const connect_msg& m, std::vector<delivery>& out);
  void on_disconnect(peer_id from, const disconnect_msg& m, std::vector<delivery>& out);
  void on_offer(peer_id from, const offer_msg& m, std::int64_t now, std::vector<delivery>& out);
  void on_answer(peer_id from, const answer_msg& m, std::int64_t now, std::vector<delivery>& out);
  void on_candidate(peer_id from, const candidate_msg& m, std::int64_t now, std::vector<delivery>& out);
  void broadcast(peer_id except, const std::shared_ptr<const std::string>& payload, std::vector<delivery>& out) const;
  bool own(peer_id p, const std::string& id);
  void disown(peer_id p, const std::string& id);
  void release_viewer(const std::string& id);
  bool assigned_route(peer_id from, const std::string& id, const std::shared_ptr<const std::string>& payload,
                      std::vector<delivery>& out);

  struct streamer_state {
    std::string name;
    std::string viewer;  ///< the connection id it serves; empty = free
  };

  bool private_;
  bool registry_;
  std::map<peer_id, streamer_state> streamers_;  ///< ordered: the longest-registered free one is picked first
  std::unordered_map<peer_id, std::vector<std::string>> owners_;  ///< open sockets and the ids they own
  std::unordered_map<std::string, pair_state> pairs_;
  std::size_t owned_ids_ = 0;
  relay_counts counts_;
};

}  // namespace signaling
