#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "state/digest.h"
#include "state/file_util.h"
#include "state/partitioner.h"
#include "state/population.h"
#include "state/snapshot_publisher.h"
#include "state/snapshot_reader.h"
#include "state/state_store.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

using ::encore::testing::IsOk;
using ::encore::testing::StatusIs;
using ::encore::testing::TempDir;
namespace fs = std::filesystem;

UserState User(const std::string& id, uint64_t events) {
  UserState u;
  u.set_user_id(id);
  u.set_events(events);
  u.set_first_seen_ms(1000);
  return u;
}

// The store takes users as UserRecords; these tests build the stored form
// they read back.
absl::Status CommitStates(StateStore& store, int32_t partition,
                          const std::vector<const UserState*>& states,
                          const PartitionMeta& meta) {
  std::vector<UserRecord> records;
  records.reserve(states.size());
  for (const UserState* s : states) records.push_back(FromProto(*s));
  std::vector<const UserRecord*> users;
  for (const UserRecord& r : records) users.push_back(&r);
  return store.Commit(partition, users, meta);
}

PartitionMeta Meta(int32_t p, int64_t next_offset) {
  PartitionMeta m;
  m.set_partition(p);
  m.set_next_offset(next_offset);
  m.set_watermark_ms(5000 + p);
  return m;
}

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = OpenRocksStateStore(dir_.Sub("state"), "events", {});
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
    auto publisher = SnapshotPublisher::Open({dir_.Sub("snap"), 3}, &clock_);
    ASSERT_THAT(publisher, IsOk());
    publisher_ = std::move(*publisher);
  }

  TempDir dir_;
  FakeClock clock_{1'750'000'000'000};
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<SnapshotPublisher> publisher_;
};

TEST_F(SnapshotTest, NothingPublishedIsNotFound) {
  EXPECT_THAT(SnapshotReader::OpenLatest(dir_.Sub("snap")),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SnapshotTest, PublishesCommittedStateAndReadsItBack) {
  ASSERT_THAT(store_->OpenPartition(0), IsOk());
  ASSERT_THAT(store_->OpenPartition(1), IsOk());
  UserState a = User("alice", 3), b = User("bob", 4), c = User("carol", 5);
  ASSERT_THAT(CommitStates(*store_, 0, {&a, &b}, Meta(0, 10)), IsOk());
  ASSERT_THAT(CommitStates(*store_, 1, {&c}, Meta(1, 20)), IsOk());

  auto manifest =
      publisher_->Publish(*store_, "events", {Meta(0, 10), Meta(1, 20)}, {});
  ASSERT_THAT(manifest, IsOk());
  EXPECT_EQ(manifest->snapshot_id(), 1u);
  EXPECT_EQ(manifest->user_count(), 3u);
  EXPECT_EQ(manifest->watermark_ms(), 5000);
  EXPECT_EQ(manifest->created_at_ms(), 1'750'000'000'000);
  ASSERT_EQ(manifest->partitions_size(), 2);
  EXPECT_EQ(manifest->partitions(1).next_offset(), 20);
  EXPECT_EQ(manifest->partitions(1).users(), 1u);

  auto reader = SnapshotReader::OpenLatest(dir_.Sub("snap"));
  ASSERT_THAT(reader, IsOk());
  EXPECT_EQ((*reader)->manifest().content_digest(), manifest->content_digest());
  auto found = (*reader)->Lookup("carol");
  ASSERT_THAT(found, IsOk());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->events(), 5u);
  auto missing = (*reader)->Lookup("dave");
  ASSERT_THAT(missing, IsOk());
  EXPECT_FALSE(missing->has_value());
}

