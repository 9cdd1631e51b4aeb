#pragma once
// The caregiver's knowledge base: curated HPV-vaccine fact sheets (data/kb/*.md) in an SQLite FTS5 index, searched
// with BM25 for passages the caregiver persona may have read or heard.
//
// A sheet starts with a front matter block between two `---` lines, one `key: value` per line (blank lines and
// `#` comments allowed):
//   title     (required) shown with every passage of the sheet
//   audience  (required) `caregiver` (what a parent may have read or heard) or `clinician` (never returned by
//             search: material for the clinician, not for the persona)
//   personas  (optional) comma-separated persona ids the sheet belongs to; absent: every persona
//   source    (required) the publications the sheet draws on, by name
// The body is split into passages by paragraph (blank lines); a heading line joins the paragraph after it, and a
// paragraph longer than `max_passage_bytes` is cut at sentence or word ends. A sheet's id is its file name
// without `.md`.
//
// The index file. `import_dir` parses every sheet first and refuses the whole directory on the first problem, so a
// bad sheet never half-replaces a good index. It then writes a fresh index into a temporary file beside the
// target in one transaction, fsyncs it and renames it over the target: a crash at any point leaves the old index
// whole (at worst a stray `<target>.<pid>.tmp`), and the file on disk is never mid-transaction, so readers can
// always open it read-only (SQLite cannot roll back a hot journal through a read-only connection). A service
// that already has the old file open keeps reading the old contents until it reopens the file.
//
// Sizes are bytes throughout (the "characters" of the budgets are UTF-8 bytes, so a budget bounds prompt size).

#include "core/error.hpp"

#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mas::kb {

/// Bumped when the index layout changes; `knowledge_base::open` refuses any other version (re-run the import).
inline constexpr int schema_version = 1;

// Limits on what an import reads: the sheets are curated and short, so anything near these is a mistake (a data
// file dropped into the folder, a runaway generator), and refusing it keeps import time and memory small.
inline constexpr std::size_t max_file_bytes = std::size_t{256} * 1024;
inline constexpr std::size_t max_files = 1000;
/// Long enough for a full paragraph of a fact sheet, short enough that a few passages fit a prompt.
inline constexpr std::size_t max_passage_bytes = 700;
/// Front matter lines before the closing `---`: a sheet with more is missing its closing line.
inline constexpr std::size_t max_front_matter_lines = 32;

// Limits on a query built from free clinician text: a turn is a sentence or two; beyond that the extra words add
// nothing to ranking but cost time in FTS5.
inline constexpr std::size_t max_query_input_bytes = 1000;
inline constexpr std::size_t max_query_terms = 32;
/// Passages one search may return, whatever `k` asks: a prompt has no room for more.
inline constexpr std::size_t max_results = 50;

/// One passage of a sheet, as search returns it.
struct passage {
  std::string doc_id;  ///< the sheet's file name without .md
  std::string title;
  std::string source;
  std::string text;
  double score = 0;  ///< BM25 relevance, higher is better (SQLite's bm25() negated)
};

/// What an import wrote.
struct import_stats {
  std::size_t documents = 0;
  std::size_t passages = 0;
};

/// Parses every `*.md` directly in `dir` and replaces the index at `db` with them (see the top of this file).
/// Errors: errc::not_found (no such directory), invalid_argument (bad front matter or UTF-8, no sheets; `why` names
/// file:line), too_large (a file or the file count over its limit), io_error (SQLite or the file system).
core::result<import_stats> import_dir(const std::filesystem::path& db, const std::filesystem::path& dir,
                                      std::string* why = nullptr);

/// `sparc-mas kb import DIR --kb DB`: imports, prints "kb: N documents, M passages into DB" to `out`, or the reason
/// to `err`; returns the exit code (0 or 1).
int import_command(const std::filesystem::path& db, const std::filesystem::path& dir, std::ostream& out,
                   std::ostream& err);

/// The FTS5 MATCH expression for free text: lowercased words without stopwords, each quoted, joined by OR; at most
/// `max_query_terms` from the first `max_query_input_bytes`. Empty when nothing is left to search for. Any input
/// (quotes, FTS5 operators, NUL bytes, invalid UTF-8) yields a valid expression.
std::string build_match_query(std::string_view text);

/// Formats passages for the caregiver's system prompt: a short heading, then each passage under its title and
/// source. Empty for no passages.
std::string format_for_prompt(const std::vector<passage>& passages);

/// A read-only view of an index, safe to search from several threads at once.
///
/// Threads: one SQLite connection and its prepared search statement behind a mutex, so searches run one at a
/// time. A search over a few hundred passages takes well under a millisecond while caregiver turns arrive a few
/// per second and each waits seconds for its model, so a pool of connections would buy nothing measurable; one
/// connection keeps memory and file handles fixed and needs no per-thread state that could outlive the object.
class knowledge_base {
 public:
  /// Opens the index file `db` read-only. Errors: not_found (no file), unsupported (another schema version: run
  /// `sparc-mas kb import`), malformed (not a knowledge base), io_error.
  static core::result<knowledge_base> open(const std::filesystem::path& db, std::string* why = nullptr);

  /// Builds a private in-memory index from the sheets in `dir`, with the same parsing and errors as `import_dir`.
  /// For tests, and for a service that starts without an index file (the shipped data/kb takes milliseconds).
  static core::result<knowledge_base> from_dir(const std::filesystem::path& dir, std::string* why = nullptr);

  knowledge_base(knowledge_base&&) noexcept;
  knowledge_base& operator=(knowledge_base&&) noexcept;
  knowledge_base(const knowledge_base&) = delete;
  knowledge_base& operator=(const knowledge_base&) = delete;
  ~knowledge_base();

  /// The best `k` passages (BM25) for free text `query` that `persona_id` may see: never a clinician sheet, never a
  /// sheet bound to another persona (an empty id sees only sheets bound to no persona). Their texts add up to at
  /// most `char_budget` bytes; the first one that does not fit is cut at a word end and marked with "..." when at
  /// least 80 bytes of it fit, and ends the list. An empty query finds nothing. Errors only from SQLite (io_error),
  /// never from the query text.
  core::result<std::vector<passage>> search(std::string_view query, std::string_view persona_id, std::size_t k,
                                            std::size_t char_budget) const;

  /// Documents and passages in the index.
  core::result<import_stats> stats() const;

 private:
  struct state;
  explicit knowledge_base(std::unique_ptr<state> s) noexcept;
  std::unique_ptr<state> state_;
};

}  // namespace mas::kb
