#include "mas/store/audit.hpp"

#include "core/ids.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

namespace {

using core::errc;
using namespace mas::store;
namespace fs = std::filesystem;

constexpr std::int64_t t0 = 1'750'000'000'000;

struct temp_dir {
  fs::path path = fs::temp_directory_path() / ("sparc-audit-" + core::uuid_v4());
  temp_dir() { fs::create_directories(path); }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

turn_record make_turn(std::int64_t seq) {
  turn_record t;
  t.session_id = "s1";
  t.seq = seq;
  t.agent = seq % 2 == 1 ? "user" : "caregiver";
  t.text = "private words number " + std::to_string(seq);
  t.created_at_ms = t0 + seq;
  t.latency_ms = seq * 10;
  return t;
}

// A store with one session, six turns and a supervisor decision: audit seqs 1..7.
class audit_chain : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = database::open(path_);
    ASSERT_TRUE(opened);
    db_.emplace(std::move(*opened));
    session_record s;
    s.id = "s1";
    ASSERT_TRUE(db_->create_session(s));
    for (std::int64_t seq = 1; seq <= 6; ++seq) ASSERT_TRUE(record_turn(*db_, make_turn(seq)));
    ASSERT_EQ(log().append_decision({.session_id = "s1",
                                     .agent = "caregiver",
                                     .decision = "warn",
                                     .judged_text = "private words number 6",
                                     .latency_ms = 3,
                                     .ts_ms = t0 + 7})
                  .value(),
              7);
  }

  audit_log log() { return audit_log(*db_); }

  // Tampering as someone with the file would: through SQLite, after dropping the append-only triggers.
  void tamper(const std::string& sql) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &raw), SQLITE_OK);
    const std::string all = "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete; " + sql;
    EXPECT_EQ(sqlite3_exec(raw, all.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    sqlite3_close(raw);
  }

  // The record hash recomputed from the header's description, with record `seq`'s stored fields but `latency_ms`.
  std::string documented_hash(std::int64_t seq, std::int64_t latency_ms) {
    auto stmt = db_->prepare(
        "SELECT prev_hash, ts, kind, session_id, agent, decision, text_sha256 FROM audit WHERE seq = ?1");
    EXPECT_TRUE(stmt && stmt->bind(1, seq).step().value());
    std::string message = "sparc-audit-v1";
    const auto f = [&](const std::string& x) { message += ";" + std::to_string(x.size()) + ":" + x; };
    f(stmt->column_text(0));
    f(std::to_string(seq));
    f(std::to_string(stmt->column_int(1)));
    for (int c = 2; c <= 5; ++c) f(stmt->column_text(c));
    f(std::to_string(latency_ms));
    f(stmt->column_text(6));
    return sha256_hex(message);
  }

  verify_report verify(const std::optional<chain_head>& anchor = std::nullopt) {
    auto report = log().verify(anchor);
    EXPECT_TRUE(report);
    return report ? *report : verify_report{};
  }

  temp_dir dir_;
  std::string path_ = (dir_.path / "store.db").string();
  std::optional<database> db_;
};

TEST(sha256_hex, matches_fips_180_vectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(audit_log, empty_log_verifies_with_the_genesis_head) {
  auto db = database::open(":memory:").value();
  audit_log log(db);
  const auto report = log.verify().value();
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.records, 0);
  EXPECT_EQ(report.head.seq, 0);
  EXPECT_EQ(report.head.hash, genesis_hash);
  EXPECT_EQ(log.head().value().hash, genesis_hash);
}

TEST_F(audit_chain, intact_chain_verifies_and_reports_its_head) {
  const auto report = verify();
  EXPECT_TRUE(report.ok()) << describe(report.fault);
  EXPECT_EQ(report.records, 7);
  const auto head = log().head().value();
  EXPECT_EQ(head.seq, 7);
  EXPECT_EQ(report.head.seq, 7);
  EXPECT_EQ(report.head.hash, head.hash);
  EXPECT_EQ(head.hash.size(), 64U);
  EXPECT_TRUE(verify(head).ok());
}

TEST_F(audit_chain, records_hold_text_hashes_never_texts) {
  auto stmt = db_->prepare("SELECT kind, agent, decision, latency_ms, text_sha256, prev_hash FROM audit ORDER BY seq");
  ASSERT_TRUE(stmt);
  std::vector<std::string> all_columns;
  std::string prev(genesis_hash);
  for (std::int64_t seq = 1; stmt->step().value(); ++seq) {
    const auto expected_text = "private words number " + std::to_string(seq <= 6 ? seq : 6);
    EXPECT_EQ(stmt->column_text(0), seq <= 6 ? "turn" : "decision");
    EXPECT_EQ(stmt->column_text(2), seq <= 6 ? "" : "warn");
    EXPECT_EQ(stmt->column_int(3), seq <= 6 ? seq * 10 : 3);
    EXPECT_EQ(stmt->column_text(4), sha256_hex(expected_text));
    EXPECT_EQ(stmt->column_text(5), prev) << "seq " << seq;
    auto head = db_->prepare("SELECT hash FROM audit WHERE seq = ?1");
    ASSERT_TRUE(head && head->bind(1, seq).step().value());
    prev = head->column_text(0);
    for (int c = 0; c < 6; ++c) EXPECT_EQ(stmt->column_text(c).find("private"), std::string::npos);
  }
}

TEST_F(audit_chain, application_cannot_update_or_delete_records) {
  auto update = db_->prepare("UPDATE audit SET decision = 'allow' WHERE seq = 7");
  ASSERT_TRUE(update);
  EXPECT_EQ(update->run().error(), errc::unsupported);
  auto remove = db_->prepare("DELETE FROM audit WHERE seq = 7");
  ASSERT_TRUE(remove);
  EXPECT_EQ(remove->run().error(), errc::unsupported);
  EXPECT_TRUE(verify().ok());
}

