#include "mas/store/database.hpp"

#include "core/ids.hpp"
#include "mas/store/audit.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <latch>
#include <mutex>
#include <random>
#include <semaphore>
#include <set>

namespace {

using core::errc;
using namespace mas::store;
namespace fs = std::filesystem;

constexpr std::int64_t day_ms = 24LL * 60 * 60 * 1000;
constexpr std::int64_t t0 = 1'750'000'000'000;  // a fixed "now" (June 2025)

// A fresh directory per test, removed afterwards.
struct temp_dir {
  fs::path path = fs::temp_directory_path() / ("sparc-store-" + core::uuid_v4());
  temp_dir() { fs::create_directories(path); }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  std::string file(const char* name = "store.db") const { return (path / name).string(); }
};

database open_or_die(const std::string& path, database::options opts = {}) {
  std::string why;
  auto db = database::open(path, opts, &why);
  if (!db) throw std::runtime_error("open failed: " + why);
  return std::move(*db);
}

session_record make_session(std::string id, std::int64_t created = t0) {
  session_record s;
  s.id = std::move(id);
  s.owner = "key-1";
  s.persona = "anxious_parent";
  s.scenario = "hpv_vaccine_hesitancy";
  s.training_type = "SkillsPractice1";
  s.phase = "intro";
  s.created_at_ms = created;
  s.updated_at_ms = created;
  return s;
}

turn_record make_turn(std::string session_id, std::int64_t seq, std::string text = "") {
  turn_record t;
  t.session_id = std::move(session_id);
  t.seq = seq;
  t.agent = seq % 2 == 1 ? "user" : "caregiver";
  t.text = text.empty() ? "utterance " + std::to_string(seq) : std::move(text);
  t.created_at_ms = t0 + seq;
  t.latency_ms = 40 + seq % 7;
  t.meta_json = R"({"emotion":"neutral"})";
  return t;
}

// A plain SQLite connection, as an older build or an attacker would have it.
struct raw_connection {
  sqlite3* db = nullptr;
  explicit raw_connection(const std::string& path) { sqlite3_open(path.c_str(), &db); }
  ~raw_connection() { sqlite3_close(db); }
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;
  int exec(const std::string& sql) const { return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr); }
};

std::int64_t count(database& db, std::string_view sql) {
  auto stmt = db.prepare(sql);
  if (!stmt) return -1;
  auto row = stmt->step();
  return row && *row ? stmt->column_int(0) : -1;
}

// ---- open and migrations

TEST(database, fresh_file_gets_latest_schema_wal_and_foreign_keys) {
  temp_dir dir;
  auto db = open_or_die(dir.file());
  EXPECT_EQ(db.schema_version().value(), static_cast<std::int64_t>(schema_migrations().size()));
  auto mode = db.prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode && mode->step().value());
  EXPECT_EQ(mode->column_text(0), "wal");
  EXPECT_EQ(count(db, "PRAGMA foreign_keys"), 1);
  EXPECT_EQ(count(db, "PRAGMA synchronous"), 2);  // FULL
}

TEST(database, process_crash_durability_selects_synchronous_normal) {
  temp_dir dir;
  auto db = open_or_die(dir.file(), {.sync = durability::process_crash});
  EXPECT_EQ(count(db, "PRAGMA synchronous"), 1);
}

TEST(database, reopening_a_current_file_changes_nothing) {
  temp_dir dir;
  { auto db = open_or_die(dir.file()); ASSERT_TRUE(db.create_session(make_session("s1"))); }
  auto db = open_or_die(dir.file());
  EXPECT_TRUE(db.session("s1"));
  EXPECT_EQ(db.schema_version().value(), static_cast<std::int64_t>(schema_migrations().size()));
}

