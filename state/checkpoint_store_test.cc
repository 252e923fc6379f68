#include "state/checkpoint_store.h"

#include <filesystem>
#include <fstream>
#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "state/digest.h"
#include "state/snapshot_publisher.h"
#include "state/state_store.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

namespace fs = std::filesystem;
using ::encore::testing::IsOk;
using ::encore::testing::StatusIs;
using ::encore::testing::TempDir;

constexpr int32_t kPartition = 3;

class CheckpointStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
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

  std::unique_ptr<CheckpointStore> NewCheckpoints() {
    auto objects = OpenObjectStore("file://" + dir_.Sub("store"));
    EXPECT_THAT(objects.status(), IsOk());
    return std::make_unique<CheckpointStore>(std::move(*objects), "events");
  }

  // Commits `users` users (ids prefixed) up to `next_offset` and
  // publishes a snapshot of the partition; returns its checkpoint's
  // directory and manifest entry.
  struct Published {
    std::string dir;
    PartitionManifest part;
    SnapshotManifest snapshot;
  };
  Published CommitAndPublish(StateStore& store, const std::string& prefix,
                             int users, int64_t next_offset) {
    EXPECT_THAT(store.OpenPartition(kPartition).status(), IsOk());
    std::vector<UserState> states(static_cast<size_t>(users));
    std::vector<const UserState*> pointers;
    for (int i = 0; i < users; ++i) {
      states[static_cast<size_t>(i)].set_user_id(prefix + std::to_string(i));
      states[static_cast<size_t>(i)].set_events(static_cast<uint64_t>(i + 1));
      pointers.push_back(&states[static_cast<size_t>(i)]);
    }
    PartitionMeta meta;
    meta.set_topic("events");
    meta.set_partition(kPartition);
    meta.set_next_offset(next_offset);
    meta.set_watermark_ms(1000 + next_offset);
    EXPECT_THAT(store.Commit(kPartition, pointers, meta), IsOk());
    auto manifest = publisher_->Publish(store, "events", {meta}, {});
    EXPECT_THAT(manifest.status(), IsOk());
    const PartitionManifest& part = manifest->partitions(0);
    return {absl::StrCat(dir_.Sub("snap"), "/",
                         SnapshotDirName(manifest->snapshot_id()), "/",
                         part.directory()),
            part, *manifest};
  }

  TempDir dir_;
  FakeClock clock_{1'700'000'000'000};
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<SnapshotPublisher> publisher_;
  std::unique_ptr<CheckpointStore> checkpoints_;
};

TEST_F(CheckpointStoreTest, UploadsOnlyWhatTheStoreLacks) {
  auto [first_dir, first, first_snap] =
      CommitAndPublish(*store_, "a", 500, 100);
  auto sent = checkpoints_->Upload(first_dir, first, first_snap, 5);
  ASSERT_THAT(sent.status(), IsOk());
  EXPECT_GT(sent->files, 2);  // SST, MANIFEST, CURRENT, OPTIONS...
  EXPECT_EQ(sent->files_sent, sent->files);
  EXPECT_EQ(sent->bytes_sent, sent->bytes);

  // The second checkpoint shares the first one's SST file.
  auto [second_dir, second, second_snap] =
      CommitAndPublish(*store_, "b", 500, 200);
  sent = checkpoints_->Upload(second_dir, second, second_snap, 6);
  ASSERT_THAT(sent.status(), IsOk());
  EXPECT_LT(sent->files_sent, sent->files);
  EXPECT_LT(sent->bytes_sent, sent->bytes);

  // An older checkpoint is never the latest.
  ASSERT_THAT(checkpoints_->Upload(first_dir, first, first_snap, 8).status(),
              IsOk());
  auto latest = checkpoints_->Latest(kPartition);
  ASSERT_THAT(latest.status(), IsOk());
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->next_offset(), 200);
  EXPECT_EQ((*latest)->digest(), second.digest());
  EXPECT_EQ((*latest)->users(), 1000u);
  EXPECT_EQ((*latest)->total_bytes(), sent->bytes);
  EXPECT_EQ((*latest)->owner_epoch(), 1u);
  EXPECT_EQ((*latest)->snapshot_id(), second_snap.snapshot_id());
  EXPECT_EQ((*latest)->model().SerializeAsString(),
            second_snap.model().SerializeAsString());

  // Another process claims the partition: the latest checkpoint is its
  // own at once, it finds every object in the store, and the former owner
  // is fenced.
  auto other = NewCheckpoints();
  auto epoch = other->Claim(kPartition, 9);
  ASSERT_THAT(epoch.status(), IsOk());
  EXPECT_EQ(*epoch, 2u);
  latest = checkpoints_->Latest(kPartition);
  ASSERT_THAT(latest.status(), IsOk());
  EXPECT_EQ((*latest)->owner_epoch(), 2u);
  EXPECT_EQ((*latest)->next_offset(), 200);
  auto again = other->Upload(second_dir, second, second_snap, 10);
  ASSERT_THAT(again.status(), IsOk());
  EXPECT_EQ(again->files_sent, 0);
  EXPECT_THAT(checkpoints_->Upload(second_dir, second, second_snap, 11),
              StatusIs(absl::StatusCode::kAborted));
  auto third = CommitAndPublish(*store_, "c", 10, 300);
  EXPECT_THAT(checkpoints_->Upload(third.dir, third.part, third.snapshot, 12),
              StatusIs(absl::StatusCode::kAborted));
  latest = other->Latest(kPartition);
  ASSERT_THAT(latest.status(), IsOk());
  EXPECT_EQ((*latest)->owner_epoch(), 2u);
  EXPECT_EQ((*latest)->next_offset(), 200);
  EXPECT_THAT(NewCheckpoints()->Upload(second_dir, second, second_snap, 13),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  auto partitions = checkpoints_->Partitions();
  ASSERT_THAT(partitions.status(), IsOk());
  EXPECT_THAT(*partitions, ::testing::ElementsAre(kPartition));

  // A download next to an older copy fetches only the SST files it lacks;
  // either way the files make the checkpoint's database.
  auto fetched = checkpoints_->Download(**latest, dir_.Sub("near"), first_dir);
  ASSERT_THAT(fetched.status(), IsOk());
  EXPECT_EQ(fetched->files, sent->files);
  EXPECT_GT(fetched->files_fetched, 0);
  EXPECT_LT(fetched->files_fetched, fetched->files);
  auto all = checkpoints_->Download(**latest, dir_.Sub("far"));
  ASSERT_THAT(all.status(), IsOk());
  EXPECT_EQ(all->files_fetched, all->files);
  EXPECT_EQ(all->bytes_fetched, sent->bytes);
  for (const char* copy : {"near", "far"}) {
    auto digest = DigestDatabase(dir_.Sub(copy));
    ASSERT_THAT(digest.status(), IsOk());
    EXPECT_EQ(HexDigest(digest->digest), second.digest()) << copy;
  }
}