TEST_F(SnapshotTest, DigestDependsOnContentOnly) {
  ASSERT_THAT(store_->OpenPartition(0), IsOk());
  UserState a = User("alice", 3);
  ASSERT_THAT(CommitStates(*store_, 0, {&a}, Meta(0, 10)), IsOk());
  auto first = publisher_->Publish(*store_, "events", {Meta(0, 10)}, {});
  clock_.AdvanceMs(60'000);
  // Into another directory (this one would not republish equal content).
  auto elsewhere = SnapshotPublisher::Open({dir_.Sub("snap2"), 3}, &clock_);
  ASSERT_THAT(elsewhere, IsOk());
  auto second = (*elsewhere)->Publish(*store_, "events", {Meta(0, 10)}, {});
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_NE(first->created_at_ms(), second->created_at_ms());
  EXPECT_EQ(first->content_digest(), second->content_digest());

  a.set_events(4);
  ASSERT_THAT(CommitStates(*store_, 0, {&a}, Meta(0, 11)), IsOk());
  auto third = publisher_->Publish(*store_, "events", {Meta(0, 11)}, {});
  ASSERT_THAT(third, IsOk());
  EXPECT_NE(third->content_digest(), second->content_digest());
}

TEST_F(SnapshotTest, KeepsTheNewestAndCleansUnfinished) {
  ASSERT_THAT(store_->OpenPartition(0), IsOk());
  for (int i = 1; i <= 5; ++i) {
    UserState a = User("alice", i);
    ASSERT_THAT(CommitStates(*store_, 0, {&a}, Meta(0, i)), IsOk());
    ASSERT_THAT(publisher_->Publish(*store_, "events", {Meta(0, i)}, {}),
                IsOk());
  }
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_.Sub("snap"))) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_THAT(names,
              ::testing::ElementsAre("LATEST", SnapshotDirName(3),
                                     SnapshotDirName(4), SnapshotDirName(5)));

  // A crash mid-publication leaves a temporary directory; reopening removes
  // it and continues the id sequence.
  fs::create_directories(dir_.Sub("snap/.tmp-snap-6/p-00000"));
  auto reopened = SnapshotPublisher::Open({dir_.Sub("snap"), 3}, &clock_);
  ASSERT_THAT(reopened, IsOk());
  EXPECT_FALSE(fs::exists(dir_.Sub("snap/.tmp-snap-6")));
  UserState a = User("alice", 6);
  ASSERT_THAT(CommitStates(*store_, 0, {&a}, Meta(0, 6)), IsOk());
  auto next = (*reopened)->Publish(*store_, "events", {Meta(0, 6)}, {});
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->snapshot_id(), 6u);
}

// A snapshot taken while a writer commits: each checkpoint holds one commit
// whole, and the manifest describes exactly that commit (its metadata and
// aggregates are read back from the checkpoint).
TEST_F(SnapshotTest, ACheckpointWhileCommittingHoldsOneCommitWhole) {
  ASSERT_THAT(store_->OpenPartition(0), IsOk());
  auto commit = [&](int64_t k) {
    const UserRecord alice = FromProto(User("alice", k)),
                     other = FromProto(User(absl::StrCat("u", k), k));
    ArmAggregate arm;
    arm.set_arm_id("shelf");
    arm.set_rewards(k);
    CommitBatch batch;
    batch.users = {&alice, &other};
    batch.aggregates = {&arm};
    batch.meta = Meta(0, k);
    return store_->Commit(0, batch);
  };
  ASSERT_THAT(commit(1), IsOk());
  std::atomic<bool> done{false};
  std::atomic<int64_t> committed{1};
  std::thread writer([&] {
    for (int64_t k = 2; k < 100000 && !done.load(); ++k) {  // bounded
      if (!commit(k).ok()) return;
      committed = k;
    }
  });
  std::vector<int64_t> offsets;
  for (int i = 0; i < 5; ++i) {
    store_->StartFlush();  // as the engine does ahead of a snapshot
    auto prepared = publisher_->Checkpoint({{store_.get(), Meta(0, 0)}});
    ASSERT_THAT(prepared, IsOk());
    ASSERT_EQ(prepared->metas.size(), 1u);
    const int64_t k = prepared->metas[0].next_offset();
    ASSERT_EQ(prepared->aggregates.size(), 1u);
    EXPECT_EQ(prepared->aggregates[0].rewards(), static_cast<uint64_t>(k));
    const ModelConfig model;
    Population population;
    for (const ArmAggregate& a : prepared->aggregates) {
      AddToPopulation(model, a, &population);
    }
    auto manifest = publisher_->Complete(
        *prepared, "events", model,
        SummarizeOffPolicy(model, population, MetasWatermark(prepared->metas)));
    ASSERT_THAT(manifest, IsOk());
    EXPECT_EQ(manifest->partitions(0).next_offset(), k);
    EXPECT_EQ(manifest->user_count(), static_cast<uint64_t>(k + 1));
    const std::string snap =
        dir_.Sub("snap") + "/" + SnapshotDirName(manifest->snapshot_id());
    EXPECT_THAT(VerifySnapshot(snap), IsOk());
    auto reader = SnapshotReader::Open(snap);
    ASSERT_THAT(reader, IsOk());
    auto alice = (*reader)->Lookup("alice");
    ASSERT_THAT(alice, IsOk());
    ASSERT_TRUE(alice->has_value());
    EXPECT_EQ((*alice)->events(), static_cast<uint64_t>(k));
    offsets.push_back(k);
  }
  done = true;
  writer.join();
  EXPECT_GT(committed.load(), 1);
  EXPECT_TRUE(std::is_sorted(offsets.begin(), offsets.end()));
}

