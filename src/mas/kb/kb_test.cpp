#include "mas/kb/kb.hpp"

#include "core/encoding.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace {

namespace fs = std::filesystem;
using namespace mas::kb;
using namespace std::string_literals;

const fs::path shipped = fs::path(SPARC_DATA_DIR) / "kb";

/// A fresh, empty directory for the running test.
fs::path scratch() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = fs::path(::testing::TempDir()) / (std::string("kb_") + info->test_suite_name() + "_" + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write(const fs::path& file, std::string_view content) {
  std::ofstream(file, std::ios::binary) << content;
}

std::string sheet(std::string_view front, std::string_view body) {
  return "---\n" + std::string(front) + "---\n" + std::string(body);
}

std::string caregiver_sheet(std::string_view body, std::string_view extra = "") {
  return sheet("title: T\naudience: caregiver\nsource: S\n" + std::string(extra), body);
}

std::set<std::string> doc_ids(const std::vector<passage>& found) {
  std::set<std::string> ids;
  for (const auto& p : found) ids.insert(p.doc_id);
  return ids;
}

const knowledge_base& shipped_kb() {
  static const auto kb = [] {
    std::string why;
    auto r = knowledge_base::from_dir(shipped, &why);
    if (!r) throw std::runtime_error(why);
    return std::move(*r);
  }();
  return kb;
}

TEST(kb, sqlite_has_fts5) {
  EXPECT_EQ(sqlite3_compileoption_used("ENABLE_FTS5"), 1);
  std::string why;
  const auto kb = knowledge_base::from_dir(shipped, &why);
  ASSERT_TRUE(kb) << why;
}

TEST(kb, shipped_sheets_follow_the_curation_rules) {
  std::size_t sheets = 0;
  std::set<std::string> audiences;
  std::set<std::string> personas;
  for (const auto& entry : fs::directory_iterator(shipped)) {
    if (entry.path().extension() != ".md") continue;
    ++sheets;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    const auto content = text.str();
    EXPECT_LE(content.size(), 2500u) << entry.path();
    EXPECT_TRUE(core::is_valid_utf8(content)) << entry.path();
    for (std::string line; std::getline(text, line);) {
      if (line.starts_with("audience: ")) audiences.insert(line.substr(10));
      if (line.starts_with("personas: ")) personas.insert(line.substr(10));
      if (line.starts_with("source: ")) {
        EXPECT_GT(line.size(), 20u) << entry.path();
      }
    }
  }
  EXPECT_GE(sheets, 6u);
  EXPECT_LE(sheets, 8u);
  EXPECT_TRUE(audiences.contains("clinician"));
  EXPECT_TRUE(audiences.contains("caregiver"));
  EXPECT_TRUE(personas.contains("anne-palmer"));
  EXPECT_TRUE(personas.contains("maya-pena"));
}

TEST(kb, import_writes_a_file_that_opens_read_only) {
  const auto dir = scratch();
  const auto db = dir / "kb.db";
  std::string why;
  const auto stats = import_dir(db, shipped, &why);
  ASSERT_TRUE(stats) << why;
  EXPECT_GE(stats->documents, 6u);
  EXPECT_GT(stats->passages, stats->documents);
  for (const auto& entry : fs::directory_iterator(dir)) EXPECT_EQ(entry.path().filename(), "kb.db");  // no leftovers

  fs::permissions(db, fs::perms::owner_read, fs::perm_options::replace);  // read-only is enough
  auto kb = knowledge_base::open(db, &why);
  fs::permissions(db, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  ASSERT_TRUE(kb) << why;
  const auto counted = kb->stats();
  ASSERT_TRUE(counted);
  EXPECT_EQ(counted->documents, stats->documents);
  EXPECT_EQ(counted->passages, stats->passages);
  const auto found = kb->search("too young", "anne-palmer", 3, 4000);
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->empty());
}

struct ranking_case {
  const char* question;
  const char* persona;
  const char* expected;
};

class kb_ranking : public ::testing::TestWithParam<ranking_case> {};

TEST_P(kb_ranking, the_first_passage_is_from_the_right_sheet) {
  const auto& c = GetParam();
  const auto found = shipped_kb().search(c.question, c.persona, 3, 4000);
  ASSERT_TRUE(found);
  ASSERT_FALSE(found->empty()) << c.question;
  EXPECT_EQ(found->front().doc_id, c.expected) << c.question;
  for (std::size_t i = 1; i < found->size(); ++i) EXPECT_GE((*found)[i - 1].score, (*found)[i].score);
}

INSTANTIATE_TEST_SUITE_P(
    questions, kb_ranking,
    ::testing::Values(ranking_case{"Is she too young for this vaccine?", "maya-pena", "age-9-to-12"},
                      ranking_case{"Why give it at 9 when she could wait until 15?", "", "age-9-to-12"},
                      ranking_case{"She's ten, she isn't dating. Why does she need it now?", "anne-palmer",
                                   "not-about-dating"},
                      ranking_case{"Could the shot make it hard for her to have babies later?", "maya-pena",
                                   "fertility-and-pregnancy"},
                      ranking_case{"What side effects should I expect? Do kids faint?", "anne-palmer",
                                   "safety-and-side-effects"},
                      ranking_case{"Which cancers does HPV cause?", "maya-pena", "hpv-and-cancer"},
                      ranking_case{"How well does it work, and does the protection last?", "",
                                   "how-well-it-works"}));

TEST(kb, clinician_sheets_never_reach_a_persona) {
  // Words only the clinician sheet uses: a search for them must come back without it.
  for (const char* persona : {"", "anne-palmer", "maya-pena", "someone-else"}) {
    const auto found = shipped_kb().search("presumptive announcement randomized trial chart", persona, max_results,
                                           100000);
    ASSERT_TRUE(found);
    EXPECT_FALSE(doc_ids(*found).contains("counseling-approach")) << persona;
  }
  // The same words do match when a sheet for the caregiver holds them (the filter, not the query, removed it).
  const auto dir = scratch();
  write(dir / "for-clinician.md", sheet("title: C\naudience: clinician\nsource: S\n", "presumptive announcement\n"));
  write(dir / "for-parent.md", caregiver_sheet("presumptive announcement\n"));
  std::string why;
  const auto kb = knowledge_base::from_dir(dir, &why);
  ASSERT_TRUE(kb) << why;
  const auto found = kb->search("presumptive announcement", "anne-palmer", 10, 1000);
  ASSERT_TRUE(found);
  EXPECT_EQ(doc_ids(*found), std::set<std::string>{"for-parent"});
}

TEST(kb, persona_sheets_reach_only_their_persona) {
  const auto find = [](std::string_view query, std::string_view persona) {
    const auto found = shipped_kb().search(query, persona, max_results, 100000);
    EXPECT_TRUE(found);
    return found ? doc_ids(*found) : std::set<std::string>{};
  };
  const char* fertility = "infertility babies pregnancy ovarian";
  EXPECT_TRUE(find(fertility, "maya-pena").contains("fertility-and-pregnancy"));
  EXPECT_FALSE(find(fertility, "anne-palmer").contains("fertility-and-pregnancy"));
  EXPECT_FALSE(find(fertility, "").contains("fertility-and-pregnancy"));
  const char* dating = "dating sexual activity marriage";
  EXPECT_TRUE(find(dating, "anne-palmer").contains("not-about-dating"));
  EXPECT_FALSE(find(dating, "maya-pena").contains("not-about-dating"));
  EXPECT_FALSE(find(dating, "anne-palmer,maya-pena").contains("not-about-dating"));

  // A sheet may name several personas.
  const auto dir = scratch();
  write(dir / "both.md", caregiver_sheet("walrus\n", "personas: anne-palmer, maya-pena\n"));
  std::string why;
  const auto kb = knowledge_base::from_dir(dir, &why);
  ASSERT_TRUE(kb) << why;
  for (const char* persona : {"anne-palmer", "maya-pena"}) EXPECT_EQ(kb->search("walrus", persona, 5, 500)->size(), 1u);
  EXPECT_TRUE(kb->search("walrus", "other", 5, 500)->empty());
}

TEST(kb, k_and_the_budget_bound_the_result) {
  const auto& kb = shipped_kb();
  const char* query = "HPV vaccine cancer safety age doses";
  const auto all = kb.search(query, "maya-pena", max_results, 1000000);
  ASSERT_TRUE(all);
  ASSERT_GT(all->size(), 5u);
  EXPECT_EQ(kb.search(query, "maya-pena", 3, 1000000)->size(), 3u);
  EXPECT_LE(kb.search(query, "maya-pena", 1000000, 1000000)->size(), max_results);
  EXPECT_TRUE(kb.search(query, "maya-pena", 0, 1000)->empty());
  EXPECT_TRUE(kb.search(query, "maya-pena", 5, 0)->empty());

  for (const std::size_t budget : {50u, 100u, 500u, 900u, 1500u}) {
    const auto found = kb.search(query, "maya-pena", 10, budget);
    ASSERT_TRUE(found);
    std::size_t total = 0;
    for (const auto& p : *found) {
      total += p.text.size();
      EXPECT_TRUE(core::is_valid_utf8(p.text));
    }
    EXPECT_LE(total, budget);
    if (budget >= 100) {
      EXPECT_FALSE(found->empty()) << budget;
    }
    // Whole passages in rank order, then at most one cut one, ended at a word.
    for (std::size_t i = 0; i < found->size(); ++i) {
      const auto& text = (*found)[i].text;
      EXPECT_EQ((*found)[i].doc_id, (*all)[i].doc_id);
      if (text != (*all)[i].text) {
        EXPECT_EQ(i + 1, found->size());
        ASSERT_TRUE(text.ends_with("..."));
        const auto kept = text.substr(0, text.size() - 3);
        EXPECT_TRUE((*all)[i].text.starts_with(kept));
        EXPECT_TRUE((*all)[i].text[kept.size()] == ' ' || (*all)[i].text[kept.size()] == '\n' ||
                    (*all)[i].text[kept.size()] == ',' || (*all)[i].text[kept.size()] == ';' ||
                    (*all)[i].text[kept.size()] == ':')
            << kept;
      }
    }
  }
}

TEST(kb, a_cut_never_splits_a_utf8_sequence) {
  const auto dir = scratch();
  std::string body = "ocelot ";
  for (int i = 0; i < 150; ++i) body += "\xC3\xA9";  // one 300-byte "word" of é
  write(dir / "accents.md", caregiver_sheet(body + "\n"));
  std::string why;
  const auto kb = knowledge_base::from_dir(dir, &why);
  ASSERT_TRUE(kb) << why;
  for (std::size_t budget = 80; budget < 320; ++budget) {
    const auto found = kb->search("ocelot", "", 1, budget);
    ASSERT_TRUE(found);
    ASSERT_EQ(found->size(), 1u);
    EXPECT_LE(found->front().text.size(), budget);
    EXPECT_TRUE(core::is_valid_utf8(found->front().text)) << budget;
  }
}

TEST(kb, query_building) {
  EXPECT_EQ(build_match_query("Is she too young for this vaccine?"), R"("young" OR "vaccine")");
  EXPECT_EQ(build_match_query("HPV's VACCINE, vaccine; 9 to 12"), R"("hpv" OR "vaccine" OR "9" OR "12")");
  EXPECT_EQ(build_match_query("she\xE2\x80\x99s scared\xE2\x80\x94really"), R"("scared")");
  EXPECT_EQ(build_match_query("caf\xC3\xA9 na\xC3\xAFve"), "\"caf\xC3\xA9\" OR \"na\xC3\xAFve\"");
  EXPECT_EQ(build_match_query(""), "");
  EXPECT_EQ(build_match_query("is it what you would do?"), "");
  std::string many;
  for (int i = 0; i < 100; ++i) many += "w" + std::to_string(i) + " ";
  const auto q = build_match_query(many);
  EXPECT_EQ(std::count(q.begin(), q.end(), '"'), 2 * static_cast<long>(max_query_terms));
  std::string long_text(max_query_input_bytes, ' ');
  long_text += "giraffe";
  EXPECT_EQ(build_match_query(long_text), "");
  EXPECT_EQ(build_match_query(std::string(10000, 'x')), "");  // one word far longer than any real one
}

TEST(kb, hostile_queries_never_fail) {
  const auto& kb = shipped_kb();
  std::string huge;
  for (int i = 0; i < 5000; ++i) huge += "NEAR(\"vaccine\" * -safe) OR ";
  const std::vector<std::string> queries = {
      "\"",
      "\"\"\"\"",
      "'",
      "NEAR(vaccine safe, 2)",
      "NEAR(",
      "*",
      "vaccine*",
      "-",
      "- safety",
      "^vaccine",
      "title:vaccine",
      "{title text}: vaccine",
      "vaccine AND OR NOT",
      "AND",
      "(",
      ")",
      "\"unbalanced",
      "vac\0cine\0\0"s,
      "\0"s,
      "\xFF\xFE\xFD",
      "\xC3",
      "safe\xC3",
      "\xE2\x80",
      "\xF0\x9F\x98\x80 vaccine \xF0\x9F\x98\x80",
      "\xC2\xA9 \xE2\x84\xA2",
      "\xE2\x80\x99\xE2\x80\x9C\xE2\x80\x9D",
      "\xED\xA0\x80",  // a UTF-16 surrogate
      "'; DROP TABLE documents; --",
      huge,
      std::string(5000, '"'),
  };
  for (const auto& q : queries) {
    const auto match = build_match_query(q);
    EXPECT_EQ(std::count(match.begin(), match.end(), '"') % 2, 0) << match;
    EXPECT_TRUE(core::is_valid_utf8(match));
    for (const char* persona : {"", "anne-palmer", "\"", "x' OR '1'='1"}) {
      const auto found = kb.search(q, persona, 5, 2000);
      EXPECT_TRUE(found) << "query " << ::testing::PrintToString(q);
    }
  }
  EXPECT_TRUE(kb.search("", "anne-palmer", 5, 2000)->empty());
  EXPECT_TRUE(kb.search("\"*-()", "anne-palmer", 5, 2000)->empty());
}

TEST(kb, reimport_replaces_the_index) {
  const auto dir = scratch();
  const auto db = dir / "kb.db";
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  write(dir / "a" / "zebra.md", caregiver_sheet("A zebra paragraph.\n\nAnother zebra paragraph.\n"));
  write(dir / "b" / "giraffe.md", caregiver_sheet("A giraffe paragraph.\n"));
  std::string why;
  ASSERT_TRUE(import_dir(db, dir / "a", &why)) << why;
  auto before = knowledge_base::open(db, &why);
  ASSERT_TRUE(before) << why;
  EXPECT_EQ(before->search("zebra", "", 5, 1000)->size(), 2u);

  const auto stats = import_dir(db, dir / "b", &why);
  ASSERT_TRUE(stats) << why;
  EXPECT_EQ(stats->documents, 1u);
  EXPECT_EQ(stats->passages, 1u);
  auto after = knowledge_base::open(db, &why);
  ASSERT_TRUE(after) << why;
  EXPECT_TRUE(after->search("zebra", "", 5, 1000)->empty());
  EXPECT_EQ(after->search("giraffe", "", 5, 1000)->size(), 1u);
  EXPECT_EQ(after->stats()->documents, 1u);
  // An index opened before the import keeps reading what it opened (the new file replaced it by rename).
  EXPECT_EQ(before->search("zebra", "", 5, 1000)->size(), 2u);
}

TEST(kb, a_failed_import_keeps_the_old_index) {
  const auto dir = scratch();
  const auto db = dir / "kb.db";
  fs::create_directories(dir / "good");
  fs::create_directories(dir / "bad");
  write(dir / "good" / "zebra.md", caregiver_sheet("zebra\n"));
  write(dir / "bad" / "fine.md", caregiver_sheet("giraffe\n"));
  write(dir / "bad" / "broken.md", "---\ntitle: T\n");
  std::string why;
  ASSERT_TRUE(import_dir(db, dir / "good", &why)) << why;
  EXPECT_FALSE(import_dir(db, dir / "bad", &why));
  const auto kb = knowledge_base::open(db, &why);
  ASSERT_TRUE(kb) << why;
  EXPECT_EQ(kb->search("zebra", "", 5, 1000)->size(), 1u);
  EXPECT_TRUE(kb->search("giraffe", "", 5, 1000)->empty());
  // A destination that cannot be written fails cleanly too, leaving nothing behind.
  EXPECT_FALSE(import_dir(dir / "missing" / "kb.db", dir / "good", &why));
  EXPECT_NE(why.find("missing"), std::string::npos) << why;
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 3u);  // good/, bad/, kb.db
}

