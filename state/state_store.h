// StateStore: where committed per-partition state lives.
//
// Each input partition is a unit of its own (DESIGN rule 3): it is opened when
// the partition is assigned, committed atomically (dirty users and the next
// offset in one write, DESIGN rule 2), checkpointed for snapshots and closed
// when the partition is revoked. The interface is the seam through which
// tests inject store faults; RocksStateStore is the real one.
//
// Thread safety: one thread at a time calls every method (the partitions'
// worker), except Checkpoint(), which RocksStateStore also allows from
// another thread meanwhile (a snapshot taken while the worker commits).
#ifndef ENCORE_STATE_STATE_STORE_H_
#define ENCORE_STATE_STATE_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/user_state.pb.h"
#include "state/digest.h"
#include "state/key_codec.h"
#include "state/user_record.h"

namespace encore {

// 2: per-arm aggregates and the pending-impression expiry index (issue 3).
// 3: answered impressions stay pending until their window closes; per-arm
// in-flight counts (issue 15).
inline constexpr uint32_t kStateSchemaVersion = 3;

// Everything one commit writes to a partition, in one atomic write.
struct CommitBatch {
  std::vector<const UserRecord*> users;  // stored as UserState (EncodeTo)
  // The hash of each user's stored entry (StoredUser::hash), nullopt for a
  // user not stored yet, in the order of `users`. Left empty, the store
  // reads the stored entries to learn them (one read per user).
  std::vector<std::optional<EntryHash>> stored_user_hashes;
  std::vector<const ArmAggregate*> aggregates;
  std::vector<std::string> deleted_aggregates;  // arm ids
  // REQUIRES: every deleted entry is stored, no put entry is (after the
  // deletes): the content digest counts them without reading.
  std::vector<ExpiryEntry> expiry_puts;
  std::vector<ExpiryEntry> expiry_deletes;
  PartitionMeta meta;
  // If set, receive each user's entry hash as written, in the order of
  // `users`, and the metadata as stored (`meta` with the partition's new
  // content digest and user count).
  std::vector<EntryHash>* user_hashes = nullptr;
  PartitionMeta* stored_meta = nullptr;
  // If set, receives the bytes of keys and values the write put in the
  // store (what a write-ahead log and the memtable pay for).
  size_t* written_bytes = nullptr;
};

// A user's committed state and the hash of its stored entry.
struct StoredUser {
  UserRecord state;
  EntryHash hash;
};

// What a partition holds besides its users, read once when it is opened.
struct PartitionContents {
  PartitionMeta meta;
  std::vector<ArmAggregate> aggregates;
  std::vector<ExpiryEntry> expiries;
};

// Point-in-time RocksDB figures for metrics (best effort: 0 if unknown).
struct PartitionStoreStats {
  uint64_t estimated_keys = 0;
  uint64_t live_sst_bytes = 0;
  uint64_t memtable_bytes = 0;
  uint64_t pending_compaction_bytes = 0;
  uint64_t table_readers_bytes = 0;  // SST index and filter blocks
};
struct StoreStats {
  uint64_t block_cache_usage_bytes = 0;
  uint64_t stall_micros = 0;  // cumulative since the store was opened
  std::map<int32_t, PartitionStoreStats> partitions;  // open partitions
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // Opens partition `partition`'s unit, creating it if absent, and returns
  // its stored metadata (next_offset == -1 when nothing was ever committed),
  // with its current content digest and user count.
  // FailedPrecondition if the unit belongs to another topic or schema;
  // DataLoss if it is corrupt; Unavailable on I/O errors.
  virtual absl::StatusOr<PartitionMeta> OpenPartition(int32_t partition) = 0;

  // The aggregates and expiry index of an open partition (a prefix scan of
  // each; both are bounded, see state/MODEL.md).
  virtual absl::StatusOr<PartitionContents> ReadPartitionContents(
      int32_t partition) = 0;

  // Closes an open partition. Uncommitted changes are the caller's to commit
  // first. OK if it was not open.
  virtual absl::Status ClosePartition(int32_t partition) = 0;

  // The committed state of `user_id` in an open partition, nullopt if none.
  virtual absl::StatusOr<std::optional<StoredUser>> ReadUser(
      int32_t partition, absl::string_view user_id) = 0;

  // ReadUser for several users of one open partition at once, in the order
  // of `user_ids` (a store may batch the reads: RocksDB's MultiGet sorts
  // the keys and reads each block once). An error fails the whole call.
  virtual absl::StatusOr<std::vector<std::optional<StoredUser>>> ReadUsers(
      int32_t partition, const std::vector<absl::string_view>& user_ids) {
    std::vector<std::optional<StoredUser>> users;
    users.reserve(user_ids.size());
    for (absl::string_view id : user_ids) {
      absl::StatusOr<std::optional<StoredUser>> user = ReadUser(partition, id);
      if (!user.ok()) return user.status();
      users.push_back(std::move(*user));
    }
    return users;
  }

