#include "mas/store/database.hpp"

#include "core/log.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <limits>
#include <stdexcept>

namespace mas::store {
namespace {

using core::errc;

// Append only: a released build may meet any older file, so a step is never edited once shipped.
constexpr std::array<std::string_view, 3> migrations = {
    // 1: sessions and their transcripts.
    R"sql(
CREATE TABLE sessions(
  id TEXT PRIMARY KEY NOT NULL,
  owner TEXT NOT NULL,
  persona TEXT NOT NULL,
  scenario TEXT NOT NULL,
  training_type TEXT NOT NULL,
  phase TEXT NOT NULL,
  violations INTEGER NOT NULL,
  terminated INTEGER NOT NULL,
  flagged INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  ended_at INTEGER
) STRICT;
-- Retention scans ended sessions by age; live ones (NULL) stay out of the index.
CREATE INDEX sessions_by_end ON sessions(ended_at, id) WHERE ended_at IS NOT NULL;
CREATE TABLE turns(
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  agent TEXT NOT NULL,
  text TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  latency_ms INTEGER NOT NULL,
  meta TEXT NOT NULL CHECK(json_valid(meta))
) STRICT;
-- Reads a transcript in order, makes seq unique per session, and serves the foreign key on delete.
CREATE UNIQUE INDEX turns_by_session ON turns(session_id, seq);
)sql",
    // 2: the hash-chained audit log (see audit.hpp). No foreign key: it outlives purged sessions.
    R"sql(
CREATE TABLE audit(
  seq INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL,
  session_id TEXT NOT NULL,
  agent TEXT NOT NULL,
  decision TEXT NOT NULL,
  latency_ms INTEGER NOT NULL,
  text_sha256 TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
) STRICT;
-- Guards against the application's own mistakes; the hash chain is what detects deliberate edits.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
)sql",
    // 3: retention also removes sessions nobody ended, by their last update.
    R"sql(
CREATE INDEX sessions_by_update ON sessions(updated_at, id) WHERE ended_at IS NULL;
)sql",
};

// Sessions per retention transaction: bounds how long a purge holds the write lock against the batcher.
constexpr std::int64_t purge_chunk = 128;

errc map_sqlite(int rc) noexcept {
  switch (rc) {
    case SQLITE_CONSTRAINT_FOREIGNKEY: return errc::not_found;
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_CONSTRAINT_DATATYPE: return errc::invalid_argument;
    case SQLITE_CONSTRAINT_TRIGGER: return errc::unsupported;
    default: break;
  }
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: return errc::conflict;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM: return errc::unavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT: return errc::malformed;
    case SQLITE_TOOBIG: return errc::too_large;
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_MISUSE: return errc::invalid_argument;
    default: return errc::io_error;
  }
}

spdlog::logger& logger() {
  static const auto instance = core::log::get("mas");
  return *instance;
}

}  // namespace

std::span<const std::string_view> schema_migrations() noexcept { return migrations; }

// ---- statement

statement::statement(statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), bind_rc_(other.bind_rc_) {}

statement::~statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

statement& statement::bind(int index, std::int64_t value) noexcept {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

statement& statement::bind(int index, std::string_view text) noexcept {
  // A default string_view has a null data(), which SQLite would bind as NULL rather than as "".
  const char* data = text.data() != nullptr ? text.data() : "";
  // nullptr is SQLITE_STATIC: no copy, the caller keeps the text alive until the step.
  const int rc = sqlite3_bind_text64(stmt_, index, data, text.size(), nullptr, SQLITE_UTF8);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

statement& statement::bind(int index, std::optional<std::int64_t> value) noexcept {
  if (value) return bind(index, *value);
  const int rc = sqlite3_bind_null(stmt_, index);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

core::result<bool> statement::step() {
  // result<bool> cannot be built implicitly from an error_code (which converts to bool): name the error side.
  using boost::system::in_place_error;
  if (bind_rc_ != SQLITE_OK) return {in_place_error, db_->fail(bind_rc_, sqlite3_sql(stmt_))};
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return {in_place_error, db_->fail(rc, sqlite3_sql(stmt_))};
}

core::result<void> statement::run() {
  auto r = step();
  if (!r) return r.error();
  return {};
}

std::int64_t statement::column_int(int index) const noexcept { return sqlite3_column_int64(stmt_, index); }

std::string statement::column_text(int index) const {
  const auto* text = sqlite3_column_text(stmt_, index);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index))};
}

