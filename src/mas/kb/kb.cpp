#include "mas/kb/kb.hpp"

#include "core/encoding.hpp"
#include "core/log.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <mutex>
#include <ostream>
#include <set>

namespace mas::kb {
namespace {

using core::errc;
namespace fs = std::filesystem;

/// Marks the file as ours in the SQLite header ("SPKB"), so open() tells "not a knowledge base" from "old schema".
constexpr int application_id = 0x53504b42;

// A passage cut to fit the budget is kept only when at least this much of it fits: a shorter scrap tells the model
// nothing and costs prompt space.
constexpr std::size_t min_cut_bytes = 80;

// Words longer than this are not words a clinician says (pasted hashes, URLs): they cannot match and are skipped.
constexpr std::size_t max_term_bytes = 64;

// Words that say nothing about the topic of a question. Sorted: looked up by binary search.
constexpr auto stopwords = std::to_array<std::string_view>({
    "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been",
    "before", "being", "but", "by", "can", "could", "did", "do", "does", "doing", "don", "for", "from", "get", "got",
    "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "if", "in", "into", "is", "it",
    "its", "just", "know", "let", "like", "me", "might", "mine", "more", "most", "much", "my", "no", "nor", "not",
    "now", "of", "ok", "okay", "on", "one", "only", "or", "our", "ours", "out", "really", "she", "should", "so", "some",
    "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "thing", "things", "this",
    "those", "to", "too", "um", "up", "us", "very", "was", "we", "well", "were", "what", "when", "where", "which",
    "while", "who", "whom", "why", "will", "with", "would", "yeah", "yes", "you", "your", "yours",
});
static_assert(std::is_sorted(stopwords.begin(), stopwords.end()), "stopwords must stay sorted");

constexpr std::string_view schema_sql = R"sql(
CREATE TABLE documents(
  id TEXT PRIMARY KEY NOT NULL,
  title TEXT NOT NULL,
  audience TEXT NOT NULL CHECK(audience IN ('caregiver', 'clinician')),
  source TEXT NOT NULL
) STRICT;
-- A sheet with no rows here belongs to every persona.
CREATE TABLE document_personas(
  doc_id TEXT NOT NULL REFERENCES documents(id),
  persona TEXT NOT NULL,
  PRIMARY KEY(doc_id, persona)
) STRICT, WITHOUT ROWID;
-- Porter stemming lets "vaccinated" find "vaccine"; the title is indexed with every passage so a sheet's topic
-- counts for each of its paragraphs.
CREATE VIRTUAL TABLE passages USING fts5(title, text, doc_id UNINDEXED,
  tokenize = 'porter unicode61 remove_diacritics 2');
)sql";

// The title weighs four times the text in BM25: a match on the sheet's topic says more than a word in passing.
// Filtering happens before LIMIT, so k passages come back whenever k visible ones match.
constexpr std::string_view search_sql = R"sql(
SELECT passages.doc_id, d.title, d.source, passages.text, bm25(passages, 4.0, 1.0) AS score
FROM passages JOIN documents AS d ON d.id = passages.doc_id
WHERE passages MATCH ?1
  AND d.audience = 'caregiver'
  AND (NOT EXISTS (SELECT 1 FROM document_personas AS p WHERE p.doc_id = d.id)
       OR EXISTS (SELECT 1 FROM document_personas AS p WHERE p.doc_id = d.id AND p.persona = ?2))
ORDER BY score, passages.rowid
LIMIT ?3
)sql";

// ---- SQLite handles

struct close_connection {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct finalize_statement {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};
using connection_ptr = std::unique_ptr<sqlite3, close_connection>;
using statement_ptr = std::unique_ptr<sqlite3_stmt, finalize_statement>;

/// Records SQLite's message for `what` in `why` and maps the code (corrupt or not-a-database -> malformed).
boost::system::error_code sqlite_error(sqlite3* db, int rc, std::string_view what, std::string* why) {
  if (why) {
    *why = std::string(what) + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    if (why->find("no such module: fts5") != std::string::npos) *why += " (this SQLite was built without FTS5)";
  }
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return core::make_error_code(errc::malformed);
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return core::make_error_code(errc::unavailable);
    default: return core::make_error_code(errc::io_error);
  }
}