TEST_F(SnapshotTest, ACheckpointReadsBackAPartitionNeverCommitted) {
  ASSERT_THAT(store_->OpenPartition(0), IsOk());
  ASSERT_THAT(store_->OpenPartition(1), IsOk());
  UserState a = User("alice", 3);
  ASSERT_THAT(CommitStates(*store_, 0, {&a}, Meta(0, 10)), IsOk());
  auto prepared = publisher_->Checkpoint(
      {{store_.get(), Meta(0, 0)}, {store_.get(), Meta(1, 0)}});
  ASSERT_THAT(prepared, IsOk());
  ASSERT_EQ(prepared->metas.size(), 2u);
  EXPECT_EQ(prepared->metas[0].next_offset(), 10);
  EXPECT_EQ(prepared->metas[0].watermark_ms(), 5000);
  EXPECT_EQ(prepared->metas[1].partition(), 1);
  EXPECT_EQ(prepared->metas[1].next_offset(), -1);
  EXPECT_TRUE(prepared->aggregates.empty());
  auto manifest = publisher_->Complete(*prepared, "events", ModelConfig());
  ASSERT_THAT(manifest, IsOk());
  EXPECT_EQ(manifest->user_count(), 1u);
  EXPECT_EQ(manifest->partitions(1).users(), 0u);
  EXPECT_FALSE(fs::exists(dir_.Sub("snap/.tmp-snap-1")));
  EXPECT_THAT(VerifySnapshot(dir_.Sub("snap") + "/" + SnapshotDirName(1)),
              IsOk());
}

// A reader keeps one block cache for all its partitions, within the bound
// it is given.
TEST_F(SnapshotTest, TheReadersBlockCacheIsBoundedAcrossPartitions) {
  std::vector<PartitionMeta> metas;
  for (int32_t p = 0; p < 2; ++p) {
    ASSERT_THAT(store_->OpenPartition(p), IsOk());
    std::vector<UserState> users;
    for (int i = 0; i < 400; ++i) {
      UserState u = User(absl::StrCat("user-", p, "-", i), i);
      for (int k = 0; k < 20; ++k) {  // ~1 KiB each: many data blocks
        RecentPlay* r = u.add_recent_plays();
        r->set_track_id(absl::StrCat("track-", i, "-", k, "-padding"));
        r->set_time_ms(k);
      }
      users.push_back(std::move(u));
    }
    std::vector<const UserState*> ptrs;
    for (const UserState& u : users) ptrs.push_back(&u);
    ASSERT_THAT(CommitStates(*store_, p, ptrs, Meta(p, 1)), IsOk());
    metas.push_back(Meta(p, 1));
  }
  ASSERT_THAT(publisher_->Publish(*store_, "events", metas, {}), IsOk());
  constexpr size_t kBound = 32 << 10;
  auto reader = SnapshotReader::OpenLatest(dir_.Sub("snap"),
                                           {.block_cache_bytes = kBound});
  ASSERT_THAT(reader, IsOk());
  for (int32_t p = 0; p < 2; ++p) {
    for (int i = 0; i < 400; ++i) {
      auto found = (*reader)->Lookup(absl::StrCat("user-", p, "-", i));
      ASSERT_THAT(found, IsOk());
      ASSERT_TRUE(found->has_value());
    }
  }
  EXPECT_GT((*reader)->block_cache_usage(), 0u);
  EXPECT_LE((*reader)->block_cache_usage(), kBound);
}