TEST(kb, bad_sheets_name_file_and_line) {
  struct bad_case {
    std::string content;
    std::string expected;
  };
  const std::vector<bad_case> cases = {
      {"title: T\n", "bad.md:1: expected front matter"},
      {"---\ntitle: T\naudience: caregiver\n", "bad.md:1: front matter is not closed"},
      {"---\ntitle: T\nautor: me\n---\ntext\n", "bad.md:3: unknown key 'autor'"},
      {"---\ntitle: T\ntitle: U\n---\ntext\n", "bad.md:3: duplicate key 'title'"},
      {"---\ntitle: T\nno colon here\n---\ntext\n", "bad.md:3: expected 'key: value'"},
      {"---\ntitle:\n---\ntext\n", "bad.md:2: 'title' is empty"},
      {"---\ntitle: T\naudience: parent\nsource: S\n---\ntext\n", "bad.md:3: audience must be caregiver or clinician"},
      {"---\ntitle: T\naudience: caregiver\nsource: S\npersonas: anne-palmer, Maya Pena\n---\ntext\n",
       "bad.md:5: persona id 'Maya Pena'"},
      {"---\ntitle: T\naudience: caregiver\nsource: S\npersonas: anne-palmer,\n---\ntext\n", "bad.md:5: persona id ''"},
      {"---\ntitle: T\nsource: S\n---\ntext\n", "bad.md:4: front matter lacks 'audience'"},
      {"---\ntitle: T\naudience: caregiver\nsource: S\n---\n\n\n", "bad.md:8: the sheet has no text"},
      {"---\ntitle: T\naudience: caregiver\nsource: S\n---\nfine\nbad \xC3\x28 byte\n", "bad.md:7: not valid UTF-8"},
      {"---\ntitle: T\naudience: caregiver\nsource: S\n---\nnul \0 here\n"s, "bad.md:6: NUL byte"},
  };
  for (const auto& c : cases) {
    const auto dir = scratch();
    write(dir / "good.md", caregiver_sheet("fine\n"));
    write(dir / "bad.md", c.content);
    std::string why;
    const auto r = import_dir(dir / "kb.db", dir, &why);
    ASSERT_FALSE(r) << c.expected;
    EXPECT_EQ(r.error(), core::make_error_code(core::errc::invalid_argument));
    EXPECT_TRUE(why.starts_with(c.expected)) << why;
    EXPECT_FALSE(fs::exists(dir / "kb.db"));
    EXPECT_FALSE(knowledge_base::from_dir(dir, &why));
  }
}