/// Opens `path`; `what` names it in errors.
core::result<connection_ptr> open_connection(const std::string& path, int flags, std::string_view what,
                                             std::string* why) {
  sqlite3* raw = nullptr;
  // NOMUTEX: a connection is used by one thread at a time (the importer's, or under knowledge_base's mutex).
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, nullptr);
  connection_ptr conn(raw);
  if (rc != SQLITE_OK) return sqlite_error(conn.get(), rc, what, why);
  return conn;
}

core::result<statement_ptr> prepare(sqlite3* db, std::string_view sql, std::string* why) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &raw,
                                    nullptr);
  statement_ptr stmt(raw);
  if (rc != SQLITE_OK) return sqlite_error(db, rc, "cannot prepare a statement", why);
  return stmt;
}

core::result<void> exec(sqlite3* db, const std::string& sql, std::string* why) {
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(db, rc, "cannot run '" + sql.substr(0, sql.find('(')) + "'", why);
  return {};
}

/// The single integer a PRAGMA returns.
core::result<std::int64_t> pragma_int(sqlite3* db, std::string_view name, std::string* why) {
  auto stmt = prepare(db, "PRAGMA " + std::string(name), why);
  if (!stmt) return stmt.error();
  const int rc = sqlite3_step(stmt->get());
  if (rc != SQLITE_ROW) return sqlite_error(db, rc, "cannot read PRAGMA " + std::string(name), why);
  return sqlite3_column_int64(stmt->get(), 0);
}

int bind_text(sqlite3_stmt* stmt, int index, std::string_view text) {
  // A default string_view has a null data(), which SQLite would bind as NULL rather than as "".
  return sqlite3_bind_text64(stmt, index, text.data() != nullptr ? text.data() : "", text.size(), SQLITE_STATIC,
                             SQLITE_UTF8);
}

std::string column_text(sqlite3_stmt* stmt, int index) {
  const auto* text = sqlite3_column_text(stmt, index);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(sqlite3_column_bytes(stmt, index))};
}

// ---- text helpers

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