TEST(database, old_version_file_is_migrated_and_keeps_its_data) {
  temp_dir dir;
  {
    raw_connection raw(dir.file());
    ASSERT_EQ(raw.exec(std::string(schema_migrations()[0])), SQLITE_OK);
    ASSERT_EQ(raw.exec("PRAGMA user_version=1"), SQLITE_OK);
    ASSERT_EQ(raw.exec("INSERT INTO sessions VALUES('old', 'k', 'p', 's', 't', 'intro', 0, 0, 0, 1, 1, NULL)"),
              SQLITE_OK);
  }
  auto db = open_or_die(dir.file());
  EXPECT_EQ(db.schema_version().value(), static_cast<std::int64_t>(schema_migrations().size()));
  EXPECT_EQ(db.session("old").value().persona, "p");
  // The step-2 table exists and works.
  ASSERT_TRUE(record_turn(db, make_turn("old", 1)));
  EXPECT_TRUE(audit_log(db).verify().value().ok());
}

TEST(database, newer_schema_than_this_build_is_refused_with_a_reason) {
  temp_dir dir;
  {
    raw_connection raw(dir.file());
    ASSERT_EQ(raw.exec("PRAGMA user_version=99"), SQLITE_OK);
  }
  std::string why;
  auto db = database::open(dir.file(), {}, &why);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error(), errc::unsupported);
  EXPECT_NE(why.find("99"), std::string::npos) << why;
  EXPECT_NE(why.find("newer"), std::string::npos) << why;
  raw_connection raw(dir.file());  // untouched
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(raw.db, "PRAGMA user_version", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 99);
  sqlite3_finalize(stmt);
}

TEST(database, a_file_that_is_not_a_database_is_refused) {
  temp_dir dir;
  {
    std::FILE* f = std::fopen(dir.file().c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const std::string junk(4096, 'x');
    ASSERT_EQ(std::fwrite(junk.data(), 1, junk.size(), f), junk.size());
    ASSERT_EQ(std::fclose(f), 0);
  }
  std::string why;
  auto db = database::open(dir.file(), {}, &why);
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error(), errc::malformed) << why;
}

// ---- sessions and turns

TEST(database, session_create_read_update) {
  auto db = open_or_die(":memory:");
  auto s = make_session("s1");
  ASSERT_TRUE(db.create_session(s));
  EXPECT_EQ(db.create_session(s).error(), errc::conflict);

  auto got = db.session("s1").value();
  EXPECT_EQ(got.owner, "key-1");
  EXPECT_EQ(got.training_type, "SkillsPractice1");
  EXPECT_FALSE(got.ended_at_ms);

  s.phase = "listen";
  s.violations = 2;
  s.flagged = true;
  s.terminated = true;
  s.updated_at_ms = t0 + 5;
  s.ended_at_ms = t0 + 6;
  s.persona = "ignored";  // not a mutable field
  ASSERT_TRUE(db.update_session(s));
  got = db.session("s1").value();
  EXPECT_EQ(got.phase, "listen");
  EXPECT_EQ(got.violations, 2);
  EXPECT_TRUE(got.flagged);
  EXPECT_TRUE(got.terminated);
  EXPECT_EQ(got.updated_at_ms, t0 + 5);
  EXPECT_EQ(got.ended_at_ms, t0 + 6);
  EXPECT_EQ(got.persona, "anxious_parent");

  EXPECT_EQ(db.session("nope").error(), errc::not_found);
  EXPECT_EQ(db.update_session(make_session("nope")).error(), errc::not_found);
}

TEST(database, turns_read_back_in_seq_order_with_exact_text) {
  auto db = open_or_die(":memory:");
  ASSERT_TRUE(db.create_session(make_session("s1")));
  ASSERT_TRUE(db.create_session(make_session("s2")));
  using namespace std::string_literals;
  const std::string odd_text = "caf\xC3\xA9 \"quoted\" with a NUL \0 inside"s;
  ASSERT_EQ(odd_text.size(), 34U);
  for (const std::int64_t seq : {3, 1, 2}) ASSERT_TRUE(db.append_turn(make_turn("s1", seq)));
  ASSERT_TRUE(db.append_turn(make_turn("s1", 4, odd_text)));
  ASSERT_TRUE(db.append_turn(make_turn("s2", 1)));

  const auto turns = db.turns("s1").value();
  ASSERT_EQ(turns.size(), 4U);
  for (std::size_t i = 0; i < turns.size(); ++i) EXPECT_EQ(turns[i].seq, static_cast<std::int64_t>(i + 1));
  EXPECT_EQ(turns[0].agent, "user");
  EXPECT_EQ(turns[1].latency_ms, 42);
  EXPECT_EQ(turns[1].meta_json, R"({"emotion":"neutral"})");
  EXPECT_EQ(turns[3].text, odd_text);
  EXPECT_TRUE(db.turns("none").value().empty());
}

