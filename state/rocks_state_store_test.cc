#include <cstdint>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "state/state_store.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace encore {
namespace {

using ::encore::testing::IsOk;
using ::encore::testing::TempDir;

// Opens partition 0 of `store`, commits 2000 users ("user-0" ...) with
// `plays` recent plays each (alike users, whose protobuf encoding repeats
// itself, as real states do) and flushes them to an SST file.
void CommitAndFlushUsers(StateStore& store, int plays) {
  EXPECT_THAT(store.OpenPartition(0), IsOk());
  std::vector<UserRecord> users(2000);
  CommitBatch batch;
  for (size_t i = 0; i < users.size(); ++i) {
    users[i].user_id = "user-" + std::to_string(i);
    for (int k = 0; k < plays; ++k) {
      users[i].recent_plays.push_back(
          {"track-" + std::to_string(k), 1700000000000 + k});
    }
    batch.users.push_back(&users[i]);
  }
  batch.meta.set_partition(0);
  batch.meta.set_next_offset(1);
  EXPECT_THAT(store.Commit(0, batch), IsOk());
  EXPECT_THAT(store.Flush(), IsOk());
}

// Bytes of the SST files under `dir`, after CommitAndFlushUsers with 50
// plays each into a store opened there with `options`.
uint64_t SstBytesAfterAlikeUsers(const std::string& dir,
                                 const RocksStoreOptions& options) {
  auto store = OpenRocksStateStore(dir, "events", options);
  EXPECT_THAT(store, IsOk());
  if (!store.ok()) return 0;
  CommitAndFlushUsers(**store, 50);
  uint64_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.path().extension() == ".sst") bytes += entry.file_size();
  }
  return bytes;
}

TEST(RocksStateStoreTest, CompressionCanBeTurnedOff) {
  TempDir dir;
  RocksStoreOptions lz4;
  RocksStoreOptions none;
  none.compress = false;
  const uint64_t compressed = SstBytesAfterAlikeUsers(dir.Sub("lz4"), lz4);
  const uint64_t plain = SstBytesAfterAlikeUsers(dir.Sub("none"), none);
  ASSERT_GT(compressed, 0u);
  // ~1 KB per user uncompressed; LZ4 takes out the repeated track ids.
  EXPECT_GT(plain, 2000u * 900);
  EXPECT_GT(plain, 2 * compressed);
}

TEST(RocksStateStoreTest, IndexAndFiltersAreHeldOutsideTheBlockCache) {
  TempDir dir;
  auto store = OpenRocksStateStore(dir.path(), "events", RocksStoreOptions());
  ASSERT_THAT(store, IsOk());
  CommitAndFlushUsers(**store, 0);
  auto read = (*store)->ReadUser(0, "user-7");
  ASSERT_THAT(read, IsOk());
  ASSERT_TRUE(read->has_value());
  const StoreStats stats = (*store)->Stats();
  ASSERT_EQ(stats.partitions.count(0), 1u);
  // The SST file's Bloom filter alone (10 bits per key) is 2000 * 10 / 8
  // bytes; the readers hold it, and the index, only when the block cache
  // does not.
  EXPECT_GE(stats.partitions.at(0).table_readers_bytes, 2000u * 10 / 8);
}

// Without the WAL a commit lasts from the next flush on, except a
// partition's first offset, which lasts at once; a clean close keeps every
// commit. A crash is a copy of the directory taken while the store is open:
// what the memtables hold is not in it.
TEST(RocksStateStoreTest, WithoutTheWalACrashKeepsTheFirstOffsetAndFlushes) {
  TempDir dir;
  RocksStoreOptions options;
  options.disable_wal = true;
  options.sync_commits = false;
  const std::string live = dir.Sub("live");
  auto crash_copy = [&](const std::string& name) {
    std::filesystem::copy(live, dir.Sub(name),
                          std::filesystem::copy_options::recursive);
    return dir.Sub(name);
  };
  std::vector<std::string> crashes;
  {
    auto store = OpenRocksStateStore(live, "events", options);
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT((*store)->OpenPartition(0), IsOk());
    UserRecord user;
    user.user_id = "user-1";
    CommitBatch batch;
    batch.users.push_back(&user);
    batch.meta.set_partition(0);
    batch.meta.set_next_offset(10);
    ASSERT_THAT((*store)->Commit(0, batch), IsOk());
    crashes.push_back(crash_copy("after-first"));
    user.events = 7;
    batch.meta.set_next_offset(20);
    ASSERT_THAT((*store)->Commit(0, batch), IsOk());
    crashes.push_back(crash_copy("after-second"));
    ASSERT_THAT((*store)->Flush(), IsOk());
    user.events = 9;
    batch.meta.set_next_offset(30);
    ASSERT_THAT((*store)->Commit(0, batch), IsOk());
    crashes.push_back(crash_copy("after-third"));
  }
  // {directory, offset, the user's events} as each reopens.
  const std::vector<std::tuple<std::string, int64_t, uint64_t>> want = {
      {crashes[0], 10, 0},
      {crashes[1], 10, 0},
      {crashes[2], 20, 7},
      {live, 30, 9}};
  for (const auto& [path, offset, events] : want) {
    auto store = OpenRocksStateStore(path, "events", options);
    ASSERT_THAT(store, IsOk()) << path;
    auto meta = (*store)->OpenPartition(0);
    ASSERT_THAT(meta, IsOk()) << path;
    EXPECT_EQ(meta->next_offset(), offset) << path;
    auto read = (*store)->ReadUser(0, "user-1");
    ASSERT_THAT(read, IsOk()) << path;
    ASSERT_TRUE(read->has_value()) << path;
    EXPECT_EQ((*read)->state.events, events) << path;
  }
}

}  // namespace
}  // namespace encore