/// The largest n' <= n that does not split a UTF-8 sequence of `s`.
std::size_t utf8_floor(std::string_view s, std::size_t n) noexcept {
  if (n >= s.size()) return s.size();
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

/// Where to cut `text` to keep at most `limit` bytes: before the last space that allows, else at a UTF-8
/// boundary (a single word longer than the limit).
std::size_t word_end(std::string_view text, std::size_t limit) noexcept {
  if (text.size() <= limit) return text.size();
  std::size_t cut = limit;
  while (cut > 0 && !is_space(text[cut])) --cut;
  return cut > 0 ? cut : utf8_floor(text, limit);
}

/// At most `limit` bytes of `text`, ending at a word end when there is one, without a dangling ',', ';' or ':'.
std::string_view cut_at_word(std::string_view text, std::size_t limit) noexcept {
  auto kept = trim(text.substr(0, word_end(text, limit)));
  while (!kept.empty() && (kept.back() == ',' || kept.back() == ';' || kept.back() == ':')) kept.remove_suffix(1);
  return kept;
}

// ---- sheets

struct document {
  std::string id;
  std::string title;
  std::string audience;
  std::string source;
  std::vector<std::string> personas;
  std::vector<std::string> passages;
};

/// Appends `text` to `out` in pieces of at most max_passage_bytes, cut after a sentence when one ends in the
/// second half of the piece, else at a word end.
void split_passage(std::string_view text, std::vector<std::string>& out) {
  text = trim(text);
  while (text.size() > max_passage_bytes) {
    std::size_t cut = 0;
    for (std::size_t i = max_passage_bytes / 2; i + 1 < max_passage_bytes; ++i) {
      const char c = text[i];
      if ((c == '.' || c == '?' || c == '!') && is_space(text[i + 1])) cut = i + 1;
    }
    if (cut == 0) cut = word_end(text, max_passage_bytes);
    out.emplace_back(trim(text.substr(0, cut)));
    text = trim(text.substr(cut));
  }
  if (!text.empty()) out.emplace_back(text);
}

bool is_list_item(std::string_view line) noexcept {
  if (line.starts_with("- ") || line.starts_with("* ")) return true;
  std::size_t digits = 0;
  while (digits < line.size() && line[digits] >= '0' && line[digits] <= '9') ++digits;
  return digits > 0 && line.substr(digits).starts_with(". ");
}

bool is_persona_id(std::string_view id) noexcept {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

/// Parses one sheet; `where` prefixes every error ("age.md").
core::result<document> parse_document(std::string id, std::string_view content, const std::string& where,
                                      std::string* why) {
  const auto fail = [&](std::size_t line, const std::string& message) -> core::result<document> {
    if (why) *why = where + ":" + std::to_string(line) + ": " + message;
    return core::make_error_code(errc::invalid_argument);
  };
  if (content.starts_with("\xEF\xBB\xBF")) content.remove_prefix(3);  // a UTF-8 byte order mark
  std::vector<std::string_view> lines;
  for (std::size_t at = 0; at <= content.size();) {
    const auto end = std::min(content.find('\n', at), content.size());
    auto line = content.substr(at, end - at);
    if (line.ends_with('\r')) line.remove_suffix(1);
    // Checked per line so the error can name it; '\n' never occurs inside a UTF-8 sequence.
    if (!core::is_valid_utf8(line)) return fail(lines.size() + 1, "not valid UTF-8");
    if (line.find('\0') != std::string_view::npos) return fail(lines.size() + 1, "NUL byte");
    lines.push_back(line);
    at = end + 1;
  }

  document doc;
  doc.id = std::move(id);
  if (lines.empty() || trim(lines[0]) != "---") return fail(1, "expected front matter opening with '---'");
  std::size_t i = 1;
  std::set<std::string, std::less<>> seen;
  for (;; ++i) {
    if (i >= lines.size() || i > max_front_matter_lines) return fail(1, "front matter is not closed by '---'");
    const auto line = trim(lines[i]);
    if (line == "---") break;
    if (line.empty() || line.starts_with('#')) continue;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return fail(i + 1, "expected 'key: value'");
    const auto key = trim(line.substr(0, colon));
    const auto value = trim(line.substr(colon + 1));
    if (key != "title" && key != "audience" && key != "personas" && key != "source")
      return fail(i + 1, "unknown key '" + std::string(key) + "' (expected title, audience, personas or source)");
    if (!seen.emplace(key).second) return fail(i + 1, "duplicate key '" + std::string(key) + "'");
    if (value.empty()) return fail(i + 1, "'" + std::string(key) + "' is empty");
    if (key == "title") {
      doc.title = value;
    } else if (key == "source") {
      doc.source = value;
    } else if (key == "audience") {
      if (value != "caregiver" && value != "clinician")
        return fail(i + 1, "audience must be caregiver or clinician, not '" + std::string(value) + "'");
      doc.audience = value;
    } else {
      for (std::size_t at = 0; at <= value.size();) {
        const auto end = std::min(value.find(',', at), value.size());
        const auto persona = trim(value.substr(at, end - at));
        if (!is_persona_id(persona))
          return fail(i + 1, "persona id '" + std::string(persona) + "' must be lowercase letters, digits, - or _");
        doc.personas.emplace_back(persona);
        at = end + 1;
      }
    }
  }
  for (const auto* required : {"title", "audience", "source"})
    if (!seen.contains(std::string_view(required)))
      return fail(i + 1, "front matter lacks '" + std::string(required) + "'");

  // Paragraphs are runs of non-blank lines. Leading '#' lines are headings: they join the text that follows, so
  // a passage carries its context.
  std::string heading;
  std::string paragraph;
  const auto flush = [&] {
    if (paragraph.empty()) return;
    split_passage(heading.empty() ? paragraph : heading + "\n" + paragraph, doc.passages);
    heading.clear();
    paragraph.clear();
  };
  for (++i; i <= lines.size(); ++i) {
    const auto line = i < lines.size() ? trim(lines[i]) : std::string_view();
    if (line.empty()) {
      flush();
    } else if (line.starts_with('#') && paragraph.empty()) {
      auto text = line;
      while (text.starts_with('#')) text.remove_prefix(1);
      // Headings in a row (a section and its first subsection) stay together.
      heading += (heading.empty() ? "" : ": ") + std::string(trim(text));
    } else {
      if (!paragraph.empty()) paragraph += is_list_item(line) ? '\n' : ' ';
      paragraph += line;
    }
  }
  if (!heading.empty()) doc.passages.push_back(std::move(heading));  // a heading with nothing after it
  if (doc.passages.empty()) return fail(lines.size(), "the sheet has no text after its front matter");
  return doc;
}

/// Reads and parses every sheet of `dir`, in file name order.
core::result<std::vector<document>> read_sheets(const fs::path& dir, std::string* why) {
  const auto fail = [&](errc code, const std::string& message) -> core::result<std::vector<document>> {
    if (why) *why = message;
    return core::make_error_code(code);
  };
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return fail(errc::not_found, (dir.empty() ? "''" : dir.string()) + ": no such directory");
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto& path = it->path();
    const auto name = path.filename().string();
    // Dot files are editors' swap and backup files, not sheets.
    std::error_code type_ec;  // a dangling link is skipped, not a reason to stop listing
    if (path.extension() != ".md" || name.starts_with('.') || !it->is_regular_file(type_ec)) continue;
    if (files.size() == max_files)
      return fail(errc::too_large, dir.string() + ": more than " + std::to_string(max_files) + " sheets");
    files.push_back(path);
  }
  if (ec) return fail(errc::io_error, dir.string() + ": " + ec.message());
  if (files.empty()) return fail(errc::invalid_argument, dir.string() + ": no *.md sheets");
  std::sort(files.begin(), files.end());

  std::vector<document> docs;
  for (const auto& path : files) {
    const auto name = path.filename().string();
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(errc::io_error, name + ": cannot read");
    // Read one byte past the limit rather than trusting the size from stat: the file may grow meanwhile.
    std::string content(max_file_bytes + 1, '\0');
    in.read(content.data(), static_cast<std::streamsize>(content.size()));
    if (in.bad()) return fail(errc::io_error, name + ": cannot read");
    content.resize(static_cast<std::size_t>(in.gcount()));
    if (content.size() > max_file_bytes)
      return fail(errc::too_large, name + ": larger than " + std::to_string(max_file_bytes) + " bytes");
    auto doc = parse_document(path.stem().string(), content, name, why);
    if (!doc) return doc.error();
    docs.push_back(std::move(*doc));
  }
  return docs;
}

/// Creates the schema in the empty database `db` and fills it, all in one transaction.
core::result<import_stats> write_index(sqlite3* db, const std::vector<document>& docs, std::string* why) {
  if (auto r = exec(db, "BEGIN IMMEDIATE", why); !r) return r.error();
  // Rolls back unless the commit below ran; the caller discards the file anyway, this keeps the connection sane.
  class rollback_guard {
   public:
    explicit rollback_guard(sqlite3* db) noexcept : db_(db) {}
    rollback_guard(const rollback_guard&) = delete;
    rollback_guard& operator=(const rollback_guard&) = delete;
    ~rollback_guard() {
      if (db_ != nullptr) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    void disarm() noexcept { db_ = nullptr; }

   private:
    sqlite3* db_;
  } guard(db);
  if (auto r = exec(db, std::string(schema_sql), why); !r) return r.error();
  if (auto r = exec(db, "PRAGMA application_id = " + std::to_string(application_id), why); !r) return r.error();
  if (auto r = exec(db, "PRAGMA user_version = " + std::to_string(schema_version), why); !r) return r.error();

  auto add_doc = prepare(db, "INSERT INTO documents(id, title, audience, source) VALUES(?1, ?2, ?3, ?4)", why);
  if (!add_doc) return add_doc.error();
  auto add_persona = prepare(db, "INSERT OR IGNORE INTO document_personas(doc_id, persona) VALUES(?1, ?2)", why);
  if (!add_persona) return add_persona.error();
  auto add_passage = prepare(db, "INSERT INTO passages(title, text, doc_id) VALUES(?1, ?2, ?3)", why);
  if (!add_passage) return add_passage.error();
  const auto run = [&](sqlite3_stmt* stmt, int bind_rc) -> core::result<void> {
    const int rc = bind_rc == SQLITE_OK ? sqlite3_step(stmt) : bind_rc;
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) return sqlite_error(db, rc, "cannot write the index", why);
    return {};
  };

  import_stats stats;
  for (const auto& doc : docs) {
    auto* stmt = add_doc->get();
    int rc = bind_text(stmt, 1, doc.id);
    if (rc == SQLITE_OK) rc = bind_text(stmt, 2, doc.title);
    if (rc == SQLITE_OK) rc = bind_text(stmt, 3, doc.audience);
    if (rc == SQLITE_OK) rc = bind_text(stmt, 4, doc.source);
    if (auto r = run(stmt, rc); !r) return r.error();
    for (const auto& persona : doc.personas) {
      stmt = add_persona->get();
      rc = bind_text(stmt, 1, doc.id);
      if (rc == SQLITE_OK) rc = bind_text(stmt, 2, persona);
      if (auto r = run(stmt, rc); !r) return r.error();
    }
    for (const auto& text : doc.passages) {
      stmt = add_passage->get();
      rc = bind_text(stmt, 1, doc.title);
      if (rc == SQLITE_OK) rc = bind_text(stmt, 2, text);
      if (rc == SQLITE_OK) rc = bind_text(stmt, 3, doc.id);
      if (auto r = run(stmt, rc); !r) return r.error();
      ++stats.passages;
    }
    ++stats.documents;
  }
  // Merges the index segments into one: the index is written once and read many times.
  if (auto r = exec(db, "INSERT INTO passages(passages) VALUES('optimize')", why); !r) return r.error();
  if (auto r = exec(db, "COMMIT", why); !r) return r.error();
  guard.disarm();
  return stats;
}

/// Best effort: makes a rename inside `dir` durable. A failure leaves the rename done, only less durable.
void sync_directory(const fs::path& dir) noexcept {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  (void)::close(fd);
}

/// The words of `text` that can say what it is about, lowercased, in order, without repeats.
std::vector<std::string> query_terms(std::string_view text) {
  text = text.substr(0, utf8_floor(text, max_query_input_bytes));
  std::vector<std::string> terms;
  std::string word;
  bool skip = false;  // the current word grew past max_term_bytes
  const auto finish = [&] {
    const bool single_letter = word.size() == 1 && !(word[0] >= '0' && word[0] <= '9');
    if (!skip && !word.empty() && !single_letter && !std::binary_search(stopwords.begin(), stopwords.end(), word) &&
        std::find(terms.begin(), terms.end(), word) == terms.end())
      terms.push_back(word);
    word.clear();
    skip = false;
  };
  for (std::size_t i = 0; i < text.size() && terms.size() < max_query_terms;) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = 1;
    bool letter = false;
    if (c < 0x80) {
      letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    } else {
      // A whole, valid UTF-8 sequence counts as a letter unless it is typographic punctuation a phone keyboard
      // types (curly quotes, dashes, ellipsis, no-break space); stray bytes separate words.
      len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      const auto seq = text.substr(i, len);
      if (seq.size() == len && core::is_valid_utf8(seq)) {
        static constexpr std::array<std::string_view, 9> punctuation = {
            "\u00A0", "\u2013", "\u2014", "\u2018", "\u2019", "\u201C", "\u201D", "\u2026", "\u00AB"};
        letter = std::find(punctuation.begin(), punctuation.end(), seq) == punctuation.end();
      } else {
        len = 1;
      }
    }
    if (letter) {
      if (word.size() + len > max_term_bytes) skip = true;
      if (!skip) word += core::ascii_lower(text.substr(i, len));
    } else {
      finish();
    }
    i += len;
  }
  if (terms.size() < max_query_terms) finish();
  return terms;
}