TEST(kb, sheet_format_details) {
  const auto dir = scratch();
  // CRLF line ends, a byte order mark, comments and blank lines in the front matter, headings joining their text.
  write(dir / "crlf.md",
        "\xEF\xBB\xBF---\r\n# a comment\r\ntitle:  Spaced title  \r\n\r\naudience: caregiver\r\nsource: S\r\n---\r\n"
        "# Heading\r\n## Sub\r\nFirst line\r\nwraps here.\r\n- item one\r\n- item two\r\n\r\n# Dangling\r\n");
  std::string long_paragraph;
  for (int i = 0; i < 60; ++i) long_paragraph += "Sentence number " + std::to_string(i) + " about narwhals. ";
  write(dir / "long.md", caregiver_sheet(long_paragraph + "\n"));
  write(dir / ".hidden.md", "not a sheet");
  write(dir / "notes.txt", "not a sheet");
  std::string why;
  const auto kb = knowledge_base::from_dir(dir, &why);
  ASSERT_TRUE(kb) << why;
  EXPECT_EQ(kb->stats()->documents, 2u);
  const auto crlf = kb->search("wraps", "", 5, 5000);
  ASSERT_TRUE(crlf);
  ASSERT_EQ(crlf->size(), 1u);
  EXPECT_EQ(crlf->front().title, "Spaced title");
  EXPECT_EQ(crlf->front().text, "Heading: Sub\nFirst line wraps here.\n- item one\n- item two");
  EXPECT_EQ(kb->search("dangling", "", 5, 5000)->front().text, "Dangling");

  const auto pieces = kb->search("narwhals", "", max_results, 100000);
  ASSERT_TRUE(pieces);
  ASSERT_GE(pieces->size(), 3u);
  std::size_t total = 0;
  for (const auto& p : *pieces) {
    EXPECT_LE(p.text.size(), max_passage_bytes);
    EXPECT_TRUE(p.text.ends_with("narwhals.")) << p.text;  // cut after a sentence
    total += p.text.size() + 1;
  }
  EXPECT_EQ(total, long_paragraph.size());
}

