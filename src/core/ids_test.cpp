#include "core/ids.hpp"

#include <gtest/gtest.h>

#include <set>

namespace {

TEST(uuid_v4, has_canonical_form_and_version_bits) {
  const auto id = core::uuid_v4();
  ASSERT_TRUE(core::is_uuid(id)) << id;
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);
}

TEST(uuid_v4, does_not_repeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(core::uuid_v4());
  EXPECT_EQ(seen.size(), 1000U);
}

TEST(is_uuid, rejects_other_text) {
  EXPECT_FALSE(core::is_uuid(""));
  EXPECT_FALSE(core::is_uuid("not-a-uuid"));
  EXPECT_FALSE(core::is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
  EXPECT_TRUE(core::is_uuid("123E4567-E89B-12D3-A456-426614174000"));
}

}  // namespace