spdlog::logger& logger() {
  static const auto instance = core::log::get("mas");
  return *instance;
}

}  // namespace

core::result<import_stats> import_dir(const fs::path& db, const fs::path& dir, std::string* why) {
  auto docs = read_sheets(dir, why);
  if (!docs) return docs.error();

  // A private file beside the target: same file system, so the rename below is atomic.
  const fs::path tmp = db.string() + "." + std::to_string(::getpid()) + ".tmp";
  std::error_code ec;
  fs::remove(tmp, ec);  // left by a crashed import that had our pid
  const auto discard = [&] {
    fs::remove(tmp, ec);
    fs::remove(tmp.string() + "-journal", ec);
  };
  core::result<import_stats> stats = core::make_error_code(errc::io_error);
  {
    auto conn = open_connection(tmp.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                "cannot create " + tmp.string() + " to replace " + db.string(), why);
    if (!conn) {
      discard();
      return conn.error();
    }
    // synchronous=FULL (the default) makes COMMIT fsync the file, so what the rename publishes is on disk.
    stats = write_index(conn->get(), *docs, why);
  }
  if (!stats) {
    discard();
    return stats;
  }
  fs::rename(tmp, db, ec);
  if (ec) {
    discard();
    if (why) *why = "cannot replace " + db.string() + ": " + ec.message();
    return core::make_error_code(errc::io_error);
  }
  sync_directory(db.parent_path());
  return stats;
}

