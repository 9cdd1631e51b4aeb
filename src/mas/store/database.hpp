#pragma once
// The durable store of sparc-mas: sessions, turns (transcripts) and the audit chain in one SQLite file.
//
// Durability. The file runs in WAL mode. A turn counts as acknowledged only once the COMMIT of the transaction
// holding it has returned; `commit_batcher` invokes completions only after that, so the HTTP layer sends its 200
// from the completion. With `durability::power_loss` (the default, synchronous=FULL) COMMIT fsyncs the WAL, so an
// acknowledged turn survives kill -9, an OS crash and power loss. With `durability::process_crash`
// (synchronous=NORMAL) COMMIT only write()s the WAL frames into the OS page cache and fsyncs at checkpoints: that
// still survives kill -9 of this process (the kernel owns the pages), but an OS crash or power loss may lose the
// last transactions. The requirement is kill -9, so NORMAL would meet it; FULL is the default because group commit
// amortises the fsync over a whole batch, so the stronger promise costs little throughput (commit_batcher's
// throughput test prints both).
//
// Threads. A `database` is one connection, opened in SQLite's multi-thread mode (no per-call mutex): use it from one
// thread at a time. The batcher owns its own connection on its writer thread; readers open their own; WAL lets
// them read while the writer commits.
//
// Errors. Every operation returns `core::result`; SQLite codes map to `core::errc` (unique -> conflict, foreign
// key -> not_found, check/not-null -> invalid_argument, append-only trigger -> unsupported, busy/locked ->
// unavailable, corrupt/not-a-database -> malformed, I/O and the rest -> io_error). The
// SQLite message of the latest failure stays in `last_error()`; unexpected failures (not constraint violations)
// are also logged once to the "mas" logger with SQLite's message, which names tables and columns, never values,
// so transcript text cannot reach a log.
//
// Time is integer milliseconds since the Unix epoch (UTC), supplied by the caller so tests are deterministic.

#include "core/error.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace mas::store {

/// One training session; the mutable fields (phase onwards) change through `update_session`.
struct session_record {
  std::string id;
  std::string owner;  ///< id of the API key that created the session (never the key itself)
  std::string persona;
  std::string scenario;
  std::string training_type;
  std::string phase;
  std::int64_t violations = 0;
  bool terminated = false;
  bool flagged = false;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::optional<std::int64_t> ended_at_ms;  ///< empty while the session is live; retention counts from here
};

/// One utterance of a session; `seq` is chosen by the caller (the session's turn counter), unique per session.
struct turn_record {
  std::string session_id;
  std::int64_t seq = 0;
  std::string agent;  ///< "user", "caregiver", "coach" or "supervisor"
  std::string text;
  std::int64_t created_at_ms = 0;
  std::int64_t latency_ms = 0;
  std::string meta_json = "{}";  ///< must be valid JSON (a CHECK constraint refuses anything else)
};

/// What one retention pass removed.
struct purge_counts {
  std::int64_t sessions = 0;
  std::int64_t turns = 0;
};

/// How much an acknowledged commit survives; see the comment at the top of this file.
enum class durability {
  power_loss,     ///< synchronous=FULL: the WAL is fsynced at every commit
  process_crash,  ///< synchronous=NORMAL: survives kill -9, may lose the last commits on power loss
};

/// The schema steps, oldest first; step i takes `PRAGMA user_version` from i to i + 1. Exposed for migration tests.
std::span<const std::string_view> schema_migrations() noexcept;

class database;

/// A cached prepared statement in use: binds, steps, reads columns, and resets itself (bindings cleared) when it
/// goes out of scope. Bound text is not copied, so it must outlive the last `step()`. For the store's own code.
class statement {
 public:
  statement(statement&& other) noexcept;
  statement& operator=(statement&&) = delete;
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  ~statement();

  /// Binds 1-based parameter `index`; a failure is kept and reported by the next `step()`.
  statement& bind(int index, std::int64_t value) noexcept;
  statement& bind(int index, std::string_view text) noexcept;
  statement& bind(int index, std::optional<std::int64_t> value) noexcept;

  /// Runs one step: true when a row is available, false when the statement is done.
  core::result<bool> step();
  /// Steps a statement that returns no rows.
  core::result<void> run();

  std::int64_t column_int(int index) const noexcept;
  std::string column_text(int index) const;
  std::optional<std::int64_t> column_optional_int(int index) const noexcept;

