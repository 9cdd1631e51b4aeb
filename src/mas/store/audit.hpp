#pragma once
// Tamper-evident audit log: one record per turn and per supervisor decision, chained by SHA-256.
//
// A record holds ids, the agent, the decision, a latency and the SHA-256 of the text it is about, never the text,
// so the audit trail can be kept after retention has purged the transcripts. Records live in table `audit` with
// seq = 1, 2, 3, ... and
//
//   hash = hex(SHA-256("sparc-audit-v1" || f(prev_hash) || f(seq) || f(ts) || f(kind) || f(session_id) ||
//                      f(agent) || f(decision) || f(latency_ms) || f(text_sha256)))
//   f(x) = ";" || decimal byte length of x || ":" || x        (integers as decimal text)
//
// where prev_hash is the previous record's hash and `genesis_hash` for seq 1. Length prefixes make the encoding
// unambiguous, so no two different records serialise alike. Triggers refuse UPDATE and DELETE from the
// application; the chain is what catches someone who edits the file directly.
//
// What `verify` detects: an edited field (the record's hash no longer matches), a deleted record (a seq gap), a
// record whose hash was recomputed after an edit, and reordering (the next record's prev_hash no longer matches).
// What no self-contained chain can detect: deleting the newest records, or rewriting the chain from some record to
// the end with recomputed hashes (SHA-256 is unkeyed). For those, record `head()` somewhere the database's owner
// cannot rewrite (the system journal, a second host, a printed report) and pass it to `verify` as the anchor.

#include "core/error.hpp"
#include "mas/store/database.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mas::store {

/// Lowercase hex SHA-256 of `bytes` (OpenSSL EVP); throws std::runtime_error only if OpenSSL cannot digest at all.
std::string sha256_hex(std::string_view bytes);

/// prev_hash of the first record.
inline constexpr std::string_view genesis_hash = "0000000000000000000000000000000000000000000000000000000000000000";

/// The newest record's position: what an external anchor stores.
struct chain_head {
  std::int64_t seq = 0;                    ///< 0 for an empty log
  std::string hash{genesis_hash};  ///< genesis_hash for an empty log
};

/// The first problem `verify` met.
enum class chain_fault {
  none,
  missing,          ///< a seq is absent: a record was deleted (first_bad_seq is the missing seq)
  relinked,         ///< prev_hash is not the previous record's hash: reordered, or the previous one rewritten
  edited,           ///< the record's fields do not hash to its stored hash
  anchor_mismatch,  ///< the anchored record is gone or differs: the tail was truncated or the chain rewritten
};

/// A short English explanation of `f` for the CLI.
std::string_view describe(chain_fault f) noexcept;

/// The outcome of `audit_log::verify`.
struct verify_report {
  chain_fault fault = chain_fault::none;
  std::int64_t first_bad_seq = 0;  ///< 0 when ok
  std::int64_t records = 0;        ///< records read
  chain_head head;                 ///< the last record that verified; anchor it when the report is ok
  bool ok() const noexcept { return fault == chain_fault::none; }
};

/// A supervisor decision about one message; `judged_text` is hashed, never stored.
struct decision_entry {
  std::string_view session_id;
  std::string_view agent;     ///< the agent whose message was judged
  std::string_view decision;  ///< e.g. "allow", "warn", "terminate", "crisis"
  std::string_view judged_text;
  std::int64_t latency_ms = 0;
  std::int64_t ts_ms = 0;
};

/// The audit chain of one `database`; a view that must not outlive it. Appends run inside the caller's open
/// transaction (a batcher write), so a record commits with what it describes, or in a transaction of their own.
class audit_log {
 public:
  explicit audit_log(database& db) noexcept : db_(&db) {}

  /// Appends the record of a turn (kind "turn", decision ""); returns its seq.
  core::result<std::int64_t> append_turn(const turn_record& t);
  /// Appends the record of a supervisor decision (kind "decision"); returns its seq.
  core::result<std::int64_t> append_decision(const decision_entry& d);

  /// The newest record (seq 0 and genesis_hash when empty).
  core::result<chain_head> head();

  /// Walks the whole chain in seq order and reports the first bad record; with `anchor`, also that the record at
  /// anchor.seq still exists with anchor.hash. Errors only for SQLite failures, never for a broken chain.
  core::result<verify_report> verify(const std::optional<chain_head>& anchor = std::nullopt);

 private:
  struct entry {
    std::int64_t ts_ms;
    std::string_view kind;
    std::string_view session_id;
    std::string_view agent;
    std::string_view decision;
    std::int64_t latency_ms;
    std::string_view text;
  };
  core::result<std::int64_t> append(const entry& e);

  database* db_;
};

/// Appends `t` and its audit record so that both commit or neither does: inside the caller's transaction (a
/// commit_batcher write: `[t](database& db) { return record_turn(db, t); }`) or in one of its own.
core::result<void> record_turn(database& db, const turn_record& t);

}  // namespace mas::store