int import_command(const fs::path& db, const fs::path& dir, std::ostream& out, std::ostream& err) {
  std::string why;
  const auto stats = import_dir(db, dir, &why);
  if (!stats) {
    err << "sparc-mas kb import: " << why << "\n";
    return 1;
  }
  out << "kb: " << stats->documents << " documents, " << stats->passages << " passages into " << db.string() << "\n";
  return 0;
}

std::string build_match_query(std::string_view text) {
  std::string query;
  for (const auto& term : query_terms(text)) {
    if (!query.empty()) query += " OR ";
    // Quoted, every term is a plain string to FTS5: no operator (NEAR, NOT, *, ^, column filters) can form. Terms
    // hold no '"' (only letters and digits survive), so no escaping is needed.
    query += '"';
    query += term;
    query += '"';
  }
  return query;
}

std::string format_for_prompt(const std::vector<passage>& passages) {
  if (passages.empty()) return {};
  std::string out = "Reference notes (what a parent may have read or heard; each names its source):\n";
  for (std::size_t i = 0; i < passages.size(); ++i) {
    const auto& p = passages[i];
    out += "\n[" + std::to_string(i + 1) + "] " + p.title + " (source: " + p.source + ")\n" + p.text + "\n";
  }
  return out;
}

// ---- knowledge_base

