// The checkpoint store's behaviour (state/checkpoint_store_test.cc runs it
// on file://) on an s3:// object store: the real S3-compatible server of
// the ctest fixture `s3`. What differs on S3 is under test here: exclusive
// claims through If-None-Match, listing through ListObjectsV2, objects
// streamed up and down.
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "state/checkpoint_store.h"
#include "state/clock.h"
#include "state/digest.h"
#include "state/snapshot_publisher.h"
#include "state/state_store.h"
#include "tests/testing/s3_env.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

using ::encore::testing::HaveTestS3;
using ::encore::testing::IsOk;
using ::encore::testing::StatusIs;
using ::encore::testing::TempDir;

constexpr int32_t kPartition = 3;

class CheckpointStoreS3Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveTestS3()) {
      GTEST_SKIP() << "needs the S3 server of the ctest fixture "
                      "(ENCORE_TEST_S3_URI)";
    }
    uri_ = ::encore::testing::UniqueS3Uri(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    store_ = Open("state-a");
    auto publisher = SnapshotPublisher::Open({dir_.Sub("snap"), 5}, &clock_);
    ASSERT_THAT(publisher.status(), IsOk());
    publisher_ = std::move(*publisher);
    checkpoints_ = NewCheckpoints();
    ASSERT_THAT(checkpoints_->Claim(kPartition, 1).status(), IsOk());
  }

  std::unique_ptr<StateStore> Open(const std::string& name) {
    auto store = OpenRocksStateStore(dir_.Sub(name), "events", {});
    EXPECT_THAT(store.status(), IsOk());
    return std::move(*store);
  }

  std::unique_ptr<ObjectStore> Objects() {
    auto objects = OpenObjectStore(uri_);
    EXPECT_THAT(objects.status(), IsOk());
    return std::move(*objects);
  }

  std::unique_ptr<CheckpointStore> NewCheckpoints() {
    return std::make_unique<CheckpointStore>(Objects(), "events");
  }

  // The names directly under `prefix` in the store.
  size_t Count(const std::string& prefix) {
    auto entries = Objects()->List(prefix);
    EXPECT_THAT(entries.status(), IsOk());
    return entries.ok() ? entries->size() : 0;
  }

  struct Published {
    std::string dir;
    PartitionManifest part;
    SnapshotManifest snapshot;
  };
  // Commits `users` users (ids prefixed) up to `next_offset` and publishes
  // a snapshot of the partition.
  Published CommitAndPublish(const std::string& prefix, int users,
                             int64_t next_offset) {
    EXPECT_THAT(store_->OpenPartition(kPartition).status(), IsOk());
    std::vector<UserRecord> states(static_cast<size_t>(users));
    std::vector<const UserRecord*> pointers;
    for (int i = 0; i < users; ++i) {
      states[static_cast<size_t>(i)].user_id = prefix + std::to_string(i);
      states[static_cast<size_t>(i)].events = static_cast<uint64_t>(i + 1);
      pointers.push_back(&states[static_cast<size_t>(i)]);
    }
    PartitionMeta meta;
    meta.set_topic("events");
    meta.set_partition(kPartition);
    meta.set_next_offset(next_offset);
    meta.set_watermark_ms(1000 + next_offset);
    EXPECT_THAT(store_->Commit(kPartition, pointers, meta), IsOk());
    auto manifest = publisher_->Publish(*store_, "events", {meta}, {});
    EXPECT_THAT(manifest.status(), IsOk());
    const PartitionManifest& part = manifest->partitions(0);
    return {absl::StrCat(dir_.Sub("snap"), "/",
                         SnapshotDirName(manifest->snapshot_id()), "/",
                         part.directory()),
            part, *manifest};
  }

  TempDir dir_;
  std::string uri_;
  FakeClock clock_{1'700'000'000'000};
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<SnapshotPublisher> publisher_;
  std::unique_ptr<CheckpointStore> checkpoints_;
};

