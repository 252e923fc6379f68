#include "state/digest.h"

#include <filesystem>
#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "state/key_codec.h"
#include "state/state_store.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

using ::encore::testing::IsOk;
using ::encore::testing::TempDir;

TEST(ContentDigestTest, OrderFreeAndReversible) {
  const EntryHash a = HashEntry("Ualice", "1"), b = HashEntry("Ubob", "2"),
                  c = HashEntry("Ucarol", "3");
  ContentDigest abc, cba, ab;
  abc.Add(a), abc.Add(b), abc.Add(c);
  cba.Add(c), cba.Add(b), cba.Add(a);
  ab.Add(a), ab.Add(b);
  EXPECT_EQ(abc.Bytes(), cba.Bytes());
  EXPECT_NE(abc.Bytes(), ab.Bytes());
  abc.Subtract(c);
  EXPECT_EQ(abc.Bytes(), ab.Bytes());
  ContentDigest empty;
  EXPECT_EQ(empty.Bytes(), std::string(16, '\0'));
}

TEST(ContentDigestTest, KeyAndValueBothCount) {
  EXPECT_NE(HashEntry("Ua", "x"), HashEntry("Ub", "x"));
  EXPECT_NE(HashEntry("Ua", "x"), HashEntry("Ua", "y"));
  // No ambiguity between where the key ends and the value starts.
  EXPECT_NE(HashEntry("Uab", "c"), HashEntry("Ua", "bc"));
  EXPECT_EQ(HashEntry("Ua", "x"), HashEntry("Ua", "x"));
}

TEST(ContentDigestTest, BytesRoundTrip) {
  ContentDigest d;
  d.Add(HashEntry("Ualice", "state"));
  d.Subtract(HashEntry("Ubob", "other"));  // wraps around 2^128
  auto back = ContentDigest::FromBytes(d.Bytes());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->Bytes(), d.Bytes());
  EXPECT_FALSE(ContentDigest::FromBytes("short").has_value());
}

UserRecord User(const std::string& id, uint64_t events) {
  UserRecord u;
  u.user_id = id;
  u.events = events;
  return u;
}

std::string Bytes(const UserRecord& u) {
  std::string bytes;
  EncodeTo(u, &bytes);
  return bytes;
}

ArmAggregate Arm(const std::string& id, double successes) {
  ArmAggregate a;
  a.set_arm_id(id);
  a.set_successes(successes);
  return a;
}

PartitionMeta Meta(int64_t next_offset) {
  PartitionMeta m;
  m.set_partition(0);
  m.set_next_offset(next_offset);
  return m;
}