struct knowledge_base::state {
  connection_ptr conn;
  statement_ptr search;  // after conn: finalized before the connection closes
  std::mutex mutex;      // guards conn and search: one search at a time (see the class comment)
};

knowledge_base::knowledge_base(std::unique_ptr<state> s) noexcept : state_(std::move(s)) {}
knowledge_base::knowledge_base(knowledge_base&&) noexcept = default;
knowledge_base& knowledge_base::operator=(knowledge_base&&) noexcept = default;
knowledge_base::~knowledge_base() = default;

core::result<knowledge_base> knowledge_base::open(const fs::path& db, std::string* why) {
  std::error_code ec;
  if (!fs::is_regular_file(db, ec)) {
    if (why) *why = db.string() + ": no such file (run sparc-mas kb import)";
    return core::make_error_code(errc::not_found);
  }
  auto conn = open_connection(db.string(), SQLITE_OPEN_READONLY, "cannot open " + db.string(), why);
  if (!conn) return conn.error();
  const auto app = pragma_int(conn->get(), "application_id", why);
  if (!app) return app.error();
  if (*app != application_id) {
    if (why) *why = db.string() + ": not a knowledge base";
    return core::make_error_code(errc::malformed);
  }
  const auto version = pragma_int(conn->get(), "user_version", why);
  if (!version) return version.error();
  if (*version != schema_version) {
    if (why)
      *why = db.string() + ": knowledge base schema " + std::to_string(*version) + ", this build reads " +
             std::to_string(schema_version) + " (run sparc-mas kb import again)";
    return core::make_error_code(errc::unsupported);
  }
  auto stmt = prepare(conn->get(), search_sql, why);
  if (!stmt) return stmt.error();
  auto s = std::make_unique<state>();
  s->conn = std::move(*conn);
  s->search = std::move(*stmt);
  return knowledge_base(std::move(s));
}