TEST_F(CheckpointStoreS3Test, UploadFenceAndDownload) {
  auto first = CommitAndPublish("a", 500, 100);
  ASSERT_OK_AND_ASSIGN(
      CheckpointUploadStats sent,
      checkpoints_->Upload(first.dir, first.part, first.snapshot, 5));
  EXPECT_GT(sent.files, 2);
  EXPECT_EQ(sent.files_sent, sent.files);
  const size_t manifests = Count("events/p-00003/checkpoints");

  // The second checkpoint shares the first one's SST file.
  auto second = CommitAndPublish("b", 500, 200);
  ASSERT_OK_AND_ASSIGN(
      sent, checkpoints_->Upload(second.dir, second.part, second.snapshot, 6));
  EXPECT_LT(sent.files_sent, sent.files);
  EXPECT_EQ(Count("events/p-00003/checkpoints"), manifests + 1);

  // Another member claims the partition: the former owner is fenced.
  auto other = NewCheckpoints();
  ASSERT_OK_AND_ASSIGN(uint64_t epoch, other->Claim(kPartition, 9));
  EXPECT_EQ(epoch, 2u);
  EXPECT_EQ(Count("events/p-00003/owners"), 2u);
  EXPECT_THAT(
      checkpoints_->Upload(second.dir, second.part, second.snapshot, 11),
      StatusIs(absl::StatusCode::kAborted));
  ASSERT_OK_AND_ASSIGN(auto latest, other->Latest(kPartition));
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->owner_epoch(), 2u);
  EXPECT_EQ(latest->next_offset(), 200);
  ASSERT_OK_AND_ASSIGN(auto partitions, other->Partitions());
  EXPECT_THAT(partitions, ::testing::ElementsAre(kPartition));

  // Downloads, beside an older copy or not, make the checkpoint's database.
  ASSERT_OK_AND_ASSIGN(CheckpointDownloadStats near,
                       other->Download(*latest, dir_.Sub("near"), first.dir));
  EXPECT_LT(near.files_fetched, near.files);
  ASSERT_OK_AND_ASSIGN(CheckpointDownloadStats far,
                       other->Download(*latest, dir_.Sub("far")));
  EXPECT_EQ(far.files_fetched, far.files);
  EXPECT_EQ(far.bytes_fetched, sent.bytes);
  for (const char* copy : {"near", "far"}) {
    ASSERT_OK_AND_ASSIGN(PartitionDigest digest,
                         DigestDatabase(dir_.Sub(copy)));
    EXPECT_EQ(HexDigest(digest.digest), second.part.digest()) << copy;
  }
}

TEST_F(CheckpointStoreS3Test, RacingClaimsGetDistinctEpochs) {
  constexpr int kClaimers = 4;
  std::vector<std::unique_ptr<CheckpointStore>> claimers;
  for (int i = 0; i < kClaimers; ++i) claimers.push_back(NewCheckpoints());
  std::vector<absl::StatusOr<uint64_t>> epochs(kClaimers, 0);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClaimers; ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < kClaimers) {
      }
      epochs[i] = claimers[i]->Claim(kPartition, 10);
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<uint64_t> distinct;
  for (const auto& epoch : epochs) {
    ASSERT_THAT(epoch.status(), IsOk());
    distinct.insert(*epoch);
  }
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kClaimers));
  EXPECT_EQ(*distinct.begin(), 2u);  // the fixture's claim is epoch 1
}

TEST_F(CheckpointStoreS3Test, RestoreAndPrune) {
  for (int i = 1; i <= 4; ++i) {
    auto p = CommitAndPublish(absl::StrCat("u", i, "-"), 200, 100 * i);
    ASSERT_THAT(checkpoints_->Upload(p.dir, p.part, p.snapshot, 5).status(),
                IsOk());
  }
  // Nothing is old enough yet.
  ASSERT_OK_AND_ASSIGN(auto young, checkpoints_->Prune(kPartition, 2, 60'000));
  EXPECT_EQ(young.checkpoints_removed, 0);
  EXPECT_EQ(young.objects_removed, 0);

  // Ages are the store's (LastModified, whole seconds on S3Proxy): a
  // checkpoint written a second later makes the others older than 0 ms.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto fifth = CommitAndPublish("u5-", 200, 500);
  ASSERT_OK_AND_ASSIGN(
      CheckpointUploadStats sent,
      checkpoints_->Upload(fifth.dir, fifth.part, fifth.snapshot, 6));
  const size_t objects = Count("events/p-00003/objects");
  ASSERT_OK_AND_ASSIGN(auto pruned, checkpoints_->Prune(kPartition, 2, 0));
  EXPECT_GT(pruned.checkpoints_removed, 0);
  EXPECT_GT(pruned.objects_removed, 0);  // older MANIFEST files at least
  EXPECT_EQ(Count("events/p-00003/objects"),
            objects - static_cast<size_t>(pruned.objects_removed));
  EXPECT_EQ(Count("events/p-00003/checkpoints"), 2u);
  EXPECT_GT(sent.files_sent, 0);

  // What is left restores the latest state on a member without any.
  auto other = Open("state-b");
  RestoreReport report;
  ASSERT_OK_AND_ASSIGN(PartitionMeta meta,
                       RestoreIfNewer(*checkpoints_, *other, kPartition,
                                      /*model=*/nullptr, &report));
  ASSERT_TRUE(report.restored.has_value());
  EXPECT_TRUE(report.refused.empty());
  EXPECT_EQ(meta.next_offset(), 500);
  EXPECT_EQ(meta.users(), 1000u);

  // A former owner prunes nothing.
  ASSERT_THAT(NewCheckpoints()->Claim(kPartition, 9).status(), IsOk());
  EXPECT_THAT(checkpoints_->Prune(kPartition, 1, 0),
              StatusIs(absl::StatusCode::kAborted));
}

}  // namespace
}  // namespace encore
