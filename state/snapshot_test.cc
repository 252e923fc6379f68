#include <atomic>
#include <filesystem>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "state/digest.h"
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
  ASSERT_THAT(store_->Commit(0, {&a, &b}, Meta(0, 10)), IsOk());
  ASSERT_THAT(store_->Commit(1, {&c}, Meta(1, 20)), IsOk());

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
  ASSERT_THAT(store_->Commit(0, {&a}, Meta(0, 10)), IsOk());
  auto first = publisher_->Publish(*store_, "events", {Meta(0, 10)}, {});
  clock_.AdvanceMs(60'000);
  auto second = publisher_->Publish(*store_, "events", {Meta(0, 10)}, {});
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_NE(first->created_at_ms(), second->created_at_ms());
  EXPECT_EQ(first->content_digest(), second->content_digest());

  a.set_events(4);
  ASSERT_THAT(store_->Commit(0, {&a}, Meta(0, 11)), IsOk());
  auto third = publisher_->Publish(*store_, "events", {Meta(0, 11)}, {});
  ASSERT_THAT(third, IsOk());
  EXPECT_NE(third->content_digest(), second->content_digest());
}

TEST_F(SnapshotTest, KeepsTheNewestAndCleansUnfinished) {
  ASSERT_THAT(store_->OpenPartition(0), IsOk());
  for (int i = 1; i <= 5; ++i) {
    UserState a = User("alice", i);
    ASSERT_THAT(store_->Commit(0, {&a}, Meta(0, i)), IsOk());
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
  auto next = (*reopened)->Publish(*store_, "events", {Meta(0, 5)}, {});
  ASSERT_THAT(next, IsOk());
  EXPECT_EQ(next->snapshot_id(), 6u);
}

TEST_F(SnapshotTest, StoreRefusesAnotherTopicsState) {
  ASSERT_THAT(store_->OpenPartition(0), IsOk());
  UserState a = User("alice", 1);
  ASSERT_THAT(store_->Commit(0, {&a}, Meta(0, 1)), IsOk());
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
        // Retention may remove a snapshot while it is being checked; that
        // is not a partial snapshot.
        if (absl::IsNotFound(d.status())) break;
        ASSERT_THAT(d, IsOk());
        EXPECT_EQ(HexDigest(d->sha256), p.digest());
        digests.emplace_back(p.partition(), d->sha256);
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
    ASSERT_THAT(store_->Commit(0, ptrs, Meta(0, i)), IsOk());
    ASSERT_THAT(store_->Commit(1, {&users[0]}, Meta(1, i)), IsOk());
    ASSERT_THAT(
        publisher_->Publish(*store_, "events", {Meta(0, i), Meta(1, i)}, {}),
        IsOk());
  }
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(opened.load(), 0);
}

}  // namespace
}  // namespace encore