core::result<knowledge_base> knowledge_base::from_dir(const fs::path& dir, std::string* why) {
  auto docs = read_sheets(dir, why);
  if (!docs) return docs.error();
  auto conn = open_connection(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "cannot open :memory:", why);
  if (!conn) return conn.error();
  if (auto r = write_index(conn->get(), *docs, why); !r) return r.error();
  // Read-only from here on, like an index opened from a file.
  if (auto r = exec(conn->get(), "PRAGMA query_only = 1", why); !r) return r.error();
  auto stmt = prepare(conn->get(), search_sql, why);
  if (!stmt) return stmt.error();
  auto s = std::make_unique<state>();
  s->conn = std::move(*conn);
  s->search = std::move(*stmt);
  return knowledge_base(std::move(s));
}

core::result<std::vector<passage>> knowledge_base::search(std::string_view query, std::string_view persona_id,
                                                          std::size_t k, std::size_t char_budget) const {
  std::vector<passage> found;
  const auto match = build_match_query(query);
  k = std::min(k, max_results);
  if (match.empty() || k == 0 || char_budget == 0) return found;

  const std::lock_guard lock(state_->mutex);
  auto* stmt = state_->search.get();
  // Resets and unbinds however this ends, so the next search starts clean and no bound text dangles.
  const std::unique_ptr<sqlite3_stmt, void (*)(sqlite3_stmt*)> reset(stmt, [](sqlite3_stmt* s) {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  });
  int rc = bind_text(stmt, 1, match);
  if (rc == SQLITE_OK) rc = bind_text(stmt, 2, persona_id);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(stmt, 3, static_cast<sqlite3_int64>(k));
  std::size_t used = 0;
  // Stops early (rc still SQLITE_ROW) once the budget is spent.
  for (rc = rc == SQLITE_OK ? sqlite3_step(stmt) : rc; rc == SQLITE_ROW; rc = sqlite3_step(stmt)) {
    passage p{column_text(stmt, 0), column_text(stmt, 1), column_text(stmt, 2), column_text(stmt, 3),
              -sqlite3_column_double(stmt, 4)};
    const std::size_t left = char_budget - used;
    if (p.text.size() > left) {
      if (left >= min_cut_bytes) {
        p.text = std::string(cut_at_word(p.text, left - 3)) + "...";
        found.push_back(std::move(p));
      }
      break;
    }
    used += p.text.size();
    found.push_back(std::move(p));
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    std::string why;
    const auto error = sqlite_error(state_->conn.get(), rc, "search", &why);
    core::log::event(logger(), spdlog::level::warn, "kb_search_failed", {{"error", why}});
    return error;
  }
  return found;
}

core::result<import_stats> knowledge_base::stats() const {
  const std::lock_guard lock(state_->mutex);
  import_stats out;
  std::string why;
  for (auto [sql, field] : {std::pair{"SELECT count(*) FROM documents", &out.documents},
                            std::pair{"SELECT count(*) FROM passages", &out.passages}}) {
    auto stmt = prepare(state_->conn.get(), sql, &why);
    if (!stmt) return stmt.error();
    const int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_ROW) return sqlite_error(state_->conn.get(), rc, "count", &why);
    *field = static_cast<std::size_t>(sqlite3_column_int64(stmt->get(), 0));
  }
  return out;
}

}  // namespace mas::kb