std::optional<std::int64_t> statement::column_optional_int(int index) const noexcept {
  if (sqlite3_column_type(stmt_, index) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(stmt_, index);
}

// ---- transaction

transaction::~transaction() {
  if (db_ != nullptr) (void)db_->rollback();
}

core::result<void> transaction::commit() {
  auto stmt = db_->prepare("COMMIT");
  if (!stmt) return stmt.error();
  auto r = stmt->run();
  if (r) db_ = nullptr;
  return r;
}

// ---- database

void database::close_connection::operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
void database::finalize_statement::operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }

database::database(connection_ptr conn) noexcept : conn_(std::move(conn)) {}
database::database(database&&) noexcept = default;
database& database::operator=(database&&) noexcept = default;
database::~database() = default;

core::result<database> database::open(const std::string& path, const options& opts, std::string* why) {
  sqlite3* raw = nullptr;
  // NOMUTEX: one thread uses a connection at a time (see the header), so SQLite's per-call mutex is pure cost.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  connection_ptr conn(raw);  // SQLite allocates a handle even when opening fails; it must still be closed
  if (rc != SQLITE_OK) {
    const std::string message = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    core::log::event(logger(), spdlog::level::err, "store_open_failed", {{"path", path}, {"message", message}});
    if (why != nullptr) *why = "cannot open " + path + ": " + message;
    return core::make_error_code(map_sqlite(rc));
  }
  database db(std::move(conn));
  auto ready = db.configure(opts);
  if (ready) ready = db.migrate();
  if (!ready) {
    if (why != nullptr) *why = db.last_error_;
    return ready.error();
  }
  return db;
}

