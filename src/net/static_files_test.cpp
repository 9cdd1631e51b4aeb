#include "net/static_files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace {

namespace fs = std::filesystem;

class static_files : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("sparc-static-" + std::to_string(::getpid()));
    fs::create_directories(root_ / "sub");
    std::ofstream(root_ / "index.html") << "<h1>hi</h1>";
    std::ofstream(root_ / "app.js") << "export {}";
    std::ofstream(root_ / "sub" / "x.json") << "{}";
    std::ofstream(root_ / ".secret") << "no";
    std::ofstream(root_.parent_path() / "outside.txt") << "outside";
    fs::create_symlink(root_.parent_path() / "outside.txt", root_ / "link.txt");
  }
  void TearDown() override {
    fs::remove_all(root_);
    fs::remove(root_.parent_path() / "outside.txt");
  }
  std::optional<net::http_response> get(std::string_view rel, std::string inm = {}) {
    net::http_request req;
    req.method = "GET";
    if (!inm.empty()) req.headers.emplace_back("if-none-match", inm);
    return net::serve_static(req, root_, rel);
  }
  fs::path root_;
};

TEST_F(static_files, serves_files_with_mime_and_cache_headers) {
  auto r = get("");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "<h1>hi</h1>");
  EXPECT_EQ(r->content_type, "text/html; charset=utf-8");
  r = get("app.js");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->content_type, "text/javascript; charset=utf-8");
  r = get("sub/x.json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->content_type, "application/json; charset=utf-8");
}

TEST_F(static_files, answers_matching_etag_with_304) {
  const auto r = get("app.js");
  ASSERT_TRUE(r);
  std::string etag;
  for (const auto& [k, v] : r->headers)
    if (k == "ETag") etag = v;
  ASSERT_FALSE(etag.empty());
  const auto again = get("app.js", etag);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());
}

TEST_F(static_files, refuses_traversal_hidden_files_and_escaping_symlinks) {
  EXPECT_FALSE(get("../outside.txt"));
  EXPECT_FALSE(get("sub/../../outside.txt"));
  EXPECT_FALSE(get(".secret"));
  EXPECT_FALSE(get("link.txt"));
  EXPECT_FALSE(get("missing.js"));
  EXPECT_FALSE(get(std::string_view("a\0b", 3)));
  EXPECT_FALSE(get("sub\\..\\..\\outside.txt"));
}

}  // namespace