// What a commit stores as the partition's digest equals a digest computed
// from every entry of a checkpoint, across updates, deletes, reopening and
// state written before digests were stored.
TEST(ContentDigestTest, StoreKeepsTheDigestOfWhatItHolds) {
  TempDir dir;
  auto store = OpenRocksStateStore(dir.Sub("state"), "events", {});
  ASSERT_THAT(store, IsOk());
  StateStore& s = **store;
  ASSERT_THAT(s.OpenPartition(0), IsOk());
  int checkpoints = 0;
  auto expect_consistent = [&](const PartitionMeta& meta) {
    const std::string cp = dir.Sub("cp-" + std::to_string(checkpoints++));
    ASSERT_THAT(s.Checkpoint(0, cp), IsOk());
    auto digest = DigestDatabase(cp);
    ASSERT_THAT(digest, IsOk());
    EXPECT_EQ(meta.content_digest(), digest->digest);
    EXPECT_EQ(meta.users(), digest->users);
  };

  // New users, an arm, an expiry entry; the caller knows no hashes.
  UserRecord alice = User("alice", 1), bob = User("bob", 1);
  ArmAggregate shelf = Arm("shelf", 1);
  CommitBatch first;
  first.users = {&alice, &bob};
  first.aggregates = {&shelf};
  first.expiry_puts = {{5000, "alice"}};
  first.meta = Meta(2);
  std::vector<EntryHash> hashes;
  PartitionMeta stored;
  size_t written = 0;
  first.user_hashes = &hashes;
  first.stored_meta = &stored;
  first.written_bytes = &written;
  ASSERT_THAT(s.Commit(0, first), IsOk());
  ASSERT_EQ(hashes.size(), 2u);
  EXPECT_EQ(stored.users(), 2u);
  // What was written: the users, the arm and the metadata (and the keys,
  // the expiry entry and the batch's framing, well under 200 bytes).
  const size_t values = EncodedSize(alice) + EncodedSize(bob) +
                        shelf.ByteSizeLong() + stored.ByteSizeLong();
  EXPECT_GT(written, values);
  EXPECT_LT(written, values + 200);
  expect_consistent(stored);

  // Updates with the hashes the caller kept, an arm replaced and one
  // deleted, the expiry entry moved, a third user.
  alice.events = 2;
  UserRecord carol = User("carol", 1);
  ArmAggregate shelf2 = Arm("shelf", 2), card = Arm("card", 1);
  CommitBatch second;
  second.users = {&alice, &carol};
  second.stored_user_hashes = {hashes[0], std::nullopt};
  second.aggregates = {&shelf2, &card};
  second.expiry_deletes = {{5000, "alice"}};
  second.expiry_puts = {{6000, "alice"}};
  second.meta = Meta(4);
  second.stored_meta = &stored;
  ASSERT_THAT(s.Commit(0, second), IsOk());
  EXPECT_EQ(stored.users(), 3u);
  expect_consistent(stored);
  CommitBatch third;
  third.deleted_aggregates = {"card"};
  third.meta = Meta(5);
  third.stored_meta = &stored;
  ASSERT_THAT(s.Commit(0, third), IsOk());
  expect_consistent(stored);

  // Reopened, the store goes on from the stored digest.
  ASSERT_THAT(s.ClosePartition(0), IsOk());
  auto reopened = s.OpenPartition(0);
  ASSERT_THAT(reopened, IsOk());
  EXPECT_EQ(reopened->content_digest(), stored.content_digest());
  bob.events = 7;
  ASSERT_THAT(s.Commit(0, {&bob}, Meta(6)), IsOk());  // no hashes given
  auto after = s.OpenPartition(0);
  ASSERT_THAT(after, IsOk());
  expect_consistent(*after);

  // State written before digests were stored: computed on open.
  const std::string expected = after->content_digest();
  ASSERT_THAT(s.ClosePartition(0), IsOk());
  {
    rocksdb::DB* raw = nullptr;
    const std::string db_dir =
        dir.Sub("state") + "/partitions/" + PartitionDirName(0);
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), db_dir, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), kMetaKey, &value).ok());
    PartitionMeta old;
    ASSERT_TRUE(old.ParseFromString(value));
    old.clear_content_digest();
    old.clear_users();
    ASSERT_TRUE(
        db->Put(rocksdb::WriteOptions(), kMetaKey, old.SerializeAsString())
            .ok());
  }
  auto migrated = s.OpenPartition(0);
  ASSERT_THAT(migrated, IsOk());
  EXPECT_EQ(migrated->content_digest(), expected);
  EXPECT_EQ(migrated->users(), 3u);
}

TEST(ContentDigestTest, BatchedReadsGiveWhatSingleReadsGive) {
  TempDir dir;
  auto store = OpenRocksStateStore(dir.Sub("state"), "events", {});
  ASSERT_THAT(store, IsOk());
  StateStore& s = **store;
  ASSERT_THAT(s.OpenPartition(0), IsOk());
  UserRecord alice = User("alice", 3), bob = User("bob", 1);
  CommitBatch batch;
  batch.users = {&alice, &bob};
  batch.meta = Meta(2);
  std::vector<EntryHash> hashes;
  batch.user_hashes = &hashes;
  ASSERT_THAT(s.Commit(0, batch), IsOk());
  ASSERT_THAT(s.Flush(), IsOk());  // one user in an SST file, as after runs
  UserRecord carol = User("carol", 2);
  CommitBatch later;
  later.users = {&carol};
  later.meta = Meta(3);
  ASSERT_THAT(s.Commit(0, later), IsOk());  // and one in the memtable

  const std::vector<absl::string_view> ids = {"bob", "nobody", "carol", "alice",
                                              "bob"};
  auto batched = s.ReadUsers(0, ids);
  ASSERT_THAT(batched, IsOk());
  ASSERT_EQ(batched->size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    auto single = s.ReadUser(0, ids[i]);
    ASSERT_THAT(single, IsOk());
    ASSERT_EQ((*batched)[i].has_value(), single->has_value()) << ids[i];
    if (!single->has_value()) continue;
    EXPECT_EQ(Bytes((*batched)[i]->state), Bytes((*single)->state)) << ids[i];
    EXPECT_EQ((*batched)[i]->hash, (*single)->hash) << ids[i];
  }
  EXPECT_FALSE((*batched)[1].has_value());
  EXPECT_EQ((*batched)[3]->state.user_id, "alice");
  EXPECT_EQ((*batched)[3]->hash, hashes[0]);
}

}  // namespace
}  // namespace encore