TEST_F(audit_chain, detects_an_edited_text_hash) {
  tamper("UPDATE audit SET text_sha256 = '" + sha256_hex("something else") + "' WHERE seq = 4");
  const auto report = verify();
  EXPECT_EQ(report.fault, chain_fault::edited);
  EXPECT_EQ(report.first_bad_seq, 4);
  EXPECT_EQ(report.head.seq, 3);  // the last good record
}

TEST_F(audit_chain, detects_an_edited_decision) {
  tamper("UPDATE audit SET decision = 'allow' WHERE seq = 7");
  const auto report = verify();
  EXPECT_EQ(report.fault, chain_fault::edited);
  EXPECT_EQ(report.first_bad_seq, 7);
}

TEST_F(audit_chain, stored_hashes_follow_the_documented_format) {
  auto stmt = db_->prepare("SELECT hash FROM audit WHERE seq = 7");
  ASSERT_TRUE(stmt && stmt->step().value());
  EXPECT_EQ(stmt->column_text(0), documented_hash(7, 3));
}

TEST_F(audit_chain, detects_an_edit_whose_own_hash_was_recomputed_at_the_next_record) {
  // The forger edits record 3 and recomputes its hash correctly; record 4's prev_hash link then breaks, and only
  // rewriting every later record too (caught by an anchor) would hide it.
  tamper("UPDATE audit SET latency_ms = 1, hash = '" + documented_hash(3, 1) + "' WHERE seq = 3");
  const auto report = verify();
  EXPECT_EQ(report.fault, chain_fault::relinked);
  EXPECT_EQ(report.first_bad_seq, 4);
}

TEST_F(audit_chain, detects_a_deleted_middle_record) {
  tamper("DELETE FROM audit WHERE seq = 4");
  const auto report = verify();
  EXPECT_EQ(report.fault, chain_fault::missing);
  EXPECT_EQ(report.first_bad_seq, 4);
}

TEST_F(audit_chain, detects_a_deleted_middle_record_with_renumbered_successors) {
  tamper("DELETE FROM audit WHERE seq = 4; UPDATE audit SET seq = seq - 1 WHERE seq > 4");
  const auto report = verify();
  EXPECT_EQ(report.fault, chain_fault::relinked);
  EXPECT_EQ(report.first_bad_seq, 4);
}

TEST_F(audit_chain, detects_a_deleted_first_record) {
  tamper("DELETE FROM audit WHERE seq = 1");
  const auto report = verify();
  EXPECT_EQ(report.fault, chain_fault::missing);
  EXPECT_EQ(report.first_bad_seq, 1);
}

TEST_F(audit_chain, detects_swapped_records) {
  tamper("UPDATE audit SET seq = -1 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4;"
         " UPDATE audit SET seq = 4 WHERE seq = -1");
  const auto report = verify();
  EXPECT_EQ(report.fault, chain_fault::relinked);
  EXPECT_EQ(report.first_bad_seq, 3);
}

TEST_F(audit_chain, detects_swapped_contents_under_fixed_seqs) {
  const std::string cols = "ts, kind, session_id, agent, decision, latency_ms, text_sha256, prev_hash, hash";
  tamper("CREATE TEMP TABLE a AS SELECT * FROM audit WHERE seq = 5;"
         " UPDATE audit SET (" + cols + ") = (SELECT " + cols + " FROM audit WHERE seq = 6) WHERE seq = 5;"
         " UPDATE audit SET (" + cols + ") = (SELECT " + cols + " FROM temp.a) WHERE seq = 6;");
  const auto report = verify();
  EXPECT_EQ(report.fault, chain_fault::relinked);
  EXPECT_EQ(report.first_bad_seq, 5);
}

TEST_F(audit_chain, truncated_tail_passes_alone_and_fails_against_an_anchor) {
  const auto anchor = log().head().value();
  tamper("DELETE FROM audit WHERE seq >= 6");
  // Without an external anchor, a shorter chain is indistinguishable from one that was never longer.
  const auto alone = verify();
  EXPECT_TRUE(alone.ok());
  EXPECT_EQ(alone.head.seq, 5);
  const auto anchored = verify(anchor);
  EXPECT_EQ(anchored.fault, chain_fault::anchor_mismatch);
  EXPECT_EQ(anchored.first_bad_seq, 6);
}

TEST_F(audit_chain, an_anchor_catches_a_rewritten_chain) {
  const auto anchor = log().head().value();
  auto report = verify(chain_head{anchor.seq, sha256_hex("another history")});
  EXPECT_EQ(report.fault, chain_fault::anchor_mismatch);
  EXPECT_EQ(report.first_bad_seq, 7);
}

TEST_F(audit_chain, chain_continues_across_reopen) {
  db_.reset();
  db_.emplace(database::open(path_).value());
  ASSERT_TRUE(record_turn(*db_, make_turn(7)));
  const auto report = verify();
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.head.seq, 8);
}

TEST_F(audit_chain, append_in_a_rolled_back_transaction_leaves_no_trace) {
  {
    auto tx = db_->begin();
    ASSERT_TRUE(tx);
    ASSERT_EQ(log().append_turn(make_turn(7)).value(), 8);
  }
  EXPECT_EQ(log().head().value().seq, 7);
  ASSERT_EQ(log().append_turn(make_turn(7)).value(), 8);
  EXPECT_TRUE(verify().ok());
}

TEST(chain_fault, every_fault_has_a_description) {
  for (const auto f : {chain_fault::none, chain_fault::missing, chain_fault::relinked, chain_fault::edited,
                       chain_fault::anchor_mismatch})
    EXPECT_FALSE(describe(f).empty());
}

}  // namespace
