#include "stream/expiry_index.h"

#include "gtest/gtest.h"

namespace encore {
namespace {

TEST(ExpiryIndexTest, GivesDueUsersByDeadlineThenId) {
  ExpiryIndex index;
  index.Move("b", -1, 300);
  index.Move("a", -1, 300);
  index.Move("c", -1, 100);
  EXPECT_EQ(index.size(), 3u);
  EXPECT_FALSE(index.FirstDue(100).has_value());  // due means before it
  std::optional<ExpiryIndex::Entry> due = index.FirstDue(101);
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(due->user, "c");
  EXPECT_EQ(due->deadline_ms, 100);
  index.Move("c", 100, -1);
  due = index.FirstDue(1000);
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(due->user, "a");  // same deadline as "b": the smaller id first
}

TEST(ExpiryIndexTest, ListsTheDueUsersInOrderUpToALimit) {
  ExpiryIndex index;
  index.Move("b", -1, 300);
  index.Move("a", -1, 300);
  index.Move("c", -1, 100);
  index.Move("d", -1, 900);
  EXPECT_TRUE(index.Due(100, 10).empty());
  EXPECT_EQ(index.Due(301, 10), (std::vector<std::string>{"c", "a", "b"}));
  EXPECT_EQ(index.Due(1000, 2), (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(index.size(), 4u);  // listing removes nothing
}

TEST(ExpiryIndexTest, AMovedUserIsIndexedOnceAtItsNewDeadline) {
  ExpiryIndex index;
  index.Move("u", -1, 100);
  index.Move("u", 100, 500);
  EXPECT_EQ(index.size(), 1u);
  EXPECT_FALSE(index.FirstDue(500).has_value());
  ASSERT_TRUE(index.FirstDue(501).has_value());
  index.Move("u", 500, 500);  // unchanged
  EXPECT_EQ(index.size(), 1u);
  index.Move("u", 500, -1);
  EXPECT_TRUE(index.empty());
  EXPECT_FALSE(index.FirstDue(1'000'000).has_value());
}

}  // namespace
}  // namespace encore
