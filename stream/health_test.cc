#include "stream/health.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace encore {
namespace {

using ::testing::HasSubstr;

TEST(HealthTest, ReadyNeedsPartitionsAHealthyStoreAndRecentCommits) {
  Health h(/*commit_staleness_ms=*/30'000);
  h.SetStarted(0);
  EXPECT_FALSE(h.Ready(0).ok);
  EXPECT_THAT(h.Ready(0).reason, HasSubstr("no partitions"));
  EXPECT_TRUE(h.Alive().ok);

  h.AddAssignedPartitions(2);
  EXPECT_TRUE(h.Ready(1'000).ok);  // idle: nothing waiting to commit

  h.RecordUncommitted(true);
  EXPECT_TRUE(h.Ready(29'000).ok);  // within the bound since start
  EXPECT_FALSE(h.Ready(31'000).ok);
  EXPECT_THAT(h.Ready(31'000).reason, HasSubstr("no commit for 31 s"));

  h.RecordCommit(31'000);
  EXPECT_TRUE(h.Ready(31'500).ok);
  h.RecordUncommitted(true);
  EXPECT_TRUE(h.Ready(60'000).ok);
  EXPECT_FALSE(h.Ready(61'001).ok);
}

TEST(HealthTest, PartitionsOfSeveralProcessorsAddUp) {
  Health h;
  h.AddAssignedPartitions(2);  // one backfill worker
  h.AddAssignedPartitions(2);  // another
  h.AddAssignedPartitions(-2);
  EXPECT_TRUE(h.Ready(0).ok);
  h.AddAssignedPartitions(-2);
  EXPECT_FALSE(h.Ready(0).ok);
  EXPECT_THAT(h.Ready(0).reason, HasSubstr("no partitions"));
}

TEST(HealthTest, UnreachableBrokersMakeItUnreadyButAlive) {
  Health h;
  h.AddAssignedPartitions(1);
  EXPECT_TRUE(h.Ready(0).ok);
  h.SetBrokersReachable(false);
  EXPECT_FALSE(h.Ready(0).ok);
  EXPECT_THAT(h.Ready(0).reason, HasSubstr("broker"));
  EXPECT_TRUE(h.Alive().ok);
  h.SetBrokersReachable(true);
  EXPECT_TRUE(h.Ready(0).ok);
}

// Before librdkafka's first report, an instance without partitions does
// not claim that brokers are fine.
TEST(HealthTest, WithoutPartitionsSaysWhetherABrokerAnswered) {
  Health h;
  EXPECT_EQ(h.Ready(0).reason,
            "no partitions assigned (no Kafka broker has answered yet)");
  h.SetBrokersReachable(false);
  EXPECT_EQ(h.Ready(0).reason, "no Kafka broker reachable");
  h.SetBrokersReachable(true);
  EXPECT_EQ(h.Ready(0).reason, "no partitions assigned");
}

// While start-up waits (e.g. for a missing events topic), /readyz says for
// what; once partitions are assigned the reason no longer matters.
TEST(HealthTest, WithoutPartitionsSaysWhatStartUpWaitsFor) {
  Health h;
  h.SetWaiting("topic t does not exist");
  EXPECT_FALSE(h.Ready(0).ok);
  EXPECT_EQ(h.Ready(0).reason, "topic t does not exist");
  h.SetWaiting("");
  EXPECT_EQ(h.Ready(0).reason,
            "no partitions assigned (no Kafka broker has answered yet)");
  h.SetWaiting("topic t does not exist");
  h.AddAssignedPartitions(1);
  EXPECT_TRUE(h.Ready(0).ok);
}

TEST(HealthTest, StoreErrorsAndFatalErrorsMakeItUnready) {
  Health h;
  h.AddAssignedPartitions(1);
  const int worker = 0;
  h.SetStoreError(&worker, "RESOURCE_EXHAUSTED: no space left on device");
  EXPECT_FALSE(h.Ready(0).ok);
  EXPECT_FALSE(h.StoreHealthy());
  EXPECT_THAT(h.Ready(0).reason, HasSubstr("no space left"));
  EXPECT_TRUE(h.Alive().ok);
  h.SetStoreError(&worker, "");  // its commit succeeded
  EXPECT_TRUE(h.StoreHealthy());
  EXPECT_TRUE(h.Ready(2).ok);

  h.SetFatal("kafka fatal: fenced");
  EXPECT_FALSE(h.Ready(3).ok);
  EXPECT_FALSE(h.Alive().ok);
  EXPECT_THAT(h.Alive().reason, HasSubstr("fenced"));
}

TEST(HealthTest, OneWorkersCommitDoesNotClearAnothersStoreError) {
  Health h;
  h.AddAssignedPartitions(2);
  const int stalled = 0, healthy = 0;
  h.SetStoreError(&stalled, "RESOURCE_EXHAUSTED: no space left on device");
  h.SetStoreError(&healthy, "");
  h.RecordCommit(1);
  EXPECT_FALSE(h.StoreHealthy());
  EXPECT_FALSE(h.Ready(2).ok);
  EXPECT_THAT(h.Ready(2).reason, HasSubstr("no space left"));
  h.SetStoreError(&healthy, "IO error: read-only file system");
  h.SetStoreError(&stalled, "");
  EXPECT_THAT(h.Ready(2).reason, HasSubstr("read-only"));
  h.SetStoreError(&healthy, "");
  EXPECT_TRUE(h.StoreHealthy());
  EXPECT_TRUE(h.Ready(3).ok);
}

}  // namespace
}  // namespace encore