// Restarts without new events (a new publisher each time, same committed
// state) publish nothing new: the rollback points stay.
TEST_F(SnapshotTest, UnchangedContentIsNotRepublished) {
  ASSERT_THAT(store_->OpenPartition(0), IsOk());
  for (int i = 1; i <= 2; ++i) {
    UserState a = User("alice", i);
    ASSERT_THAT(CommitStates(*store_, 0, {&a}, Meta(0, i)), IsOk());
    ASSERT_THAT(publisher_->Publish(*store_, "events", {Meta(0, i)}, {}),
                IsOk());
  }
  auto latest = ReadLatestManifest(dir_.Sub("snap"));
  ASSERT_THAT(latest, IsOk());
  for (int restart = 0; restart < 4; ++restart) {
    clock_.AdvanceMs(60'000);
    auto publisher =
        SnapshotPublisher::Open({dir_.Sub("snap"), 3}, &clock_, "events");
    ASSERT_THAT(publisher, IsOk());
    auto m = (*publisher)->Publish(*store_, "events", {Meta(0, 2)}, {});
    ASSERT_THAT(m, IsOk());
    EXPECT_EQ(m->snapshot_id(), 2u);
    EXPECT_EQ(m->created_at_ms(), latest->created_at_ms());
    EXPECT_EQ((*publisher)->next_id(), 3u);
  }
  EXPECT_EQ(ListSnapshotIds(dir_.Sub("snap")), (std::vector<uint64_t>{1, 2}));
  EXPECT_FALSE(fs::exists(dir_.Sub("snap/.tmp-snap-3")));

  // Another model (a read-time parameter is enough) is new content for
  // readers: published.
  ModelConfig model;
  model.prior_strength = 7;
  auto changed = publisher_->Publish(*store_, "events", {Meta(0, 2)}, model);
  ASSERT_THAT(changed, IsOk());
  EXPECT_EQ(changed->snapshot_id(), 3u);
  // And so is new state.
  UserState a = User("alice", 3);
  ASSERT_THAT(CommitStates(*store_, 0, {&a}, Meta(0, 3)), IsOk());
  auto next = publisher_->Publish(*store_, "events", {Meta(0, 3)}, model);
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->snapshot_id(), 4u);
}