TEST(database, without_auto_checkpoint_the_wal_grows_until_checkpoint_copies_it) {
  temp_dir dir;
  auto db = open_or_die(dir.file(), {.checkpoint_pages = 0});
  ASSERT_TRUE(db.create_session(make_session("s1")));
  for (std::int64_t seq = 1; seq <= 1500; ++seq) ASSERT_TRUE(db.append_turn(make_turn("s1", seq, std::string(600, 'x'))));
  // SQLite's automatic checkpoint would have run after 1000 pages; here every frame is still only in the WAL.
  auto other = open_or_die(dir.file());
  const auto [frames, copied] = other.checkpoint().value();
  EXPECT_GT(frames, 1000);
  EXPECT_EQ(copied, frames);
  EXPECT_EQ(db.turns("s1").value().size(), 1500U);
}

TEST(database, transcript_pages_and_the_latest_turns) {
  auto db = open_or_die(":memory:");
  ASSERT_TRUE(db.create_session(make_session("s1")));
  ASSERT_TRUE(db.create_session(make_session("s2")));
  for (std::int64_t seq = 1; seq <= 7; ++seq) ASSERT_TRUE(db.append_turn(make_turn("s1", seq)));
  ASSERT_TRUE(db.append_turn(make_turn("s2", 9)));
  const auto seqs = [](const std::vector<turn_record>& turns) {
    std::vector<std::int64_t> out;
    for (const auto& t : turns) out.push_back(t.seq);
    return out;
  };
  EXPECT_EQ(seqs(db.turns_after("s1", 0, 3).value()), (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(seqs(db.turns_after("s1", 3, 3).value()), (std::vector<std::int64_t>{4, 5, 6}));
  EXPECT_EQ(seqs(db.turns_after("s1", 6, 3).value()), (std::vector<std::int64_t>{7}));
  EXPECT_TRUE(db.turns_after("s1", 7, 3).value().empty());
  EXPECT_EQ(seqs(db.latest_turns("s1", 3).value()), (std::vector<std::int64_t>{5, 6, 7}));
  EXPECT_EQ(seqs(db.latest_turns("s1", 100).value()), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(seqs(db.latest_turns("s2", 1).value()), (std::vector<std::int64_t>{9}));
  EXPECT_TRUE(db.latest_turns("none", 5).value().empty());
  EXPECT_EQ(db.turns_after("s1", 0, 100).value()[2].text, "utterance 3");
}

TEST(database, turn_errors_map_to_errc) {
  auto db = open_or_die(":memory:");
  ASSERT_TRUE(db.create_session(make_session("s1")));
  ASSERT_TRUE(db.append_turn(make_turn("s1", 1)));
  EXPECT_EQ(db.append_turn(make_turn("s1", 1)).error(), errc::conflict);
  EXPECT_EQ(db.append_turn(make_turn("unknown", 1)).error(), errc::not_found);
  auto bad_meta = make_turn("s1", 2);
  bad_meta.meta_json = "{not json";
  EXPECT_EQ(db.append_turn(bad_meta).error(), errc::invalid_argument);
  EXPECT_FALSE(db.last_error().empty());
  EXPECT_EQ(db.last_error().find("{not json"), std::string::npos);  // messages never carry values
}

TEST(database, transaction_rolls_back_unless_committed) {
  auto db = open_or_die(":memory:");
  {
    auto tx = db.begin();
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db.create_session(make_session("dropped")));
  }
  EXPECT_FALSE(db.in_transaction());
  EXPECT_EQ(db.session("dropped").error(), errc::not_found);
  auto tx = db.begin();
  ASSERT_TRUE(tx);
  ASSERT_TRUE(db.create_session(make_session("kept")));
  ASSERT_TRUE(tx->commit());
  EXPECT_TRUE(db.session("kept"));
}

// ---- retention

TEST(database, purge_deletes_only_sessions_ended_before_the_retention_window) {
  auto db = open_or_die(":memory:");
  auto add = [&](const std::string& id, std::optional<std::int64_t> ended, int turns,
                 std::int64_t updated = t0 - 1 * day_ms) {
    auto s = make_session(id, t0 - 100 * day_ms);
    s.ended_at_ms = ended;
    s.updated_at_ms = updated;
    ASSERT_TRUE(db.create_session(s));
    for (int i = 1; i <= turns; ++i) ASSERT_TRUE(db.append_turn(make_turn(id, i)));
  };
  add("live_old", std::nullopt, 3);         // never ended, updated yesterday: kept however old
  add("abandoned", std::nullopt, 4, t0 - 40 * day_ms);  // never ended, untouched for 40 days: purged
  add("ended_recent", t0 - 10 * day_ms, 2);  // inside 30 days: kept
  add("ended_edge", t0 - 30 * day_ms, 1);    // exactly 30 days: kept (strictly older is purged)
  for (int i = 0; i < 300; ++i) add("old_" + std::to_string(i), t0 - 31 * day_ms - i, 2);  // > one chunk

  const auto purged = db.purge_older_than(std::chrono::days{30}, t0).value();
  EXPECT_EQ(purged.sessions, 301);
  EXPECT_EQ(purged.turns, 604);
  EXPECT_EQ(db.session("abandoned").error(), errc::not_found);
  EXPECT_EQ(count(db, "SELECT count(*) FROM sessions"), 3);
  EXPECT_EQ(count(db, "SELECT count(*) FROM turns"), 6);
  EXPECT_EQ(db.turns("live_old").value().size(), 3U);
  EXPECT_EQ(db.session("old_7").error(), errc::not_found);

  const auto again = db.purge_older_than(std::chrono::days{30}, t0).value();
  EXPECT_EQ(again.sessions, 0);
  EXPECT_EQ(again.turns, 0);
}

// ---- group commit

// Holds the writer inside its first write until opened, so the writes submitted meanwhile queue up. Declare it
// before the batcher and an `opener` after it, so an early test failure cannot leave the writer stuck in stop().
struct writer_gate {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::once_flag opened;

  commit_batcher::write hold() {
    return [this](database&) -> core::result<void> {
      entered.set_value();
      released.wait();
      return {};
    };
  }
  void open() {
    std::call_once(opened, [this] { release.set_value(); });
  }
  struct opener {
    explicit opener(writer_gate& g) : gate(g) {}
    writer_gate& gate;
    opener(const opener&) = delete;
    opener& operator=(const opener&) = delete;
    ~opener() { gate.open(); }
  };
};

TEST(commit_batcher, shares_transactions_and_completes_only_after_commit) {
  temp_dir dir;
  {
    auto db = open_or_die(dir.file());
    ASSERT_TRUE(db.create_session(make_session("s1")));
  }
  // Read only from the completions (which run one at a time on the writer thread): a second connection sees a
  // write only once it committed.
  auto reader = open_or_die(dir.file());
  writer_gate gate;
  std::latch all_done(1001);
  std::atomic<int> ok{0};
  std::atomic<int> invisible{0};
  commit_batcher batcher(open_or_die(dir.file()), {.max_batch = 100, .max_queued = 10'000});
  const writer_gate::opener opener{gate};

  ASSERT_TRUE(batcher.submit(gate.hold(), [&](core::result<void> r) {
    if (r) ++ok;
    all_done.count_down();
  }));
  gate.entered.get_future().wait();
  for (std::int64_t seq = 1; seq <= 1000; ++seq) {
    auto t = make_turn("s1", seq);
    ASSERT_TRUE(batcher.submit([t](database& db) { return record_turn(db, t); },
                               [&, seq](core::result<void> r) {
                                 if (r) ++ok;
                                 auto stmt = reader.prepare("SELECT count(*) FROM turns WHERE seq = ?1");
                                 auto row = stmt ? stmt->bind(1, seq).step() : core::result<bool>(false);
                                 if (!row || !*row || stmt->column_int(0) != 1) ++invisible;
                                 all_done.count_down();
                               }));
  }
  gate.open();
  all_done.wait();
  batcher.stop();

  EXPECT_EQ(ok, 1001);
  EXPECT_EQ(invisible, 0);
  const auto stats = batcher.counters();
  EXPECT_EQ(stats.writes, 1001U);
  EXPECT_EQ(stats.failed, 0U);
  // The held batch, then 1000 queued writes in batches of at most 100.
  EXPECT_LE(stats.transactions, 11U);
  EXPECT_GE(stats.transactions, 11U);
  EXPECT_EQ(reader.turns("s1").value().size(), 1000U);
  EXPECT_TRUE(audit_log(reader).verify().value().ok());
}

TEST(commit_batcher, a_failing_write_is_rolled_back_alone) {
  temp_dir dir;
  auto db = open_or_die(dir.file());
  ASSERT_TRUE(db.create_session(make_session("s1")));
  writer_gate gate;
  std::vector<core::result<void>> outcomes(4);
  commit_batcher batcher(open_or_die(dir.file()));
  const writer_gate::opener opener{gate};
  ASSERT_TRUE(batcher.submit(gate.hold(), [&](core::result<void> r) { outcomes[0] = r; }));
  gate.entered.get_future().wait();
  const std::vector<turn_record> turns = {make_turn("s1", 1), make_turn("ghost", 1), make_turn("s1", 2)};
  for (std::size_t i = 0; i < turns.size(); ++i) {
    ASSERT_TRUE(batcher.submit([t = turns[i]](database& d) { return record_turn(d, t); },
                               [&, i](core::result<void> r) { outcomes[i + 1] = r; }));
  }
  gate.open();
  batcher.stop();

  EXPECT_TRUE(outcomes[1]);
  EXPECT_EQ(outcomes[2].error(), errc::not_found);
  EXPECT_TRUE(outcomes[3]);
  EXPECT_EQ(batcher.counters().transactions, 2U);
  EXPECT_EQ(batcher.counters().failed, 1U);
  EXPECT_EQ(db.turns("s1").value().size(), 2U);
  // The failed turn left no audit record behind either.
  EXPECT_EQ(count(db, "SELECT count(*) FROM audit"), 2);
  EXPECT_TRUE(audit_log(db).verify().value().ok());
}

// One write at a time, each waited for: the WAL grows by a few frames per commit.
std::uintmax_t wal_bytes_after_sequential_writes(int checkpoint_frames) {
  temp_dir dir;
  {
    commit_batcher batcher(open_or_die(dir.file(), {.sync = durability::process_crash, .checkpoint_pages = 0}),
                           {.checkpoint_frames = checkpoint_frames});
    std::promise<void> created;
    EXPECT_TRUE(batcher.submit([](database& db) { return db.create_session(make_session("s1")); },
                               [&](core::result<void>) { created.set_value(); }));
    created.get_future().wait();
    for (std::int64_t seq = 1; seq <= 1000; ++seq) {
      std::promise<void> done;
      EXPECT_TRUE(batcher.submit([seq](database& db) { return db.append_turn(make_turn("s1", seq, std::string(3000, 'x'))); },
                                 [&](core::result<void> r) {
                                   EXPECT_TRUE(r);
                                   done.set_value();
                                 }));
      done.get_future().wait();
    }
    return std::filesystem::file_size(dir.file() + "-wal");
  }
}

TEST(commit_batcher, checkpoints_between_batches_keep_the_wal_bounded) {
  // The WAL file keeps its largest size (it is overwritten from the start after a checkpoint), so its size is the
  // most the WAL ever held: at most 8 x 50 frames plus one batch when the writer never found itself idle (the
  // test thread may always submit the next write first), about 50 frames when it did.
  const auto bounded = wal_bytes_after_sequential_writes(50);
  const auto unbounded = wal_bytes_after_sequential_writes(0);  // nobody checkpoints: every frame stays
  constexpr std::uintmax_t frame = 4096 + 24;
  EXPECT_GT(unbounded, 1500 * frame);
  EXPECT_LT(bounded, 500 * frame) << "the WAL restarts after each checkpoint";
}

TEST(commit_batcher, refuses_beyond_the_queue_bound_and_after_stop) {
  temp_dir dir;
  writer_gate gate;
  std::atomic<int> completions{0};
  commit_batcher batcher(open_or_die(dir.file()), {.max_batch = 8, .max_queued = 4});
  const writer_gate::opener opener{gate};
  const auto noop = [](database&) -> core::result<void> { return {}; };
  const auto counted = [&](core::result<void>) { ++completions; };
  ASSERT_TRUE(batcher.submit(gate.hold(), counted));
  gate.entered.get_future().wait();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(batcher.submit(noop, counted));
  EXPECT_EQ(batcher.submit(noop, counted).error(), errc::unavailable);
  gate.open();
  batcher.stop();  // drains what was accepted
  EXPECT_EQ(completions, 5);
  EXPECT_EQ(batcher.submit(noop, counted).error(), errc::unavailable);
  batcher.stop();  // idempotent
}

// ---- durability under kill -9 (the key test)

std::string turn_text(std::int64_t seq) { return "acknowledged turn " + std::to_string(seq) + std::string(160, '.'); }

// Runs in the forked child: writes turns through the batcher as fast as it can and reports each acknowledged seq
// (8 bytes, atomic on a pipe) from the completion, i.e. after COMMIT. Never returns; the parent kills it.
[[noreturn]] void write_until_killed(const std::string& path, const std::string& session_id, int ack_fd) {
  auto db = database::open(path);
  if (!db || !db->create_session(make_session(session_id))) _exit(3);
  commit_batcher batcher(std::move(*db));
  // Like 32 concurrent requests: small batches commit often, so a random kill often lands inside a COMMIT.
  std::counting_semaphore<> in_flight(32);
  for (std::int64_t seq = 1;; ++seq) {
    in_flight.acquire();
    auto t = make_turn(session_id, seq, turn_text(seq));
    auto submitted = batcher.submit([t](database& d) { return record_turn(d, t); },
                                    [seq, ack_fd, &in_flight](core::result<void> r) {
                                      if (!r) _exit(4);
                                      if (write(ack_fd, &seq, sizeof seq) != sizeof seq) _exit(5);
                                      in_flight.release();
                                    });
    if (!submitted) _exit(6);
  }
}

TEST(commit_batcher, kill_9_loses_no_acknowledged_turn) {
  temp_dir dir;
  const std::string path = dir.file();
  std::mt19937_64 rng(std::random_device{}());
  constexpr int rounds = 4;  // each round reopens the file the previous kill left behind
  for (int round = 0; round < rounds; ++round) {
    const std::string session_id = "kill-" + std::to_string(round);
    const auto kill_after = std::chrono::milliseconds(std::uniform_int_distribution<int>(5, 250)(rng));
    std::array<int, 2> fds{};
    ASSERT_EQ(pipe(fds.data()), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      write_until_killed(path, session_id, fds[1]);
    }
    close(fds[1]);

    std::vector<std::int64_t> acked;
    std::string pending;  // bytes of a partly read ack
    auto read_acks = [&](int timeout_ms) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, timeout_ms) <= 0) return true;
      std::array<char, 4096> buf{};
      const auto n = read(fds[0], buf.data(), buf.size());
      if (n <= 0) return false;  // EOF: the child is gone
      pending.append(buf.data(), static_cast<std::size_t>(n));
      std::size_t used = 0;
      for (; pending.size() - used >= sizeof(std::int64_t); used += sizeof(std::int64_t)) {
        std::int64_t seq = 0;
        std::memcpy(&seq, pending.data() + used, sizeof seq);
        acked.push_back(seq);
      }
      pending.erase(0, used);
      return true;
    };
    // Start the clock at the first acknowledgement so every round kills a child that is busy committing.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (acked.empty() && std::chrono::steady_clock::now() < give_up && read_acks(50)) {
    }
    ASSERT_FALSE(acked.empty()) << "the child acknowledged nothing";
    const auto kill_at = std::chrono::steady_clock::now() + kill_after;
    while (std::chrono::steady_clock::now() < kill_at && read_acks(1)) {
    }
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    while (read_acks(1000)) {
    }  // everything the child wrote before dying
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child ended on its own, exit code " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);

    auto db = open_or_die(path);
    const auto turns = db.turns(session_id).value();
    std::set<std::int64_t> stored;
    for (const auto& t : turns) {
      stored.insert(t.seq);
      EXPECT_EQ(t.text, turn_text(t.seq));
    }
    for (const auto seq : acked) ASSERT_TRUE(stored.contains(seq)) << "acknowledged turn " << seq << " lost";
    const auto report = audit_log(db).verify().value();
    EXPECT_TRUE(report.ok()) << describe(report.fault) << " at seq " << report.first_bad_seq;
    // A turn and its audit record commit together: never one without the other.
    EXPECT_EQ(count(db, "SELECT count(*) FROM turns"), count(db, "SELECT count(*) FROM audit WHERE kind = 'turn'"));
    std::printf("[ kill -9 ] round %d: killed after %lld ms, %zu acknowledged, %zu stored\n", round,
                static_cast<long long>(kill_after.count()), acked.size(), stored.size());
  }
}

