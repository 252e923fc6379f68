#include "stream/offset_continuity.h"

#include "gtest/gtest.h"

namespace encore {
namespace {

TEST(OffsetContinuityTest, InOrderAndRedeliveredMessagesAreDelivered) {
  OffsetContinuity c;
  c.Assigned(0, 100);
  EXPECT_EQ(c.Check(0, 100), OffsetContinuity::kDeliver);
  EXPECT_EQ(c.Check(0, 101), OffsetContinuity::kDeliver);
  EXPECT_EQ(c.Check(0, 99), OffsetContinuity::kDeliver);  // the owner skips it
  EXPECT_EQ(c.expected(0), 102);
}

TEST(OffsetContinuityTest, AJumpIsSoughtBackOnceThenAHoleIsTaken) {
  OffsetContinuity c;
  c.Assigned(0, 100);
  ASSERT_EQ(c.Check(0, 100), OffsetContinuity::kDeliver);
  // The consumer jumped: fetch 101 again.
  EXPECT_EQ(c.Check(0, 525), OffsetContinuity::kSeekBack);
  EXPECT_EQ(c.expected(0), 101);
  // The seek brought 101: the jump was the consumer's.
  EXPECT_EQ(c.Check(0, 101), OffsetContinuity::kDeliver);
  EXPECT_EQ(c.expected(0), 102);
  // A real hole (a transaction marker at 102): after the seek the log
  // jumps again, and that message is taken.
  EXPECT_EQ(c.Check(0, 103), OffsetContinuity::kSeekBack);
  EXPECT_EQ(c.Check(0, 103), OffsetContinuity::kDeliver);
  EXPECT_EQ(c.expected(0), 104);
}

TEST(OffsetContinuityTest, APartitionWithHolesIsTrustedAfterAFew) {
  OffsetContinuity c;
  c.Assigned(0, 0);
  int64_t offset = 0;
  for (int hole = 0; hole < OffsetContinuity::kHolesTrusted; ++hole) {
    offset += 2;
    ASSERT_EQ(c.Check(0, offset), OffsetContinuity::kSeekBack);
    ASSERT_EQ(c.Check(0, offset), OffsetContinuity::kDeliver);
  }
  EXPECT_EQ(c.Check(0, offset + 5), OffsetContinuity::kDeliver);
  EXPECT_EQ(c.expected(0), offset + 6);
  // A new assignment checks again.
  c.Revoked(0);
  c.Assigned(0, 50);
  EXPECT_EQ(c.Check(0, 60), OffsetContinuity::kSeekBack);
}

TEST(OffsetContinuityTest, AnUnknownStartIsTheFirstMessage) {
  OffsetContinuity c;
  c.Assigned(1, -1);  // the reset point
  EXPECT_EQ(c.Check(1, 7000), OffsetContinuity::kDeliver);
  EXPECT_EQ(c.Check(1, 7002), OffsetContinuity::kSeekBack);
  // Partitions not assigned are not tracked.
  EXPECT_EQ(c.Check(2, 5), OffsetContinuity::kDeliver);
  EXPECT_EQ(c.Check(2, 50), OffsetContinuity::kDeliver);
  EXPECT_EQ(c.expected(2), -1);
}

}  // namespace
}  // namespace encore