core::result<void> database::configure(const options& opts) {
  sqlite3_busy_timeout(conn_.get(), static_cast<int>(opts.busy_timeout.count()));
  // journal_mode answers with the mode in force; a file that cannot do WAL (no shared memory) is refused rather
  // than silently running with a rollback journal and different durability.
  auto mode = prepare("PRAGMA journal_mode=WAL");
  if (!mode) return mode.error();
  auto row = mode->step();
  if (!row) return row.error();
  const std::string got = *row ? mode->column_text(0) : std::string();
  const char* file = sqlite3_db_filename(conn_.get(), "main");
  const bool in_memory = file == nullptr || *file == '\0';
  if (got != "wal" && !in_memory) {
    last_error_ = "journal_mode=WAL not available (got '" + got + "')";
    return core::make_error_code(errc::unsupported);
  }
  if (opts.checkpoint_pages <= 0) {
    // Replaces SQLite's automatic checkpoint (itself a WAL hook) with a counter the owner reads.
    sqlite3_wal_hook(
        conn_.get(),
        [](void* frames, sqlite3*, const char*, int n) {
          *static_cast<int*>(frames) = n;
          return SQLITE_OK;
        },
        wal_frames_.get());
  } else if (opts.checkpoint_pages != 1000) {
    if (auto r = exec(("PRAGMA wal_autocheckpoint=" + std::to_string(opts.checkpoint_pages)).c_str()); !r) return r;
  }
  return exec(opts.sync == durability::power_loss ? "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                                                  : "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
}

core::result<std::pair<int, int>> database::checkpoint() {
  int frames = 0;
  int copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(conn_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
  if (rc == SQLITE_BUSY) return std::pair{0, 0};  // another connection is checkpointing
  if (rc != SQLITE_OK) return fail(rc, "checkpoint");
  return std::pair{frames, copied};
}

core::result<void> database::migrate() {
  // Inside the write lock, so two processes opening a new file cannot both apply the same step.
  auto tx = begin();
  if (!tx) return tx.error();
  auto version = schema_version();
  if (!version) return version.error();
  const auto known = static_cast<std::int64_t>(migrations.size());
  if (*version > known) {
    last_error_ = "database schema version " + std::to_string(*version) + " is newer than this build supports (" +
                  std::to_string(known) + "); refusing to open it with an older sparc-mas";
    core::log::event(logger(), spdlog::level::err, "store_schema_too_new", {{"found", *version}, {"known", known}});
    return core::make_error_code(errc::unsupported);
  }
  if (*version == known) return tx->commit();
  for (auto v = *version; v < known; ++v) {
    const std::string step(migrations[static_cast<std::size_t>(v)]);
    if (auto r = exec(step.c_str()); !r) return r;
  }
  // PRAGMA takes no bound parameters; the value is our own integer.
  const std::string set_version = "PRAGMA user_version=" + std::to_string(known);
  if (auto r = exec(set_version.c_str()); !r) return r;
  if (auto r = tx->commit(); !r) return r;
  core::log::event(logger(), spdlog::level::info, "store_migrated", {{"from", *version}, {"to", known}});
  return {};
}

core::result<std::int64_t> database::schema_version() {
  auto stmt = prepare("PRAGMA user_version");
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  return *row ? stmt->column_int(0) : 0;
}

core::result<void> database::create_session(const session_record& s) {
  auto stmt = prepare(
      "INSERT INTO sessions(id, owner, persona, scenario, training_type, phase, violations, terminated, flagged,"
      " created_at, updated_at, ended_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
  if (!stmt) return stmt.error();
  stmt->bind(1, s.id).bind(2, s.owner).bind(3, s.persona).bind(4, s.scenario).bind(5, s.training_type);
  stmt->bind(6, s.phase).bind(7, s.violations).bind(8, std::int64_t{s.terminated}).bind(9, std::int64_t{s.flagged});
  stmt->bind(10, s.created_at_ms).bind(11, s.updated_at_ms).bind(12, s.ended_at_ms);
  return stmt->run();
}

core::result<session_record> database::session(std::string_view id) {
  auto stmt = prepare(
      "SELECT id, owner, persona, scenario, training_type, phase, violations, terminated, flagged, created_at,"
      " updated_at, ended_at FROM sessions WHERE id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, id);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return core::make_error_code(errc::not_found);
  session_record s;
  s.id = stmt->column_text(0);
  s.owner = stmt->column_text(1);
  s.persona = stmt->column_text(2);
  s.scenario = stmt->column_text(3);
  s.training_type = stmt->column_text(4);
  s.phase = stmt->column_text(5);
  s.violations = stmt->column_int(6);
  s.terminated = stmt->column_int(7) != 0;
  s.flagged = stmt->column_int(8) != 0;
  s.created_at_ms = stmt->column_int(9);
  s.updated_at_ms = stmt->column_int(10);
  s.ended_at_ms = stmt->column_optional_int(11);
  return s;
}

core::result<void> database::update_session(const session_record& s) {
  auto stmt = prepare(
      "UPDATE sessions SET phase = ?2, violations = ?3, terminated = ?4, flagged = ?5, updated_at = ?6,"
      " ended_at = ?7 WHERE id = ?1");
  if (!stmt) return stmt.error();
  stmt->bind(1, s.id).bind(2, s.phase).bind(3, s.violations).bind(4, std::int64_t{s.terminated});
  stmt->bind(5, std::int64_t{s.flagged}).bind(6, s.updated_at_ms).bind(7, s.ended_at_ms);
  if (auto r = stmt->run(); !r) return r;
  if (sqlite3_changes64(conn_.get()) == 0) return core::make_error_code(errc::not_found);
  return {};
}

core::result<void> database::append_turn(const turn_record& t) {
  auto stmt = prepare(
      "INSERT INTO turns(session_id, seq, agent, text, created_at, latency_ms, meta)"
      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!stmt) return stmt.error();
  stmt->bind(1, t.session_id).bind(2, t.seq).bind(3, t.agent).bind(4, t.text).bind(5, t.created_at_ms);
  stmt->bind(6, t.latency_ms).bind(7, t.meta_json);
  return stmt->run();
}

namespace {

core::result<std::vector<turn_record>> read_turns(statement& stmt) {
  std::vector<turn_record> out;
  for (;;) {
    auto row = stmt.step();
    if (!row) return row.error();
    if (!*row) break;
    turn_record& t = out.emplace_back();
    t.session_id = stmt.column_text(0);
    t.seq = stmt.column_int(1);
    t.agent = stmt.column_text(2);
    t.text = stmt.column_text(3);
    t.created_at_ms = stmt.column_int(4);
    t.latency_ms = stmt.column_int(5);
    t.meta_json = stmt.column_text(6);
  }
  return out;
}

}  // namespace

core::result<std::vector<turn_record>> database::turns(std::string_view session_id) {
  return turns_after(session_id, std::numeric_limits<std::int64_t>::min(), -1);
}

core::result<std::vector<turn_record>> database::turns_after(std::string_view session_id, std::int64_t after_seq,
                                                             std::int64_t limit) {
  auto stmt = prepare(
      "SELECT session_id, seq, agent, text, created_at, latency_ms, meta FROM turns WHERE session_id = ?1"
      " AND seq > ?2 ORDER BY seq LIMIT ?3");
  if (!stmt) return stmt.error();
  stmt->bind(1, session_id).bind(2, after_seq).bind(3, limit);
  return read_turns(*stmt);
}

core::result<std::vector<turn_record>> database::latest_turns(std::string_view session_id, std::int64_t limit) {
  auto stmt = prepare(
      "SELECT * FROM (SELECT session_id, seq, agent, text, created_at, latency_ms, meta FROM turns"
      " WHERE session_id = ?1 ORDER BY seq DESC LIMIT ?2) ORDER BY seq");
  if (!stmt) return stmt.error();
  stmt->bind(1, session_id).bind(2, limit);
  return read_turns(*stmt);
}

core::result<purge_counts> database::purge_older_than(std::chrono::days retention, std::int64_t now_ms) {
  const std::int64_t cutoff = now_ms - std::chrono::duration_cast<std::chrono::milliseconds>(retention).count();
  // Ended sessions count from their end; sessions nobody ended (a closed browser tab, a session the supervisor
  // terminated) count from their last update. Each kind is selected through its own partial index.
  constexpr const char* ended_chunk =
      "SELECT id FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ?1 ORDER BY ended_at, id LIMIT ?2";
  constexpr const char* abandoned_chunk =
      "SELECT id FROM sessions WHERE ended_at IS NULL AND updated_at < ?1 ORDER BY updated_at, id LIMIT ?2";
  purge_counts total;
  for (const char* chunk : {ended_chunk, abandoned_chunk}) {
    // Both statements pick the same chunk (same order, and the sessions still exist when turns are deleted);
    // turns go first so they can be counted (the cascade would delete them uncounted).
    const std::string delete_turns = std::string("DELETE FROM turns WHERE session_id IN (") + chunk + ")";
    const std::string delete_sessions = std::string("DELETE FROM sessions WHERE id IN (") + chunk + ")";
    for (;;) {
      auto tx = begin();
      if (!tx) return tx.error();
      auto turns = prepare(delete_turns);
      if (!turns) return turns.error();
      if (auto r = turns->bind(1, cutoff).bind(2, purge_chunk).run(); !r) return r.error();
      const auto turns_deleted = sqlite3_changes64(conn_.get());
      auto sessions = prepare(delete_sessions);
      if (!sessions) return sessions.error();
      if (auto r = sessions->bind(1, cutoff).bind(2, purge_chunk).run(); !r) return r.error();
      const auto sessions_deleted = sqlite3_changes64(conn_.get());
      if (auto r = tx->commit(); !r) return r.error();
      total.turns += turns_deleted;
      total.sessions += sessions_deleted;
      if (sessions_deleted < purge_chunk) break;
    }
  }
  if (total.sessions > 0) {
    core::log::event(logger(), spdlog::level::info, "store_purged",
                     {{"sessions", total.sessions}, {"turns", total.turns}, {"retention_days", retention.count()}});
  }
  return total;
}

core::result<transaction> database::begin() {
  auto stmt = prepare("BEGIN IMMEDIATE");
  if (!stmt) return stmt.error();
  if (auto r = stmt->run(); !r) return r.error();
  return transaction(*this);
}

bool database::in_transaction() const noexcept { return sqlite3_get_autocommit(conn_.get()) == 0; }

core::result<void> database::rollback() noexcept {
  // SQLite may already have rolled back on its own (I/O error, SQLITE_FULL); a second ROLLBACK would fail.
  if (!in_transaction()) return {};
  const int rc = sqlite3_exec(conn_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return core::make_error_code(map_sqlite(rc));
  return {};
}

core::result<statement> database::prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(conn_.get(), sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    statement_ptr owned(raw);
    if (rc != SQLITE_OK) return fail(rc, sql);
    if (owned == nullptr) return core::make_error_code(errc::invalid_argument);  // empty SQL: a programming slip
    it = cache_.emplace(std::string(sql), std::move(owned)).first;
  }
  return statement(*this, it->second.get());
}

core::result<void> database::exec(const char* sql) {
  const int rc = sqlite3_exec(conn_.get(), sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(rc, sql);
  return {};
}

boost::system::error_code database::fail(int rc, std::string_view op) {
  // The statement text names the operation; it holds placeholders, never bound values. Keep logs short.
  constexpr std::size_t max_op = 80;
  const std::string_view shown = op.substr(0, std::min(op.size(), max_op));
  const char* message = conn_ != nullptr ? sqlite3_errmsg(conn_.get()) : sqlite3_errstr(rc);
  last_error_ = std::string(message) + " (in: " + std::string(shown) + ")";
  // Constraint failures are answers (duplicate id, unknown session) that the caller turns into a status.
  if ((rc & 0xff) != SQLITE_CONSTRAINT) {
    core::log::event(logger(), spdlog::level::err, "store_error",
                     {{"code", rc}, {"message", message}, {"sql", std::string(shown)}});
  }
  return core::make_error_code(map_sqlite(rc));
}

// ---- commit_batcher

namespace {

// Checked before the writer thread starts: throwing after it started would destroy a joinable std::thread.
commit_batcher::options checked(commit_batcher::options opts) {
  if (opts.max_batch == 0 || opts.max_queued == 0) throw std::invalid_argument("commit_batcher: bounds must be > 0");
  return opts;
}

}  // namespace

commit_batcher::commit_batcher(database db, options opts)
    : db_(std::move(db)), opts_(checked(opts)), writer_([this] { run(); }) {}

commit_batcher::~commit_batcher() { stop(); }

core::result<void> commit_batcher::submit(write w, completion done) {
  bool was_empty = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= opts_.max_queued) return core::make_error_code(errc::unavailable);
    was_empty = queue_.empty();
    queue_.push_back({std::move(w), std::move(done)});
  }
  // The writer sleeps only on an empty queue and re-checks it after every batch.
  if (was_empty) wake_.notify_one();
  return {};
}

void commit_batcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  // A completion that stops its own batcher cannot join the thread it runs on; the writer exits after the drain.
  if (writer_.joinable() && writer_.get_id() != std::this_thread::get_id()) writer_.join();
}

commit_batcher::stats commit_batcher::counters() const {
  std::lock_guard lock(mutex_);
  auto s = stats_;
  s.queued = queue_.size();
  return s;
}

void commit_batcher::run() {
  std::vector<pending> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything submitted is committed
      batch.swap(queue_);          // queue_ takes back batch's (empty) buffer
    }
    const std::span<pending> all(batch);
    for (std::size_t i = 0; i < all.size(); i += opts_.max_batch)
      commit_batch(all.subspan(i, std::min(opts_.max_batch, all.size() - i)));
    batch.clear();
    if (opts_.checkpoint_frames > 0 && db_.wal_frames() >= opts_.checkpoint_frames) {
      // Only a checkpoint with no write in between lets the next transaction restart the WAL from its start
      // (appending to a growing file makes every fsync slower). Another connection may have copied most frames
      // already, leaving this one little to do.
      bool idle = false;
      {
        std::lock_guard lock(mutex_);
        idle = queue_.empty();
      }
      if (idle || db_.wal_frames() >= 8 * opts_.checkpoint_frames) (void)db_.checkpoint();
    }
  }
}