 private:
  friend class database;
  statement(database& db, sqlite3_stmt* stmt) noexcept : db_(&db), stmt_(stmt) {}
  database* db_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = 0;
};

/// An open write transaction (BEGIN IMMEDIATE); rolls back on destruction unless committed.
class transaction {
 public:
  transaction(transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  transaction& operator=(transaction&&) = delete;
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;
  ~transaction();

  /// Commits; once this returns ok the writes are durable to the configured `durability`.
  core::result<void> commit();

 private:
  friend class database;
  explicit transaction(database& db) noexcept : db_(&db) {}
  database* db_;
};

/// One SQLite connection to the store, schema migrated on open.
class database {
 public:
  /// Settings for `open`.
  struct options {
    durability sync = durability::power_loss;
    /// How long a writer waits for another connection's write lock (a retention pass) before failing.
    std::chrono::milliseconds busy_timeout{5000};
    /// WAL pages after which a commit on this connection also checkpoints (SQLite's default is 1000). 0: never;
    /// the owner checkpoints when it suits it, reading the WAL's size from wal_frames() (commit_batcher does).
    int checkpoint_pages = 1000;
  };

  /// Opens or creates `path` (":memory:" for a private in-memory store), enables WAL and foreign keys and applies
  /// pending migrations in one transaction. Refuses (errc::unsupported) a file whose schema is newer than this
  /// build; `why` receives the reason for any failure.
  static core::result<database> open(const std::string& path, const options& opts, std::string* why = nullptr);
  static core::result<database> open(const std::string& path, std::string* why = nullptr) {
    return open(path, options{}, why);
  }

  database(database&&) noexcept;
  database& operator=(database&&) noexcept;
  database(const database&) = delete;
  database& operator=(const database&) = delete;
  ~database();

  /// `PRAGMA user_version`: the number of migration steps applied.
  core::result<std::int64_t> schema_version();

  /// Inserts a new session; errc::conflict when the id exists.
  core::result<void> create_session(const session_record& s);
  /// errc::not_found when there is no such session.
  core::result<session_record> session(std::string_view id);
  /// Writes the mutable fields (phase, violations, terminated, flagged, updated_at, ended_at) of session `s.id`.
  core::result<void> update_session(const session_record& s);

  /// Appends one turn; errc::not_found for an unknown session, errc::conflict for a repeated seq.
  core::result<void> append_turn(const turn_record& t);
  /// The turns of a session in seq order.
  core::result<std::vector<turn_record>> turns(std::string_view session_id);
  /// At most `limit` turns with seq > `after_seq`, in seq order (one page of a transcript).
  core::result<std::vector<turn_record>> turns_after(std::string_view session_id, std::int64_t after_seq, std::int64_t limit);
  /// The last `limit` turns, in seq order (what a restored session remembers).
  core::result<std::vector<turn_record>> latest_turns(std::string_view session_id, std::int64_t limit);

  /// Deletes sessions that ended more than `retention` before `now_ms`, and sessions never ended whose last
  /// update is that old, with their turns. Runs in transactions of
  /// a bounded number of sessions so a batcher sharing the file waits at most one chunk. The audit chain is kept:
  /// it holds hashes and ids, no text, and deleting from it would break it.
  core::result<purge_counts> purge_older_than(std::chrono::days retention, std::int64_t now_ms);

  /// Copies committed WAL frames into the database file without blocking writers or readers (a PASSIVE
  /// checkpoint); returns how many frames the WAL holds and how many of them are now in the database file
  /// ({0, 0} when another connection is checkpointing right now).
  core::result<std::pair<int, int>> checkpoint();
  /// Frames in the WAL after this connection's latest commit; tracked only with checkpoint_pages = 0.
  int wal_frames() const noexcept { return *wal_frames_; }

  /// Starts a write transaction (BEGIN IMMEDIATE, so the write lock is taken now, not at the first write).
  core::result<transaction> begin();
  /// True while a transaction (or savepoint) is open on this connection.
  bool in_transaction() const noexcept;

  /// The prepared statement for `sql`, compiled on first use and cached for the connection's lifetime.
  core::result<statement> prepare(std::string_view sql);
  /// Runs SQL text that may hold several statements and returns no rows (schema, savepoints).
  core::result<void> exec(const char* sql);

  /// SQLite's message for the latest failure on this connection (for logs: it never contains bound values).
  const std::string& last_error() const noexcept { return last_error_; }

