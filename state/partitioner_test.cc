#include "state/partitioner.h"

#include "gtest/gtest.h"

namespace encore {
namespace {

// The values Kafka's own tests give for its murmur2 (as signed Java ints).
TEST(PartitionerTest, MatchesKafkasMurmur2) {
  EXPECT_EQ(static_cast<int32_t>(KafkaMurmur2("21")), -973932308);
  EXPECT_EQ(static_cast<int32_t>(KafkaMurmur2("foobar")), -790332482);
  EXPECT_EQ(static_cast<int32_t>(KafkaMurmur2("a-little-bit-long-string")),
            -985981536);
  EXPECT_EQ(static_cast<int32_t>(KafkaMurmur2("a-little-bit-longer-string")),
            -1486304829);
  EXPECT_EQ(static_cast<int32_t>(KafkaMurmur2(
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")),
            -58897971);
  EXPECT_EQ(static_cast<int32_t>(KafkaMurmur2("abc")), 479470107);
}

TEST(PartitionerTest, PartitionIsPositiveModuloTheCount) {
  // -790332482 & 0x7fffffff = 1357151166.
  EXPECT_EQ(KafkaPartition("foobar", 64), 1357151166 % 64);
  for (int32_t n : {1, 3, 64}) {
    const int32_t p = KafkaPartition("user-42", n);
    EXPECT_GE(p, 0);
    EXPECT_LT(p, n);
  }
}

}  // namespace
}  // namespace encore