TEST_F(SnapshotTest, RefusesASnapshotDirOfAnotherTopic) {
  ASSERT_THAT(store_->OpenPartition(0), IsOk());
  UserState a = User("alice", 1);
  ASSERT_THAT(CommitStates(*store_, 0, {&a}, Meta(0, 1)), IsOk());
  ASSERT_THAT(publisher_->Publish(*store_, "events", {Meta(0, 1)}, {}), IsOk());
  auto other =
      SnapshotPublisher::Open({dir_.Sub("snap"), 3}, &clock_, "other-topic");
  ASSERT_THAT(other, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(other.status().message(),
              ::testing::HasSubstr("snapshots of topic events found in " +
                                   dir_.Sub("snap") +
                                   " where topic other-topic was expected"));
  EXPECT_THAT(SnapshotPublisher::Open({dir_.Sub("snap"), 3}, &clock_, "events"),
              IsOk());
  // An empty directory takes any topic.
  EXPECT_THAT(
      SnapshotPublisher::Open({dir_.Sub("empty"), 3}, &clock_, "other-topic"),
      IsOk());
}

TEST_F(SnapshotTest, StoreRefusesAnotherTopicsState) {
  ASSERT_THAT(store_->OpenPartition(0), IsOk());
  UserState a = User("alice", 1);
  ASSERT_THAT(CommitStates(*store_, 0, {&a}, Meta(0, 1)), IsOk());
  store_.reset();
  auto other = OpenRocksStateStore(dir_.Sub("state"), "other-topic", {});
  ASSERT_THAT(other, IsOk());
  EXPECT_THAT((*other)->OpenPartition(0),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

// A reader polling while snapshots are published only ever opens complete
// ones: every snapshot it opens has a manifest whose digests match the data,
// and the data matches the manifest's offsets (user "counter" holds as many
// events as the partition's next offset).
TEST_F(SnapshotTest, ConcurrentReaderNeverSeesAPartialSnapshot) {
  ASSERT_THAT(store_->OpenPartition(0), IsOk());
  ASSERT_THAT(store_->OpenPartition(1), IsOk());
  constexpr int kSnapshots = 40;
  std::atomic<bool> done{false};
  std::atomic<int> opened{0};
  std::atomic<int> failures{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto r = SnapshotReader::OpenLatest(dir_.Sub("snap"));
      if (absl::IsNotFound(r.status())) continue;
      if (!r.ok()) {
        ADD_FAILURE() << r.status();
        ++failures;
        continue;
      }
      const SnapshotManifest& m = (*r)->manifest();
      std::vector<std::pair<int32_t, std::string>> digests;
      for (const PartitionManifest& p : m.partitions()) {
        auto d = DigestDatabase((*r)->path() + "/" + p.directory());
        // Retention may remove a snapshot while it is being re-scanned
        // (RocksDB then reports missing files): that is not a partial
        // snapshot, provided three newer ones exist by now (keep = 3).
        if (!d.ok()) {
          auto now = ReadLatestManifest(dir_.Sub("snap"));
          ASSERT_THAT(now, IsOk());
          ASSERT_GE(now->snapshot_id(), m.snapshot_id() + 3) << d.status();
          break;
        }
        ASSERT_THAT(d, IsOk());
        EXPECT_EQ(HexDigest(d->digest), p.digest());
        digests.emplace_back(p.partition(), d->digest);
      }
      if (digests.size() == 2) {
        EXPECT_EQ(HexDigest(CombineDigests(digests)), m.content_digest());
      }
      auto counter = (*r)->Lookup("counter");
      ASSERT_THAT(counter, IsOk());
      ASSERT_TRUE(counter->has_value());
      EXPECT_EQ(static_cast<int64_t>((*counter)->events()),
                m.partitions(0).next_offset());
      ++opened;
    }
  });
  for (int i = 1; i <= kSnapshots; ++i) {
    std::vector<UserState> users;
    for (int u = 0; u < 50; ++u)
      users.push_back(User("u" + std::to_string(u * i), i));
    std::vector<const UserState*> ptrs;
    for (const auto& u : users) ptrs.push_back(&u);
    UserState counter = User("counter", i);
    ptrs.push_back(&counter);
    ASSERT_THAT(CommitStates(*store_, 0, ptrs, Meta(0, i)), IsOk());
    ASSERT_THAT(CommitStates(*store_, 1, {&users[0]}, Meta(1, i)), IsOk());
    ASSERT_THAT(
        publisher_->Publish(*store_, "events", {Meta(0, i), Meta(1, i)}, {}),
        IsOk());
  }
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(opened.load(), 0);
}

// Publishes three snapshots in which user "u" has 1, 2, 3 events.
void PublishThree(StateStore& store, SnapshotPublisher& publisher) {
  ASSERT_THAT(store.OpenPartition(0), IsOk());
  for (int i = 1; i <= 3; ++i) {
    UserState u = User("u", i);
    ASSERT_THAT(CommitStates(store, 0, {&u}, Meta(0, i)), IsOk());
    ASSERT_THAT(publisher.Publish(store, "events", {Meta(0, i)}, {}), IsOk());
  }
}

// The newest SST file of partition 0 in snapshot `id`: the one only that
// snapshot (and the live state) has. Checkpoints hard-link the immutable SST
// files they share with older snapshots, so damage to a shared file shows in
// all of them.
std::string NewestSstOf(const std::string& snap_dir, uint64_t id) {
  std::string newest;
  for (const auto& e : fs::directory_iterator(
           snap_dir + "/" + SnapshotDirName(id) + "/p-00000")) {
    const std::string path = e.path().string();
    if (e.path().extension() == ".sst" && path > newest) newest = path;
  }
  return newest;
}

TEST_F(SnapshotTest, VerifyAcceptsIntactAndDetectsCorruptSnapshots) {
  PublishThree(*store_, *publisher_);
  const std::string snap = dir_.Sub("snap");
  EXPECT_THAT(VerifySnapshot(snap + "/" + SnapshotDirName(3)), IsOk());

  // Flip a byte in the middle of an SST file.
  const std::string sst = NewestSstOf(snap, 3);
  ASSERT_FALSE(sst.empty());
  {
    std::fstream f(sst, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(sst) / 3));
    char c = 0;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(fs::file_size(sst) / 3));
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }
  EXPECT_THAT(VerifySnapshot(snap + "/" + SnapshotDirName(3)),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(VerifySnapshot(snap + "/" + SnapshotDirName(2)), IsOk());

  // A manifest whose digest was tampered with is caught too.
  const std::string manifest =
      snap + "/" + SnapshotDirName(2) + "/manifest.json";
  std::string json = *ReadFile(manifest);
  const size_t at = json.find("\"content_digest\": \"") + 19;
  json[at] = json[at] == '0' ? '1' : '0';
  std::ofstream(manifest, std::ios::trunc) << json;
  EXPECT_THAT(VerifySnapshot(snap + "/" + SnapshotDirName(2)),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(SnapshotTest, ReaderFallsBackFromACorruptLatestSnapshot) {
  PublishThree(*store_, *publisher_);
  const std::string snap = dir_.Sub("snap");
  // Truncate the latest snapshot's SST file: opening it fails.
  fs::resize_file(NewestSstOf(snap, 3), 10);
  auto reader = SnapshotReader::OpenLatest(snap);
  ASSERT_THAT(reader, IsOk());
  EXPECT_EQ((*reader)->manifest().snapshot_id(), 2u);
  EXPECT_THAT((*reader)->fallback_reason(),
              ::testing::HasSubstr(SnapshotDirName(3)));
  auto u = (*reader)->Lookup("u");
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ((*u)->events(), 2u);

  // A damaged LATEST pointer: the newest complete snapshot that opens.
  std::ofstream(snap + "/LATEST", std::ios::trunc) << "../../etc\n";
  auto again = SnapshotReader::OpenLatest(snap);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ((*again)->manifest().snapshot_id(), 2u);
  EXPECT_FALSE((*again)->fallback_reason().empty());
}

TEST_F(SnapshotTest, VerifyingReaderSkipsASnapshotThatOpensButIsWrong) {
  PublishThree(*store_, *publisher_);
  const std::string snap = dir_.Sub("snap");
  const std::string manifest =
      snap + "/" + SnapshotDirName(3) + "/manifest.json";
  std::string json = *ReadFile(manifest);
  const size_t at = json.find("\"digest\": \"") + 11;
  json[at] = json[at] == 'a' ? 'b' : 'a';
  std::ofstream(manifest, std::ios::trunc) << json;
  // Without verification the reader cannot tell; with it, it falls back.
  auto plain = SnapshotReader::OpenLatest(snap);
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ((*plain)->manifest().snapshot_id(), 3u);
  auto verified = SnapshotReader::OpenLatest(snap, {.verify_content = true});
  ASSERT_THAT(verified, IsOk());
  EXPECT_EQ((*verified)->manifest().snapshot_id(), 2u);
}

// Users with evidence scoring reads and fields it does not.
UserState ScoredUser(const std::string& id) {
  UserState u = User(id, 5);
  for (const char* arm : {"jazz", "rock"}) {
    ArmEvidence* a = u.add_arms();
    a->set_arm_id(arm);
    a->set_successes(id.size() % 3 + 1);
    a->set_failures(1);
    a->set_updates(4);
  }
  u.mutable_features()->set_starts(3);
  u.mutable_features()->set_utc_offset_minutes(60);
  RecentPlay* play = u.add_recent_plays();
  play->set_track_id("t-" + id);
  play->set_time_ms(2000);
  u.add_recent_event_ids(77);
  return u;
}

TEST_F(SnapshotTest, UsersAreRoutedToTheirPartition) {
  constexpr int32_t kPartitions = 4;
  std::vector<std::vector<UserState>> by_partition(kPartitions);
  for (int i = 0; i < 200; ++i) {
    const std::string id = "user-" + std::to_string(i);
    by_partition[static_cast<size_t>(KafkaPartition(id, kPartitions))]
        .push_back(ScoredUser(id));
  }
  std::vector<PartitionMeta> metas;
  for (int32_t p = 0; p < kPartitions; ++p) {
    ASSERT_THAT(store_->OpenPartition(p), IsOk());
    std::vector<const UserState*> users;
    for (const UserState& u : by_partition[static_cast<size_t>(p)]) {
      users.push_back(&u);
    }
    metas.push_back(Meta(p, 10));
    metas.back().set_routed_among(kPartitions);
    ASSERT_THAT(CommitStates(*store_, p, users, metas.back()), IsOk());
  }
  publisher_->set_topic_partitions(kPartitions);
  ASSERT_THAT(publisher_->Publish(*store_, "events", metas, {}), IsOk());

  auto reader = SnapshotReader::OpenLatest(dir_.Sub("snap"));
  ASSERT_THAT(reader, IsOk());
  EXPECT_EQ((*reader)->manifest().topic_partitions(), kPartitions);
  EXPECT_TRUE((*reader)->routes_users());
  // Searching every partition finds the same.
  SnapshotReader::OpenOptions search_all;
  search_all.search_all_partitions = true;
  auto everywhere = SnapshotReader::OpenLatest(dir_.Sub("snap"), search_all);
  ASSERT_THAT(everywhere, IsOk());
  EXPECT_FALSE((*everywhere)->routes_users());
  for (int i = 0; i < 200; ++i) {
    const std::string id = "user-" + std::to_string(i);
    auto full = (*reader)->Lookup(id);
    auto scored = (*reader)->LookupForScoring(id);
    auto searched = (*everywhere)->Lookup(id);
    ASSERT_THAT(searched, IsOk());
    ASSERT_TRUE(searched->has_value()) << id;
    ASSERT_THAT(full, IsOk());
    ASSERT_THAT(scored, IsOk());
    ASSERT_TRUE(full->has_value()) << id;
    ASSERT_TRUE(scored->has_value()) << id;
    EXPECT_EQ((*full)->recent_plays_size(), 1);
    // What scoring reads, and nothing else.
    UserState expected;
    expected.set_user_id((*full)->user_id());
    *expected.mutable_arms() = (*full)->arms();
    *expected.mutable_features() = (*full)->features();
    EXPECT_EQ((*scored)->SerializeAsString(), expected.SerializeAsString())
        << id;
  }
  auto unknown = (*reader)->LookupForScoring("nobody");
  ASSERT_THAT(unknown, IsOk());
  EXPECT_FALSE(unknown->has_value());

  // The example service, linked with the reader library alone, ranks from
  // the same snapshot.
  const std::string command = std::string(ENCORE_READER_EXAMPLE) + " " +
                              dir_.Sub("snap") +
                              " jazz,rock user-7 nobody 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[256];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  ASSERT_EQ(::pclose(pipe), 0) << output;
  EXPECT_THAT(output,
              ::testing::MatchesRegex(
                  "user-7 known (jazz|rock):[0-9.]+ (jazz|rock):[0-9.]+\n"
                  "nobody unknown (jazz|rock):[0-9.]+ "
                  "(jazz|rock):[0-9.]+\n"));
}

TEST_F(SnapshotTest, AnUnroutableEventMakesReadersSearchEveryPartition) {
  // A producer that keyed an event otherwise put this user in partition 0
  // whatever murmur2 says.
  std::string id;
  for (int i = 0; id.empty(); ++i) {
    const std::string candidate = "user-" + std::to_string(i);
    if (KafkaPartition(candidate, 2) == 1) id = candidate;
  }
  const UserState user = ScoredUser(id);
  ASSERT_THAT(store_->OpenPartition(0), IsOk());
  ASSERT_THAT(store_->OpenPartition(1), IsOk());
  PartitionMeta zero = Meta(0, 10);
  zero.set_events_unroutable(1);
  zero.set_routed_among(2);
  PartitionMeta one = Meta(1, 10);
  one.set_routed_among(2);
  ASSERT_THAT(CommitStates(*store_, 0, {&user}, zero), IsOk());
  ASSERT_THAT(CommitStates(*store_, 1, {}, one), IsOk());
  publisher_->set_topic_partitions(2);
  ASSERT_THAT(publisher_->Publish(*store_, "events", {zero, one}, {}), IsOk());

  auto reader = SnapshotReader::OpenLatest(dir_.Sub("snap"));
  ASSERT_THAT(reader, IsOk());
  EXPECT_EQ((*reader)->manifest().partitions(0).events_unroutable(), 1u);
  EXPECT_FALSE((*reader)->routes_users());
  auto found = (*reader)->Lookup(id);
  ASSERT_THAT(found, IsOk());
  EXPECT_TRUE(found->has_value());

  // A partition whose history began unchecked (state of an older version,
  // or under another partition count) keeps readers searching too.
  zero.set_events_unroutable(0);
  zero.set_routed_among(0);
  zero.set_next_offset(11);
  ASSERT_THAT(CommitStates(*store_, 0, {&user}, zero), IsOk());
  ASSERT_THAT(publisher_->Publish(*store_, "events", {zero, one}, {}), IsOk());
  auto unchecked = SnapshotReader::OpenLatest(dir_.Sub("snap"));
  ASSERT_THAT(unchecked, IsOk());
  EXPECT_EQ((*unchecked)->manifest().partitions(0).routed_among(), 0);
  EXPECT_FALSE((*unchecked)->routes_users());
}

TEST_F(SnapshotTest, ScoringLookupReadsAnEmptyLastField) {
  // An arm with every field at its default is an empty message: here the
  // last bytes of the stored value.
  UserState bare;
  bare.set_user_id("bare");
  bare.add_arms();
  ASSERT_THAT(store_->OpenPartition(0), IsOk());
  ASSERT_THAT(CommitStates(*store_, 0, {&bare}, Meta(0, 1)), IsOk());
  ASSERT_THAT(publisher_->Publish(*store_, "events", {Meta(0, 1)}, {}), IsOk());
  auto reader = SnapshotReader::OpenLatest(dir_.Sub("snap"));
  ASSERT_THAT(reader, IsOk());
  EXPECT_FALSE((*reader)->routes_users());  // no partition count recorded
  auto scored = (*reader)->LookupForScoring("bare");
  ASSERT_THAT(scored, IsOk());
  ASSERT_TRUE(scored->has_value());
  EXPECT_EQ((*scored)->SerializeAsString(), bare.SerializeAsString());
}

}  // namespace
}  // namespace encore
