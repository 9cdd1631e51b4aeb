// Golden tests: every spec in tests/golden/specs/ rendered with `all` must match tests/golden/<spec>/ byte for byte,
// with no file missing or extra. After an intended change: SPARC_UPDATE_GOLDEN=1 build/dev/src/deploy/deploy_test
// --gtest_filter='golden*' rewrites the files; review the diff before committing it.
#include "deploy/render.hpp"
#include "deploy/validate.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace deploy {
namespace {

namespace fs = std::filesystem;
const fs::path golden_root = SPARC_GOLDEN_DIR;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class golden : public ::testing::TestWithParam<std::string> {};

TEST_P(golden, rendered_artifacts_match_the_pinned_files) {
  const auto spec_file = golden_root / "specs" / (GetParam() + ".toml");
  auto parsed = parse_spec(read(spec_file), spec_file.filename().string());
  ASSERT_TRUE(parsed.spec) << parsed.errors.front().to_string();
  const auto findings = validate(*parsed.spec);
  ASSERT_FALSE(has_errors(findings)) << format_finding(*parsed.spec, findings.front());
  const auto files = render(build_stack(*parsed.spec), "all");
  const auto dir = golden_root / GetParam();
  const bool update = std::getenv("SPARC_UPDATE_GOLDEN") != nullptr;
  if (update) {
    fs::remove_all(dir);
    for (const auto& f : files) {
      fs::create_directories((dir / f.path).parent_path());
      std::ofstream(dir / f.path, std::ios::binary) << f.content;
    }
    GTEST_SKIP() << "rewrote " << dir;
  }
  std::set<std::string> expected;
  if (fs::exists(dir))
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.is_regular_file()) expected.insert(fs::relative(e.path(), dir).generic_string());
  std::set<std::string> produced;
  for (const auto& f : files) {
    EXPECT_TRUE(produced.insert(f.path).second) << "rendered twice: " << f.path;
    if (!expected.count(f.path)) {
      ADD_FAILURE() << "new file " << f.path << " (SPARC_UPDATE_GOLDEN=1 pins it)";
      continue;
    }
    EXPECT_EQ(f.content, read(dir / f.path)) << "differs from the pinned " << (dir / f.path);
  }
  for (const auto& e : expected) EXPECT_TRUE(produced.count(e)) << "no longer rendered: " << e;
}

TEST_P(golden, rendering_twice_gives_the_same_bytes) {
  const auto spec_file = golden_root / "specs" / (GetParam() + ".toml");
  auto parsed = parse_spec(read(spec_file));
  ASSERT_TRUE(parsed.spec);
  const auto st = build_stack(*parsed.spec);
  const auto a = render(st, "all");
  const auto b = render(st, "all");
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].content, b[i].content) << a[i].path;
}

INSTANTIATE_TEST_SUITE_P(specs, golden, ::testing::Values("local", "gpu-vm", "hiper"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string n = p.param;
                           for (auto& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace deploy