TEST_F(CheckpointStoreTest, NoCheckpointMeansTheLocalState) {
  auto other = Open("state-b");
  std::optional<PartitionCheckpoint> restored;
  auto meta = RestoreIfNewer(*checkpoints_, *other, kPartition, &restored);
  ASSERT_THAT(meta.status(), IsOk());
  EXPECT_EQ(meta->next_offset(), -1);
  EXPECT_FALSE(restored.has_value());
}

TEST_F(CheckpointStoreTest, RestoresANewerCheckpointAndKeepsANewerLocalState) {
  auto [dir, part, snap] = CommitAndPublish(*store_, "a", 300, 100);
  ASSERT_THAT(checkpoints_->Upload(dir, part, snap, 5).status(), IsOk());

  // Another member with older local state of the partition.
  auto other = Open("state-b");
  ASSERT_THAT(other->OpenPartition(kPartition).status(), IsOk());
  UserState stale;
  stale.set_user_id("stale");
  PartitionMeta old_meta;
  old_meta.set_topic("events");
  old_meta.set_partition(kPartition);
  old_meta.set_next_offset(40);
  ASSERT_THAT(other->Commit(kPartition, {&stale}, old_meta), IsOk());
  ASSERT_THAT(other->ClosePartition(kPartition), IsOk());

  std::optional<PartitionCheckpoint> restored;
  auto meta = RestoreIfNewer(*checkpoints_, *other, kPartition, &restored);
  ASSERT_THAT(meta.status(), IsOk());
  EXPECT_EQ(meta->next_offset(), 100);
  ASSERT_TRUE(restored.has_value());
  EXPECT_EQ(restored->next_offset(), 100);
  EXPECT_EQ(HexDigest(meta->content_digest()), part.digest());
  EXPECT_EQ(meta->users(), 300u);
  auto user = other->ReadUser(kPartition, "a7");
  ASSERT_THAT(user.status(), IsOk());
  ASSERT_TRUE(user->has_value());
  EXPECT_EQ((*user)->state.events(), 8u);
  auto gone = other->ReadUser(kPartition, "stale");
  ASSERT_THAT(gone.status(), IsOk());
  EXPECT_FALSE(gone->has_value());
  // The restored state takes commits like any other.
  UserState next;
  next.set_user_id("next");
  PartitionMeta next_meta = *meta;
  next_meta.set_next_offset(150);
  ASSERT_THAT(other->Commit(kPartition, {&next}, next_meta), IsOk());
  ASSERT_THAT(other->ClosePartition(kPartition), IsOk());

  // Now the local state is ahead of the store: it is kept.
  std::optional<PartitionCheckpoint> untouched;
  meta = RestoreIfNewer(*checkpoints_, *other, kPartition, &untouched);
  ASSERT_THAT(meta.status(), IsOk());
  EXPECT_EQ(meta->next_offset(), 150);
  EXPECT_FALSE(untouched.has_value());
  EXPECT_EQ(meta->users(), 301u);
}

int FilesUnder(const std::string& dir) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    n += e.is_regular_file();
  }
  return n;
}

