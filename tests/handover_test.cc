// Partition handover through the checkpoint store, on the real broker: a
// member is SIGKILLed mid-stream and replaced by one on an empty disk, then
// a second member joins and takes half the partitions; both restore what
// they lack from the store (file://) and replay the rest from Kafka. Every
// partition's final digest equals that of one uninterrupted run over the
// same events, and the store ends up holding the final state, which a
// reader host pulls (once, and following the store) into a snapshot
// directory with the clean run's content digest.
#include <signal.h>

#include <chrono>
#include <map>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "state/checkpoint_store.h"
#include "state/snapshot_reader.h"
#include "stream/event_generator.h"
#include "stream/event_producer.h"
#include "tests/testing/encore_runs.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

using ::encore::testing::IsOk;

constexpr int kPartitions = 4;

// Each partition's entry in the latest manifest of each snapshot dir that
// has it, the highest next offset winning (a member's latest snapshot holds
// only the partitions it owned then).
std::map<int32_t, PartitionManifest> Published(
    const std::vector<std::string>& snapshot_dirs) {
  std::map<int32_t, PartitionManifest> out;
  for (const std::string& dir : snapshot_dirs) {
    absl::StatusOr<SnapshotManifest> m = ReadLatestManifest(dir);
    if (!m.ok()) continue;
    for (const PartitionManifest& p : m->partitions()) {
      auto it = out.find(p.partition());
      if (it == out.end() || it->second.next_offset() < p.next_offset()) {
        out[p.partition()] = p;
      }
    }
  }
  return out;
}

int64_t OffsetSum(const std::map<int32_t, PartitionManifest>& parts) {
  int64_t sum = 0;
  for (const auto& [p, m] : parts) sum += std::max<int64_t>(m.next_offset(), 0);
  return sum;
}