core::result<void> commit_batcher::close_savepoint(bool keep) {
  if (!keep) {
    auto undo = db_.prepare("ROLLBACK TO batch_write");
    if (!undo) return undo.error();
    if (auto r = undo->run(); !r) return r;
  }
  auto release = db_.prepare("RELEASE batch_write");
  if (!release) return release.error();
  return release->run();
}

void commit_batcher::commit_batch(std::span<pending> batch) {
  std::vector<core::result<void>> outcome(batch.size());
  auto fail_all = [&](boost::system::error_code ec) {
    for (auto& o : outcome) o = ec;
  };
  if (auto tx = db_.begin(); !tx) {
    fail_all(tx.error());
  } else {
    bool aborted = false;
    for (std::size_t i = 0; i < batch.size() && !aborted; ++i) {
      auto mark = db_.prepare("SAVEPOINT batch_write");
      auto opened = mark ? mark->run() : core::result<void>(mark.error());
      if (!opened) {
        fail_all(opened.error());
        aborted = true;
        break;
      }
      outcome[i] = batch[i].w(db_);
      if (!db_.in_transaction()) {
        // SQLite rolled the whole transaction back (I/O error, disk full): the earlier writes are gone too.
        fail_all(outcome[i] ? core::make_error_code(errc::io_error) : outcome[i].error());
        aborted = true;
        break;
      }
      if (auto r = close_savepoint(outcome[i].has_value()); !r) {
        fail_all(r.error());
        aborted = true;
      }
    }
    if (!aborted) {
      if (auto committed = tx->commit(); !committed) {
        for (auto& o : outcome)
          if (o) o = committed.error();
      }
    }
  }
  {
    std::lock_guard lock(mutex_);
    ++stats_.transactions;
    stats_.writes += batch.size();
    stats_.failed += static_cast<std::uint64_t>(std::count_if(outcome.begin(), outcome.end(), [](const auto& o) {
      return !o.has_value();
    }));
  }
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(outcome[i]);
}

}  // namespace mas::store