TEST(kb, size_bounds_are_enforced) {
  const auto dir = scratch();
  write(dir / "ok.md", caregiver_sheet("fine\n"));
  write(dir / "huge.md", caregiver_sheet(std::string(max_file_bytes, 'x') + "\n"));
  std::string why;
  auto r = import_dir(dir / "kb.db", dir, &why);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), core::make_error_code(core::errc::too_large));
  EXPECT_NE(why.find("huge.md"), std::string::npos) << why;

  const auto many = dir / "many";
  fs::create_directories(many);
  for (std::size_t i = 0; i <= max_files; ++i) write(many / ("s" + std::to_string(i) + ".md"), caregiver_sheet("x\n"));
  r = import_dir(dir / "kb.db", many, &why);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), core::make_error_code(core::errc::too_large));
  fs::remove(many / "s0.md");
  EXPECT_TRUE(import_dir(dir / "kb.db", many, &why)) << why;
}

TEST(kb, missing_or_empty_directories_are_refused) {
  const auto dir = scratch();
  std::string why;
  auto r = import_dir(dir / "kb.db", dir / "nope", &why);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), core::make_error_code(core::errc::not_found));
  r = import_dir(dir / "kb.db", dir, &why);  // an empty import would wipe the index: refuse it
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), core::make_error_code(core::errc::invalid_argument));
  EXPECT_NE(why.find("no *.md"), std::string::npos) << why;
}

