#include "mas/store/audit.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace mas::store {
namespace {

// Appends f(x) = ";" length ":" x (see the header).
void put(std::string& out, std::string_view field) {
  out += ';';
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

void put(std::string& out, std::int64_t field) { put(out, std::to_string(field)); }

struct chained_fields {
  std::string_view prev_hash;
  std::int64_t seq;
  std::int64_t ts_ms;
  std::string_view kind;
  std::string_view session_id;
  std::string_view agent;
  std::string_view decision;
  std::int64_t latency_ms;
  std::string_view text_sha256;
};

std::string chain_hash(const chained_fields& r) {
  std::string message = "sparc-audit-v1";
  message.reserve(256);
  put(message, r.prev_hash);
  put(message, r.seq);
  put(message, r.ts_ms);
  put(message, r.kind);
  put(message, r.session_id);
  put(message, r.agent);
  put(message, r.decision);
  put(message, r.latency_ms);
  put(message, r.text_sha256);
  return sha256_hex(message);
}

// Starts a transaction unless the caller already has one open, so an append is never split from what it records.
core::result<std::optional<transaction>> ensure_transaction(database& db) {
  if (db.in_transaction()) return std::optional<transaction>();
  auto tx = db.begin();
  if (!tx) return tx.error();
  return std::optional<transaction>(std::move(*tx));
}

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL SHA-256 failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * static_cast<std::size_t>(size));
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 0x0F]);
  }
  return out;
}

std::string_view describe(chain_fault f) noexcept {
  switch (f) {
    case chain_fault::none: return "chain intact";
    case chain_fault::missing: return "record missing (deleted)";
    case chain_fault::relinked:
      return "prev_hash does not match the previous record (records reordered, or the previous one deleted or "
             "rewritten)";
    case chain_fault::edited: return "record content does not match its hash (edited)";
    case chain_fault::anchor_mismatch: return "anchored record missing or different (tail truncated or rewritten)";
  }
  return "unknown fault";
}

core::result<std::int64_t> audit_log::append_turn(const turn_record& t) {
  return append({t.created_at_ms, "turn", t.session_id, t.agent, "", t.latency_ms, t.text});
}

core::result<std::int64_t> audit_log::append_decision(const decision_entry& d) {
  return append({d.ts_ms, "decision", d.session_id, d.agent, d.decision, d.latency_ms, d.judged_text});
}

core::result<std::int64_t> audit_log::append(const entry& e) {
  auto own = ensure_transaction(*db_);
  if (!own) return own.error();
  // Read inside the write transaction: the tail cannot move until this record is committed or rolled back, even
  // with several connections, and no cached copy can go stale after a rollback.
  auto tail = head();
  if (!tail) return tail.error();
  const std::int64_t seq = tail->seq + 1;
  const std::string text_sha256 = sha256_hex(e.text);
  const std::string hash =
      chain_hash({tail->hash, seq, e.ts_ms, e.kind, e.session_id, e.agent, e.decision, e.latency_ms, text_sha256});
  auto stmt = db_->prepare(
      "INSERT INTO audit(seq, ts, kind, session_id, agent, decision, latency_ms, text_sha256, prev_hash, hash)"
      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!stmt) return stmt.error();
  stmt->bind(1, seq).bind(2, e.ts_ms).bind(3, e.kind).bind(4, e.session_id).bind(5, e.agent).bind(6, e.decision);
  stmt->bind(7, e.latency_ms).bind(8, text_sha256).bind(9, tail->hash).bind(10, hash);
  if (auto r = stmt->run(); !r) return r.error();
  if (*own) {
    if (auto r = (*own)->commit(); !r) return r.error();
  }
  return seq;
}

core::result<chain_head> audit_log::head() {
  auto stmt = db_->prepare("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return chain_head{};
  return chain_head{stmt->column_int(0), stmt->column_text(1)};
}

core::result<verify_report> audit_log::verify(const std::optional<chain_head>& anchor) {
  // One SELECT reads one consistent snapshot in WAL mode, even while a writer appends.
  auto stmt = db_->prepare(
      "SELECT seq, ts, kind, session_id, agent, decision, latency_ms, text_sha256, prev_hash, hash FROM audit"
      " ORDER BY seq");
  if (!stmt) return stmt.error();
  verify_report report;
  std::optional<std::string> anchored_hash;  // the stored hash at anchor->seq, once reached
  const auto fault_at = [&](chain_fault f, std::int64_t seq) {
    report.fault = f;
    report.first_bad_seq = seq;
    return report;
  };
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    ++report.records;
    const std::int64_t seq = stmt->column_int(0);
    const std::string prev_hash = stmt->column_text(8);
    const std::string hash = stmt->column_text(9);
    const std::int64_t expected = report.head.seq + 1;
    if (seq > expected) return fault_at(chain_fault::missing, expected);
    if (seq < expected) return fault_at(chain_fault::edited, seq);  // seq 0 or negative: written by hand
    if (prev_hash != report.head.hash) return fault_at(chain_fault::relinked, seq);
    const std::string kind = stmt->column_text(2);
    const std::string session_id = stmt->column_text(3);
    const std::string agent = stmt->column_text(4);
    const std::string decision = stmt->column_text(5);
    const std::string text_sha256 = stmt->column_text(7);
    const std::string computed = chain_hash({prev_hash, seq, stmt->column_int(1), kind, session_id, agent, decision,
                                             stmt->column_int(6), text_sha256});
    if (computed != hash) return fault_at(chain_fault::edited, seq);
    if (anchor && seq == anchor->seq) anchored_hash = hash;
    report.head = {seq, hash};
  }
  if (anchor && anchor->seq > 0 && anchored_hash != anchor->hash)
    return fault_at(chain_fault::anchor_mismatch, std::min(anchor->seq, report.head.seq + 1));
  return report;
}

core::result<void> record_turn(database& db, const turn_record& t) {
  auto own = ensure_transaction(db);
  if (!own) return own.error();
  if (auto r = db.append_turn(t); !r) return r;
  if (auto r = audit_log(db).append_turn(t); !r) return r.error();
  if (*own) return (*own)->commit();
  return {};
}

}  // namespace mas::store