 private:
  struct close_connection {
    void operator()(sqlite3* db) const noexcept;
  };
  struct finalize_statement {
    void operator()(sqlite3_stmt* stmt) const noexcept;
  };
  using connection_ptr = std::unique_ptr<sqlite3, close_connection>;
  using statement_ptr = std::unique_ptr<sqlite3_stmt, finalize_statement>;
  struct sql_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  explicit database(connection_ptr conn) noexcept;
  core::result<void> configure(const options& opts);
  core::result<void> migrate();
  core::result<void> rollback() noexcept;
  boost::system::error_code fail(int rc, std::string_view op);
  friend class transaction;
  friend class statement;

  // Declared before the cache so statements are finalized before the connection closes.
  connection_ptr conn_;
  std::unordered_map<std::string, statement_ptr, sql_hash, std::equal_to<>> cache_;
  std::string last_error_;
  std::unique_ptr<int> wal_frames_ = std::make_unique<int>(0);  ///< on the heap: SQLite's WAL hook keeps its address
};

/// Group commit: many writes share one transaction and one fsync, each acknowledged only after COMMIT returned.
///
/// A dedicated writer thread owns the connection. `submit` (any thread, e.g. the HTTP event loop) appends to a
/// mutex-guarded vector and returns at once; the lock covers only a push_back, so the event loop never waits on
/// disk. A writer thread rather than a timer-driven `flush()` on the event loop because COMMIT blocks for the fsync
/// (0.3-10 ms), which would stall every connection on a single-threaded loop. Batching needs no timer: the writer
/// commits whatever is queued as soon as it is idle, and while a commit is in flight new writes accumulate, so the
/// batch grows with load (about arrival rate x commit time) and an idle system adds no delay. A batch holds at most
/// `max_batch` writes so the earliest writer's acknowledgement is not held back by an unbounded transaction.
///
/// Each write runs inside its own SAVEPOINT, so a failing write (unknown session, duplicate seq) is rolled back
/// and reported alone while the rest of the batch commits. If COMMIT fails, every write of the batch reports that
/// error: none of them is acknowledged.
///
/// Completions run on the writer thread, in submission order, after COMMIT: post to your own executor from them
/// and never block. `stop()` (also the destructor) commits everything already submitted, then joins.
class commit_batcher {
 public:
  /// One unit of work, run on the writer thread inside the batch transaction; capture what it writes by value.
  using write = std::function<core::result<void>(database&)>;
  /// Called once per accepted write with the write's outcome, after the batch committed or failed.
  using completion = std::function<void(core::result<void>)>;

  /// Bounds for `commit_batcher`.
  struct options {
    std::size_t max_batch = 512;    ///< writes per transaction
    std::size_t max_queued = 8192;  ///< back-pressure: beyond this `submit` fails with errc::unavailable
    /// With a connection opened with checkpoint_pages = 0: the writer checkpoints once the WAL holds this many
    /// frames and nothing is queued, so no waiting write pays for it; at 8 times this it checkpoints even when
    /// busy, so the WAL stays bounded under saturation. 0: leave checkpoints to SQLite or to others.
    int checkpoint_frames = 0;
  };

  /// Counters since start (read from any thread).
  struct stats {
    std::uint64_t writes = 0;        ///< completed writes, failed ones included
    std::uint64_t failed = 0;        ///< writes whose completion received an error
    std::uint64_t transactions = 0;  ///< batch transactions attempted
    std::size_t queued = 0;          ///< writes waiting for the writer now
  };

  commit_batcher(database db, options opts);
  explicit commit_batcher(database db) : commit_batcher(std::move(db), options{}) {}
  commit_batcher(const commit_batcher&) = delete;
  commit_batcher& operator=(const commit_batcher&) = delete;
  ~commit_batcher();

  /// Queues `w`; `done` runs once it committed (or failed). errc::unavailable when the queue is full or the
  /// batcher stopped, in which case `done` is never called.
  core::result<void> submit(write w, completion done);

  /// Commits what was submitted and joins the writer; later submits fail. Idempotent.
  void stop();

  stats counters() const;

 private:
  struct pending {
    write w;
    completion done;
  };
  void run();
  void commit_batch(std::span<pending> batch);
  core::result<void> close_savepoint(bool keep);

  database db_;  // touched only by the writer thread once it started
  options opts_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<pending> queue_;  // guarded by mutex_
  bool stopping_ = false;       // guarded by mutex_
  stats stats_;                 // guarded by mutex_
  std::thread writer_;          // last: starts after everything above exists
};

}  // namespace mas::store