bool WaitUntil(const std::function<bool()>& done, int timeout_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

TEST(HandoverTest, MembersRestoreFromTheStoreAndEndWithACleanRunsDigests) {
  testing::TempDir dir;
  const std::string topic = testing::UniqueName("handover");
  const std::string store_uri = "file://" + dir.Sub("store");
  auto producer =
      EventProducer::Open({testing::TestBrokers(), {}}, topic, kPartitions);
  ASSERT_THAT(producer, IsOk());
  EventGenerator gen(GeneratorOptions{.users = 4000, .seed = 11});
  int64_t produced = 0;
  auto produce = [&](int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_THAT((*producer)->Send(gen.Next()), IsOk());
    }
    ASSERT_THAT((*producer)->Flush(60'000), IsOk());
    produced += n;
  };

  auto checkpoints = std::make_unique<CheckpointStore>(
      std::move(*OpenObjectStore(store_uri)), topic);
  auto stored_sum = [&] {
    int64_t sum = 0;
    for (int32_t p = 0; p < kPartitions; ++p) {
      auto latest = checkpoints->Latest(p);
      if (!latest.ok() || !latest->has_value()) return int64_t{-1};
      sum += (*latest)->next_offset();
    }
    return sum;
  };

  // Member A (two workers) checkpoints to the store while events arrive,
  // and dies as it is about to upload its fifth snapshot: its last commits
  // are ahead of the store.
  const std::string group = testing::UniqueName("handover-group");
  testing::RunDirs a{topic,
                     group,
                     dir.Sub("a-state"),
                     dir.Sub("a-snap"),
                     dir.Sub("a.log"),
                     {"--checkpoint-store=" + store_uri, "--workers=2"}};
  produce(20'000);
  auto member_a = testing::ChildProcess::Start(
      testing::RunArgs(a), a.log,
      {{"ENCORE_TEST_CRASH_AT", "checkpoint-upload:5"}});
  ASSERT_THAT(member_a, IsOk());
  for (int i = 0; i < 30; ++i) {
    produce(1'000);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto killed = member_a->Wait(120'000);
  ASSERT_THAT(killed, IsOk());
  ASSERT_EQ(*killed, 128 + SIGKILL)
      << "A never reached its fifth upload; see " << a.log;
  const int64_t published_by_a = testing::PublishedOffsetSum(a.snapshot_dir);
  std::cerr << "A killed: published " << published_by_a << ", stored "
            << stored_sum() << " of " << produced << "\n";
  ASSERT_GT(stored_sum(), 0)
      << "some partition has no checkpoint; see " << a.log;
  ASSERT_LT(stored_sum(), published_by_a);

  // Its replacement B (same static member id, empty disk) takes every
  // partition back from the store. Members from here on start a partition
  // with no state at the end of the topic: without the store they would
  // silently miss everything before.
  const std::vector<std::string> with_store = {
      "--checkpoint-store=" + store_uri, "--reset=latest"};
  testing::RunDirs b{
      topic,     group, dir.Sub("b-state"), dir.Sub("b-snap"), dir.Sub("b.log"),
      with_store};
  auto member_b = testing::ChildProcess::Start(testing::RunArgs(b), b.log);
  ASSERT_THAT(member_b, IsOk());
  ASSERT_TRUE(testing::WaitForOffsetSum(b.snapshot_dir, produced, 120'000))
      << "see " << b.log;
  EXPECT_EQ(testing::CountInFile(b.log, "restored from"), kPartitions) << b.log;

  // C joins as a second member on an empty disk and takes some partitions
  // from B: their checkpoints are B's last uploads, behind B's last commits.
  testing::RunDirs c{
      topic,     group, dir.Sub("c-state"), dir.Sub("c-snap"), dir.Sub("c.log"),
      with_store};
  c.extra_args.push_back("--kafka-config=group.instance.id=" + group + "-c");
  auto member_c = testing::ChildProcess::Start(testing::RunArgs(c), c.log);
  ASSERT_THAT(member_c, IsOk());
  ASSERT_TRUE(WaitUntil(
      [&] { return testing::CountInFile(c.log, "restored from") > 0; },
      120'000))
      << "C restored nothing; see " << c.log;
  // A reader host follows the store meanwhile.
  const std::vector<std::string> pull = {"snapshot", "pull",
                                         "--checkpoint-store=" + store_uri,
                                         "--topic=" + topic};
  std::vector<std::string> follow_args = pull;
  follow_args.insert(
      follow_args.end(),
      {"--to=" + dir.Sub("followed"), "--follow", "--follow-interval-s=0.3"});
  auto follower =
      testing::ChildProcess::Start(follow_args, dir.Sub("follow.log"));
  ASSERT_THAT(follower, IsOk());
  produce(20'000);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return OffsetSum(Published({b.snapshot_dir, c.snapshot_dir})) ==
               produced;
      },
      120'000))
      << "B and C did not catch up; see " << b.log << " and " << c.log;
  member_c->Signal(SIGTERM);
  member_b->Signal(SIGTERM);
  auto code_c = member_c->Wait(60'000);
  auto code_b = member_b->Wait(60'000);
  ASSERT_THAT(code_c, IsOk());
  ASSERT_THAT(code_b, IsOk());
  EXPECT_EQ(*code_c, 0) << c.log;
  EXPECT_EQ(*code_b, 0) << b.log;

  // One uninterrupted member, no store, over the same events.
  testing::RunDirs clean{topic,
                         testing::UniqueName("clean"),
                         dir.Sub("clean-state"),
                         dir.Sub("clean-snap"),
                         dir.Sub("clean.log"),
                         {"--workers=1"}};
  auto code = testing::RunUntilCaughtUp(clean, produced);
  ASSERT_THAT(code, IsOk());
  ASSERT_EQ(*code, 0) << clean.log;
  auto reference = ReadLatestManifest(clean.snapshot_dir);
  ASSERT_THAT(reference, IsOk());
  ASSERT_EQ(reference->partitions_size(), kPartitions);

  // Pulled once, and followed: the same content as the clean run, whole.
  std::vector<std::string> once_args = pull;
  once_args.push_back("--to=" + dir.Sub("pulled"));
  auto pulled = testing::RunEncore(once_args, dir.Sub("pull.log"), 120'000);
  ASSERT_THAT(pulled, IsOk());
  ASSERT_EQ(*pulled, 0) << dir.Sub("pull.log");
  auto pulled_manifest = ReadLatestManifest(dir.Sub("pulled"));
  ASSERT_THAT(pulled_manifest, IsOk());
  EXPECT_EQ(pulled_manifest->content_digest(), reference->content_digest());
  EXPECT_EQ(pulled_manifest->user_count(), reference->user_count());
  auto verified = testing::RunEncore(
      {"snapshot", "verify", "--snapshot-dir=" + dir.Sub("pulled")},
      dir.Sub("verify.log"), 120'000);
  ASSERT_THAT(verified, IsOk());
  EXPECT_EQ(*verified, 0) << dir.Sub("verify.log");
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto m = ReadLatestManifest(dir.Sub("followed"));
        return m.ok() && m->content_digest() == reference->content_digest();
      },
      60'000))
      << "see " << dir.Sub("follow.log");
  follower->Signal(SIGTERM);
  auto follower_code = follower->Wait(30'000);
  ASSERT_THAT(follower_code, IsOk());
  EXPECT_EQ(*follower_code, 0);
  // It followed: more than one snapshot, later ones reusing local files.
  EXPECT_GE(testing::CountInFile(dir.Sub("follow.log"), "partition(s) pulled"),
            2);

  const std::map<int32_t, PartitionManifest> members =
      Published({b.snapshot_dir, c.snapshot_dir});
  ASSERT_EQ(members.size(), static_cast<size_t>(kPartitions));
  for (const PartitionManifest& want : reference->partitions()) {
    const PartitionManifest& got = members.at(want.partition());
    EXPECT_EQ(got.next_offset(), want.next_offset()) << want.partition();
    EXPECT_EQ(got.digest(), want.digest()) << "partition " << want.partition();
    EXPECT_EQ(got.users(), want.users()) << want.partition();
    // A clean stop uploads the final checkpoint: the store holds it.
    auto latest = checkpoints->Latest(want.partition());
    ASSERT_THAT(latest, IsOk());
    ASSERT_TRUE(latest->has_value());
    EXPECT_EQ((*latest)->next_offset(), want.next_offset());
    EXPECT_EQ((*latest)->digest(), want.digest());
  }
}

}  // namespace
}  // namespace encore
