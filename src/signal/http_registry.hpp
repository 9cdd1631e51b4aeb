#pragma once
#include "core/error.hpp"
#include "signal/protocol.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace signaling {

/// A candidate as POSTed over HTTP; values are kept as the client's JSON values.
struct http_candidate {
  std::string connection_id;
  std::optional<nlohmann::json> candidate, sdp_mline_index, sdp_mid;
};

/// The HTTP-polling state of the Unity Render Streaming webapp: sessions, their connection ids,
/// and the offers, answers, candidates and disconnects waiting to be polled. Pure: time is passed
/// in; the caller turns results into HTTP responses.
class http_registry {
 public:
  http_registry(bool private_mode, std::int64_t session_timeout_ms)
      : private_(private_mode), timeout_ms_(session_timeout_ms) {}

  /// A new session, or an error when the session table is full.
  core::result<std::string> create_session(std::int64_t now);
  /// Refreshes a live session; false when unknown (the caller answers 404).
  bool touch(const std::string& session, std::int64_t now);
  void delete_session(const std::string& session, std::int64_t now);
  /// Deletes sessions idle for longer than the timeout; returns how many.
  std::size_t evict_expired(std::int64_t now);

  struct connect_result {
    bool polite = true;
    std::int64_t datetime = 0;
  };
  /// PUT /signaling/connection; errc::conflict when a private id already has two owners.
  core::result<connect_result> create_connection(const std::string& session, const std::string& id, std::int64_t now);
  void delete_connection(const std::string& session, const std::string& id, std::int64_t now);
  void post_offer(const std::string& session, const std::string& id, nlohmann::ordered_json sdp, std::int64_t now);
  void post_answer(const std::string& session, const std::string& id, nlohmann::ordered_json sdp, std::int64_t now);
  void post_candidate(const std::string& session, const http_candidate& c, std::int64_t now);

  // Poll results as JSON arrays of the reference's element shapes.
  nlohmann::ordered_json connections(const std::string& session, std::int64_t now);
  nlohmann::ordered_json offers(const std::string& session, std::int64_t from) const;
  nlohmann::ordered_json answers(const std::string& session, std::int64_t from) const;
  nlohmann::ordered_json candidates(const std::string& session, std::int64_t from) const;
  /// GET /signaling: everything merged and sorted by datetime, plus the request's datetime.
  nlohmann::ordered_json all(const std::string& session, std::int64_t from, std::int64_t now);

  std::size_t sessions() const noexcept { return sessions_.size(); }
  std::size_t connection_ids() const noexcept;
  std::uint64_t evicted() const noexcept { return evicted_; }

 private:
  struct offer_rec {
    std::string id;
    nlohmann::ordered_json sdp;
    std::int64_t datetime;
    bool polite;
  };
  struct answer_rec {
    std::string id;
    nlohmann::ordered_json sdp;
    std::int64_t datetime;
  };
  struct candidate_rec {
    std::optional<nlohmann::json> candidate, sdp_mline_index, sdp_mid;
    std::int64_t datetime;
  };
  struct disconnect_rec {
    std::string id;
    std::int64_t datetime;
  };
  struct session_state {
    std::uint64_t seq = 0;  ///< creation order, for the reference's insertion-ordered iteration
    std::int64_t last_seen = 0;
    std::vector<std::string> ids;
    std::vector<offer_rec> offers;
    std::vector<answer_rec> answers;
    std::vector<std::pair<std::string, std::vector<candidate_rec>>> candidates;
    std::vector<disconnect_rec> disconnects;
  };
  struct pair_state {
    std::string first, second;  ///< session ids; empty = none
    const std::string& other(const std::string& s) const noexcept { return first == s ? second : first; }
  };

  session_state* find(const std::string& session);
  const session_state* find(const std::string& session) const;
  void add_id(session_state& s, const std::string& id);
  void push_disconnect(session_state& s, const std::string& id, std::int64_t datetime);
  void forget(session_state& s, const std::string& id);
  void remove_connection(const std::string& session, const std::string& id, std::int64_t datetime);
  std::vector<const session_state*> ordered_others(const std::string& session) const;

  bool private_;
  std::int64_t timeout_ms_;
  std::unordered_map<std::string, session_state> sessions_;
  std::unordered_map<std::string, pair_state> pairs_;
  std::uint64_t next_seq_ = 0;
  std::uint64_t evicted_ = 0;
};

}  // namespace signaling