// ---- throughput (printed, not asserted: timings depend on the machine)

// `window` writes in flight, like that many concurrent requests waiting for their 200.
void measure_throughput(durability sync, std::ptrdiff_t window, const char* label) {
  temp_dir dir;
  constexpr int sessions = 200;
  constexpr int turns_per_session = 100;
  const commit_batcher::options opts{.max_batch = 512, .max_queued = 8192};
  {
    auto db = open_or_die(dir.file(), {.sync = sync});
    auto tx = db.begin();
    ASSERT_TRUE(tx);
    for (int s = 0; s < sessions; ++s) ASSERT_TRUE(db.create_session(make_session("s" + std::to_string(s))));
    ASSERT_TRUE(tx->commit());
  }
  std::counting_semaphore<> in_flight(window);
  std::atomic<int> failed{0};
  commit_batcher batcher(open_or_die(dir.file(), {.sync = sync}), opts);
  const auto start = std::chrono::steady_clock::now();
  for (int seq = 1; seq <= turns_per_session; ++seq) {
    for (int s = 0; s < sessions; ++s) {
      in_flight.acquire();
      auto t = make_turn("s" + std::to_string(s), seq, turn_text(seq));
      ASSERT_TRUE(batcher.submit([t](database& d) { return record_turn(d, t); }, [&](core::result<void> r) {
        if (!r) ++failed;
        in_flight.release();
      }));
    }
  }
  batcher.stop();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto stats = batcher.counters();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(stats.writes, static_cast<std::uint64_t>(sessions * turns_per_session));
  std::printf("[ throughput ] %s: %.0f durable turns/s (turn + audit record each), %llu turns in %llu "
              "transactions (mean batch %.1f, max_batch %zu, %td in flight)\n",
              label, static_cast<double>(stats.writes) / seconds, static_cast<unsigned long long>(stats.writes),
              static_cast<unsigned long long>(stats.transactions),
              static_cast<double>(stats.writes) / static_cast<double>(stats.transactions), opts.max_batch, window);
}

TEST(commit_batcher, throughput_power_loss_durability) {
  measure_throughput(durability::power_loss, 32, "FULL");
  measure_throughput(durability::power_loss, 1024, "FULL");
}

TEST(commit_batcher, throughput_process_crash_durability) {
  measure_throughput(durability::process_crash, 32, "NORMAL");
  measure_throughput(durability::process_crash, 1024, "NORMAL");
}

}  // namespace