TEST(kb, open_refuses_what_is_not_a_current_index) {
  const auto dir = scratch();
  std::string why;
  auto r = knowledge_base::open(dir / "absent.db", &why);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), core::make_error_code(core::errc::not_found));

  write(dir / "text.db", std::string(4096, 'x'));
  r = knowledge_base::open(dir / "text.db", &why);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), core::make_error_code(core::errc::malformed));

  const auto set_pragma = [](const fs::path& file, const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  };
  set_pragma(dir / "other.db", "CREATE TABLE t(x)");
  r = knowledge_base::open(dir / "other.db", &why);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), core::make_error_code(core::errc::malformed));
  EXPECT_NE(why.find("not a knowledge base"), std::string::npos) << why;

  ASSERT_TRUE(import_dir(dir / "kb.db", shipped, &why)) << why;
  set_pragma(dir / "kb.db", "PRAGMA user_version = " + std::to_string(schema_version + 1));
  r = knowledge_base::open(dir / "kb.db", &why);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), core::make_error_code(core::errc::unsupported));
  EXPECT_NE(why.find("kb import"), std::string::npos) << why;
}

TEST(kb, concurrent_searches_agree_with_serial_ones) {
  const auto dir = scratch();
  std::string why;
  ASSERT_TRUE(import_dir(dir / "kb.db", shipped, &why)) << why;
  const auto kb = knowledge_base::open(dir / "kb.db", &why);
  ASSERT_TRUE(kb) << why;
  const std::vector<std::pair<std::string, std::string>> queries = {
      {"too young", "anne-palmer"}, {"infertility", "maya-pena"}, {"side effects fainting", ""}, {"cancer", "x"}};
  std::vector<std::vector<std::string>> expected;
  for (const auto& [q, persona] : queries) {
    std::vector<std::string> texts;
    for (const auto& p : *kb->search(q, persona, 4, 1500)) texts.push_back(p.text);
    expected.push_back(texts);
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const auto n = static_cast<std::size_t>(t + i) % queries.size();
        const auto found = kb->search(queries[n].first, queries[n].second, 4, 1500);
        std::vector<std::string> texts;
        if (found)
          for (const auto& p : *found) texts.push_back(p.text);
        if (!found || texts != expected[n]) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(kb, prompt_block_names_title_and_source) {
  EXPECT_EQ(format_for_prompt({}), "");
  const auto block = format_for_prompt({{"a", "Title A", "Source A", "Text A.", 2.0}, {"b", "Title B", "Source B",
                                                                                      "Text B.", 1.0}});
  EXPECT_EQ(block,
            "Reference notes (what a parent may have read or heard; each names its source):\n"
            "\n[1] Title A (source: Source A)\nText A.\n"
            "\n[2] Title B (source: Source B)\nText B.\n");
}

TEST(kb, import_command_reports_and_exits) {
  const auto dir = scratch();
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(import_command(dir / "kb.db", shipped, out, err), 0) << err.str();
  const auto stats = knowledge_base::open(dir / "kb.db")->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(out.str(), "kb: " + std::to_string(stats->documents) + " documents, " + std::to_string(stats->passages) +
                           " passages into " + (dir / "kb.db").string() + "\n");
  EXPECT_EQ(err.str(), "");
  out.str("");
  EXPECT_EQ(import_command(dir / "kb.db", dir / "nope", out, err), 1);
  EXPECT_EQ(out.str(), "");
  EXPECT_NE(err.str().find("sparc-mas kb import: "), std::string::npos);
  EXPECT_NE(err.str().find("nope"), std::string::npos);
}

}  // namespace