TEST_F(CheckpointStoreTest, PruneKeepsTheNewestAndWhatTheyNeed) {
  for (int i = 1; i <= 6; ++i) {
    auto [dir, part, snap] =
        CommitAndPublish(*store_, absl::StrCat("u", i, "-"), 200, 100 * i);
    ASSERT_THAT(checkpoints_->Upload(dir, part, snap, 5).status(), IsOk());
  }
  const std::string objects = dir_.Sub("store/events/p-00003/objects");
  const int before = FilesUnder(objects);
  // Nothing is old enough yet (the files' times are the real clock's).
  const int64_t now = SystemClock()->NowMs();
  auto young = checkpoints_->Prune(kPartition, 2, 60'000, now);
  ASSERT_THAT(young.status(), IsOk());
  EXPECT_EQ(young->checkpoints_removed, 0);
  EXPECT_EQ(young->objects_removed, 0);

  auto pruned = checkpoints_->Prune(kPartition, 2, 60'000, now + 3'600'000);
  ASSERT_THAT(pruned.status(), IsOk());
  EXPECT_EQ(pruned->checkpoints_removed, 4);
  EXPECT_GT(pruned->objects_removed, 0);  // older MANIFEST files at least
  EXPECT_EQ(FilesUnder(objects), before - pruned->objects_removed);
  EXPECT_EQ(FilesUnder(dir_.Sub("store/events/p-00003/checkpoints")), 2);

  // What is left restores the latest state.
  auto other = Open("state-b");
  std::optional<PartitionCheckpoint> restored;
  auto meta = RestoreIfNewer(*checkpoints_, *other, kPartition, &restored);
  ASSERT_THAT(meta.status(), IsOk());
  EXPECT_EQ(meta->next_offset(), 600);
  EXPECT_EQ(meta->users(), 1200u);
}

TEST_F(CheckpointStoreTest, DamagedObjectIsRefusedAndLocalStateKept) {
  auto [dir, part, snap] = CommitAndPublish(*store_, "a", 300, 100);
  ASSERT_THAT(checkpoints_->Upload(dir, part, snap, 5).status(), IsOk());
  // Flip one byte of the largest object (the SST file).
  std::string largest;
  uintmax_t size = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir_.Sub("store"))) {
    if (e.is_regular_file() && e.file_size() > size) {
      size = e.file_size();
      largest = e.path().string();
    }
  }
  ASSERT_FALSE(largest.empty());
  {
    std::fstream f(largest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    char c = 0;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(size / 2));
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }

  auto other = Open("state-b");
  std::optional<PartitionCheckpoint> restored;
  EXPECT_THAT(RestoreIfNewer(*checkpoints_, *other, kPartition, &restored),
              StatusIs(absl::StatusCode::kDataLoss));
  // Nothing replaced: the partition is open, empty, as it was.
  auto meta = other->OpenPartition(kPartition);
  ASSERT_THAT(meta.status(), IsOk());
  EXPECT_EQ(meta->next_offset(), -1);
  EXPECT_FALSE(fs::exists(dir_.Sub("state-b/partitions/.restore-p-00003")));
}

TEST(ObjectStoreTest, Uris) {
  EXPECT_THAT(OpenObjectStore("file://relative/path").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(OpenObjectStore("/no/scheme").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(OpenObjectStore("s3://bucket/prefix").status(),
              StatusIs(absl::StatusCode::kUnimplemented));
}

TEST(ObjectStoreTest, FileStorePutGet) {
  TempDir dir;
  auto store = OpenObjectStore("file://" + dir.path() + "/objects/");
  ASSERT_THAT(store.status(), IsOk());
  EXPECT_EQ((*store)->Describe(), "file://" + dir.path() + "/objects");
  EXPECT_THAT((*store)->Get("a/b").status(),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT((*store)->Put("a/b", "one"), IsOk());
  ASSERT_THAT((*store)->Put("a/b", "two"), IsOk());
  auto got = (*store)->Get("a/b");
  ASSERT_THAT(got.status(), IsOk());
  EXPECT_EQ(*got, "two");
  auto exists = (*store)->Exists("a/b");
  ASSERT_THAT(exists.status(), IsOk());
  EXPECT_TRUE(*exists);
  ASSERT_THAT((*store)->GetFile("a/b", dir.Sub("copy")), IsOk());
  ASSERT_THAT((*store)->PutFile("c", dir.Sub("copy")), IsOk());
  EXPECT_EQ(*(*store)->Get("c"), "two");
  ASSERT_THAT((*store)->PutIfAbsent("d/e", "first"), IsOk());
  EXPECT_THAT((*store)->PutIfAbsent("d/e", "second"),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(*(*store)->Get("d/e"), "first");
  auto listed = (*store)->List("d");
  ASSERT_THAT(listed.status(), IsOk());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "e");
  ASSERT_THAT((*store)->Delete("d/e"), IsOk());
  ASSERT_THAT((*store)->Delete("d/e"), IsOk());  // gone already: fine
  EXPECT_THAT((*store)->Get("d/e").status(),
              StatusIs(absl::StatusCode::kNotFound));
  // No temporary files are left behind.
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir.Sub("objects"))) {
    files += e.is_regular_file();
  }
  EXPECT_EQ(files, 2);
}

}  // namespace
}  // namespace encore