  // Writes everything in `batch` in one atomic, durable write, with the
  // partition's metadata (`batch.meta` plus the updated content digest and
  // user count): after OK all of it is stored; after an error none of it
  // is. REQUIRES: partition is open.
  virtual absl::Status Commit(int32_t partition, const CommitBatch& batch) = 0;

  // Shorthand for a batch of users and the metadata only.
  absl::Status Commit(int32_t partition,
                      const std::vector<const UserRecord*>& users,
                      const PartitionMeta& meta) {
    CommitBatch batch;
    batch.users = users;
    batch.meta = meta;
    return Commit(partition, batch);
  }

  // Creates a stock RocksDB checkpoint of an open partition in `dir` (which
  // must not exist), reflecting every commit so far; commits made meanwhile
  // (from another thread) are in it whole or not at all.
  virtual absl::Status Checkpoint(int32_t partition,
                                  const std::string& dir) = 0;

  // Replaces the state of `partition`, which must not be open, with the
  // database `fill` writes into the directory `dir` it is given (absent
  // before, on the store's filesystem; `current` is where the state being
  // replaced is, which may not exist, for files to reuse), in one atomic
  // swap: if `fill` or the swap fails, the old state is intact. Does not
  // open the partition. Unimplemented by stores that cannot.
  using PartitionFiller = std::function<absl::Status(
      const std::string& dir, const std::string& current)>;
  virtual absl::Status ReplacePartition(int32_t partition,
                                        const PartitionFiller& fill) {
    (void)partition;
    (void)fill;
    return absl::UnimplementedError("this store cannot replace partitions");
  }

  // True when `partition` must be repaired before it is written or
  // checkpointed again (its last commit failed, or RocksDB stopped its
  // flushes after a full disk): the next Commit() of it repairs it first,
  // even with nothing new in its batch. Thread-safe.
  virtual bool NeedsRepair(int32_t partition) {
    (void)partition;
    return false;
  }

  // Figures for metrics; cheap (property reads), never fails.
  virtual StoreStats Stats() = 0;

  // Makes every commit so far durable on disk, also when commits skip the
  // WAL (bulk mode): memtables are flushed to SST files and synced.
  virtual absl::Status Flush() = 0;

  // Starts writing every open partition's memtable to disk in the
  // background and returns without waiting, so that a Checkpoint() soon
  // after has little left to flush. Commits may go on meanwhile. Best
  // effort: errors surface in the next Checkpoint() or Flush().
  virtual void StartFlush() {}
};

// Tuning of the RocksDB store. Memory is bounded by block_cache_bytes plus
// write_buffer_bytes, shared by all partitions, whatever the user count.
struct RocksStoreOptions {
  size_t block_cache_bytes = 256 << 20;
  size_t write_buffer_bytes = 128 << 20;
  // fsync every commit, so committed offsets survive a machine crash too.
  bool sync_commits = true;
  // Bulk mode (backfill): commits skip the WAL. With one column family
  // RocksDB flushes memtables in order, so a crash still leaves the state
  // and offset of some earlier commit, never a mix; Flush() makes all of
  // them durable.
  bool disable_wal = false;
  // Memtable size per partition (within write_buffer_bytes overall); at
  // most a quarter of write_buffer_bytes (at least 1 MiB) is used.
  size_t memtable_bytes = 32 << 20;
  // LZ4 for SST files; false stores them uncompressed. Measured where most
  // events miss the cache (bench/results/rocksdb-compression.md): ~20 %
  // less CPU per event and ~30 % more events/s, for ~2.5x the disk, the
  // snapshot and the checkpoint bytes. Files already written keep theirs.
  bool compress = true;
};

// The real store: one RocksDB database per partition under
// `<state_dir>/partitions/p-NNNNN`, keys as in state/key_codec.h.
// Opens `state_dir` (creating it) for `topic`.
absl::StatusOr<std::unique_ptr<StateStore>> OpenRocksStateStore(
    const std::string& state_dir, const std::string& topic,
    const RocksStoreOptions& options);

// What a RocksDB checkpoint of partition `partition` (a snapshot's
// partition directory) holds besides users: its metadata (next_offset -1 if
// it holds no commit) and its arm aggregates, read as the store reads them
// (expiries are left out). Opens `dir` read-only and writes nothing there.
absl::StatusOr<PartitionContents> ReadCheckpointContents(const std::string& dir,
                                                         int32_t partition);

// The directory of partition `partition`'s database under `root`.
std::string PartitionDirName(int32_t partition);

}  // namespace encore

#endif  // ENCORE_STATE_STATE_STORE_H_
