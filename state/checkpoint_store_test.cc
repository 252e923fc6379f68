#include "state/checkpoint_store.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
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
  RestoreReport report;
  auto meta =
      RestoreIfNewer(*checkpoints_, *other, kPartition, nullptr, &report);
  ASSERT_THAT(meta.status(), IsOk());
  EXPECT_EQ(meta->next_offset(), -1);
  EXPECT_FALSE(report.restored.has_value());
}

TEST_F(CheckpointStoreTest, RestoresANewerCheckpointAndKeepsANewerLocalState) {
  auto [dir, part, snap] = CommitAndPublish(*store_, "a", 300, 100);
  ASSERT_THAT(checkpoints_->Upload(dir, part, snap, 5).status(), IsOk());

  // Another member with older local state of the partition.
  auto other = Open("state-b");
  ASSERT_THAT(other->OpenPartition(kPartition).status(), IsOk());
  UserRecord stale;
  stale.user_id = "stale";
  PartitionMeta old_meta;
  old_meta.set_topic("events");
  old_meta.set_partition(kPartition);
  old_meta.set_next_offset(40);
  ASSERT_THAT(other->Commit(kPartition, {&stale}, old_meta), IsOk());
  ASSERT_THAT(other->ClosePartition(kPartition), IsOk());

  RestoreReport report;
  auto meta =
      RestoreIfNewer(*checkpoints_, *other, kPartition, nullptr, &report);
  ASSERT_THAT(meta.status(), IsOk());
  EXPECT_EQ(meta->next_offset(), 100);
  ASSERT_TRUE(report.restored.has_value());
  EXPECT_EQ(report.restored->next_offset(), 100);
  EXPECT_TRUE(report.refused.empty());
  EXPECT_EQ(HexDigest(meta->content_digest()), part.digest());
  EXPECT_EQ(meta->users(), 300u);
  auto user = other->ReadUser(kPartition, "a7");
  ASSERT_THAT(user.status(), IsOk());
  ASSERT_TRUE(user->has_value());
  EXPECT_EQ((*user)->state.events, 8u);
  auto gone = other->ReadUser(kPartition, "stale");
  ASSERT_THAT(gone.status(), IsOk());
  EXPECT_FALSE(gone->has_value());
  // The restored state takes commits like any other.
  UserRecord next;
  next.user_id = "next";
  PartitionMeta next_meta = *meta;
  next_meta.set_next_offset(150);
  ASSERT_THAT(other->Commit(kPartition, {&next}, next_meta), IsOk());
  ASSERT_THAT(other->ClosePartition(kPartition), IsOk());

  // Now the local state is ahead of the store: it is kept.
  RestoreReport untouched;
  meta = RestoreIfNewer(*checkpoints_, *other, kPartition, nullptr, &untouched);
  ASSERT_THAT(meta.status(), IsOk());
  EXPECT_EQ(meta->next_offset(), 150);
  EXPECT_FALSE(untouched.restored.has_value());
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
  // Nothing is old enough yet.
  auto young = checkpoints_->Prune(kPartition, 2, 60'000);
  ASSERT_THAT(young.status(), IsOk());
  EXPECT_EQ(young->checkpoints_removed, 0);
  EXPECT_EQ(young->objects_removed, 0);

  // Ages are the store's: age everything by two hours, then one more
  // checkpoint is the store's "now".
  for (const auto& e :
       fs::recursive_directory_iterator(dir_.Sub("store/events"))) {
    if (e.is_regular_file()) {
      fs::last_write_time(e.path(),
                          e.last_write_time() - std::chrono::hours(2));
    }
  }
  auto [dir, part, snap] = CommitAndPublish(*store_, "u7-", 200, 700);
  auto seventh = checkpoints_->Upload(dir, part, snap, 5);
  ASSERT_THAT(seventh.status(), IsOk());
  auto pruned = checkpoints_->Prune(kPartition, 2, 60'000);
  ASSERT_THAT(pruned.status(), IsOk());
  // The claim's marker and the first five go; the sixth and seventh stay.
  EXPECT_EQ(pruned->checkpoints_removed, 6);
  EXPECT_GT(pruned->objects_removed, 0);  // older MANIFEST files at least
  EXPECT_EQ(FilesUnder(objects),
            before + seventh->files_sent - pruned->objects_removed);
  EXPECT_EQ(FilesUnder(dir_.Sub("store/events/p-00003/checkpoints")), 2);

  // What is left restores the latest state.
  auto other = Open("state-b");
  RestoreReport report;
  auto meta =
      RestoreIfNewer(*checkpoints_, *other, kPartition, nullptr, &report);
  ASSERT_THAT(meta.status(), IsOk());
  EXPECT_EQ(meta->next_offset(), 700);
  EXPECT_EQ(meta->users(), 1400u);

  // A former owner prunes nothing.
  ASSERT_THAT(NewCheckpoints()->Claim(kPartition, 9).status(), IsOk());
  EXPECT_THAT(checkpoints_->Prune(kPartition, 1, 0),
              StatusIs(absl::StatusCode::kAborted));
}

// Flips one byte in the middle of `path`.
void Damage(const std::string& path) {
  const uintmax_t size = fs::file_size(path);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(size / 2));
  char c = 0;
  f.read(&c, 1);
  f.seekp(static_cast<std::streamoff>(size / 2));
  c = static_cast<char>(c ^ 0x5a);
  f.write(&c, 1);
}

TEST_F(CheckpointStoreTest, DamagedLatestFallsBackToAnOlderCheckpoint) {
  auto first = CommitAndPublish(*store_, "a", 300, 100);
  ASSERT_THAT(
      checkpoints_->Upload(first.dir, first.part, first.snapshot, 5).status(),
      IsOk());
  auto first_checkpoint = checkpoints_->Latest(kPartition);
  ASSERT_THAT(first_checkpoint.status(), IsOk());
  auto second = CommitAndPublish(*store_, "b", 300, 200);
  ASSERT_THAT(checkpoints_->Upload(second.dir, second.part, second.snapshot, 6)
                  .status(),
              IsOk());
  // A new owner adopts the second under its epoch: the same objects.
  auto owner = NewCheckpoints();
  ASSERT_THAT(owner->Claim(kPartition, 7).status(), IsOk());
  auto latest = owner->Latest(kPartition);
  ASSERT_THAT(latest.status(), IsOk());
  ASSERT_TRUE(latest->has_value());
  // Damage an object only the second checkpoint names.
  absl::flat_hash_set<std::string> older;
  for (const CheckpointFile& f : (*first_checkpoint)->files()) {
    older.insert(f.object());
  }
  std::string only_newer;
  for (const CheckpointFile& f : (*latest)->files()) {
    if (!older.contains(f.object())) only_newer = f.object();
  }
  ASSERT_FALSE(only_newer.empty());
  Damage(dir_.Sub("store/events/p-00003/objects/" + only_newer));

  // No local state: the first checkpoint is restored instead. The damaged
  // one is reported once: its original under the former epoch names the
  // same objects and is not fetched again.
  auto fresh = Open("state-b");
  RestoreReport report;
  auto meta = RestoreIfNewer(*owner, *fresh, kPartition, nullptr, &report);
  ASSERT_THAT(meta.status(), IsOk());
  EXPECT_EQ(meta->next_offset(), 100);
  EXPECT_EQ(meta->users(), 300u);
  ASSERT_TRUE(report.restored.has_value());
  EXPECT_EQ(report.restored->next_offset(), 100);
  EXPECT_EQ(report.refused.size(), 1u);

  // A local state between the two is kept: Kafka replays the rest.
  auto between = Open("state-c");
  ASSERT_THAT(between->OpenPartition(kPartition).status(), IsOk());
  UserRecord u;
  u.user_id = "x";
  PartitionMeta m;
  m.set_topic("events");
  m.set_partition(kPartition);
  m.set_next_offset(150);
  ASSERT_THAT(between->Commit(kPartition, {&u}, m), IsOk());
  ASSERT_THAT(between->ClosePartition(kPartition), IsOk());
  RestoreReport kept;
  meta = RestoreIfNewer(*owner, *between, kPartition, nullptr, &kept);
  ASSERT_THAT(meta.status(), IsOk());
  EXPECT_EQ(meta->next_offset(), 150);
  EXPECT_FALSE(kept.restored.has_value());
  EXPECT_EQ(kept.refused.size(), 1u);
}

TEST_F(CheckpointStoreTest, CheckpointOfAnotherModelIsRefused) {
  auto [dir, part, snap] = CommitAndPublish(*store_, "a", 30, 100);
  ASSERT_THAT(checkpoints_->Upload(dir, part, snap, 5).status(), IsOk());
  ModelConfigProto same = snap.model();
  ModelConfigProto read_time = snap.model();
  read_time.set_linucb_alpha(read_time.linucb_alpha() + 1);
  ModelConfigProto other_model = snap.model();
  other_model.set_prior_alpha(other_model.prior_alpha() + 1);

  auto refusing = Open("state-b");
  RestoreReport report;
  EXPECT_THAT(RestoreIfNewer(*checkpoints_, *refusing, kPartition, &other_model,
                             &report),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_FALSE(report.restored.has_value());
  auto meta = refusing->OpenPartition(kPartition);
  ASSERT_THAT(meta.status(), IsOk());
  EXPECT_EQ(meta->next_offset(), -1);
  ASSERT_THAT(refusing->ClosePartition(kPartition), IsOk());

  // Parameters used only when reading may differ.
  for (const ModelConfigProto* model : {&same, &read_time}) {
    auto store = Open(absl::StrCat("state-", model == &same ? "c" : "d"));
    auto restored =
        RestoreIfNewer(*checkpoints_, *store, kPartition, model, nullptr);
    ASSERT_THAT(restored.status(), IsOk());
    EXPECT_EQ(restored->next_offset(), 100);
  }
}

TEST_F(CheckpointStoreTest, ClaimWithNothingToAdoptFencesAFormerOwner) {
  // Member A claimed (SetUp) a partition with no checkpoint; B claims it
  // too before A uploads anything.
  auto b = NewCheckpoints();
  ASSERT_THAT(b->Claim(kPartition, 2).status(), IsOk());
  auto [dir, part, snap] = CommitAndPublish(*store_, "a", 30, 100);
  EXPECT_THAT(checkpoints_->Upload(dir, part, snap, 5),
              StatusIs(absl::StatusCode::kAborted));
  // A write of A's already past its check when B claimed lands under A's
  // epoch: B's marker still sorts above it, so nothing is restored from it.
  const std::string checkpoints = dir_.Sub("store/events/p-00003/checkpoints");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(checkpoints)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  ASSERT_EQ(names.size(), 2u);  // A's marker and B's
  PartitionCheckpoint late;
  late.set_topic("events");
  late.set_partition(kPartition);
  late.set_next_offset(100);
  late.set_owner_epoch(1);
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(late, &json).ok());
  std::ofstream(checkpoints + "/" + absl::StrFormat("%020d-%020d.json", 1, 100))
      << json;
  auto latest = b->Latest(kPartition);
  ASSERT_THAT(latest.status(), IsOk());
  EXPECT_FALSE(latest->has_value());
  auto fresh = Open("state-b");
  auto meta = RestoreIfNewer(*b, *fresh, kPartition, nullptr, nullptr);
  ASSERT_THAT(meta.status(), IsOk());
  EXPECT_EQ(meta->next_offset(), -1);
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
  Damage(largest);

  // With no local state and no other checkpoint, nothing is restored:
  // starting from nothing would silently lose the partition's state.
  auto other = Open("state-b");
  RestoreReport report;
  EXPECT_THAT(
      RestoreIfNewer(*checkpoints_, *other, kPartition, nullptr, &report),
      StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(report.refused.size(), 1u);
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
  EXPECT_THAT(OpenObjectStore("s3:///no-bucket").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
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
