// SnapshotReader: the ranking layer's view of a published snapshot.
//
//   ASSIGN_OR_RETURN(auto reader, SnapshotReader::OpenLatest(dir));
//   ASSIGN_OR_RETURN(std::optional<UserState> user, reader->Lookup("u42"));
//
// A reader opens the snapshot that LATEST names and keeps it open: later
// publications do not change what it reads (open a new reader to move on).
// If retention removes the snapshot while it is being opened, OpenLatest
// follows LATEST again.
//
// Thread safety: Lookup may be called from several threads at once.
#ifndef ENCORE_STATE_SNAPSHOT_READER_H_
#define ENCORE_STATE_SNAPSHOT_READER_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/manifest.pb.h"
#include "proto/user_state.pb.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "state/model.h"
#include "state/population.h"

namespace encore {

class SnapshotReader {
 public:
  struct OpenOptions {
    // Also re-hash every key and value and compare with the manifest's
    // digests (a full read of the snapshot) before accepting it.
    bool verify_content = false;
    // Search every partition for a user even when the snapshot says users
    // can be routed (for producers that key events otherwise).
    bool search_all_partitions = false;
    // Uncompressed data blocks kept in memory, one cache for all partitions
    // (the SST files' index and filter blocks are kept besides).
    size_t block_cache_bytes = size_t{1} << 30;
  };

  // Opens the snapshot LATEST names under `snapshot_dir`. If that one cannot
  // be opened (missing or corrupt manifest or database, or, with
  // verify_content, a digest mismatch), falls back to the newest older
  // snapshot that can, and fallback_reason() says why. NotFound if nothing
  // was published yet; DataLoss if no snapshot is usable.
  static absl::StatusOr<std::unique_ptr<SnapshotReader>> OpenLatest(
      const std::string& snapshot_dir, OpenOptions options);
  static absl::StatusOr<std::unique_ptr<SnapshotReader>> OpenLatest(
      const std::string& snapshot_dir) {
    return OpenLatest(snapshot_dir, OpenOptions());
  }

  // Opens the snapshot in directory `snapshot_path` (a snap-* directory).
  static absl::StatusOr<std::unique_ptr<SnapshotReader>> Open(
      const std::string& snapshot_path, OpenOptions options);
  static absl::StatusOr<std::unique_ptr<SnapshotReader>> Open(
      const std::string& snapshot_path) {
    return Open(snapshot_path, OpenOptions());
  }

  ~SnapshotReader();

  const SnapshotManifest& manifest() const { return manifest_; }
  // Bytes of data blocks the reader's cache holds now.
  size_t block_cache_usage() const { return cache_->GetUsage(); }
  // Empty when the latest snapshot was used; else why it was skipped.
  const std::string& fallback_reason() const { return fallback_reason_; }
  const std::string& path() const { return path_; }
  // The model configuration the snapshot was written with.
  ModelConfig model() const;

  // The state of `user_id`, nullopt for an unknown user. Users live in the
  // partition their events were keyed to: when the manifest records the
  // topic's partition count and no partition holds an event the producers'
  // partitioner (murmur2 of the user id) put elsewhere, only that partition
  // is read; otherwise every partition is searched.
  absl::StatusOr<std::optional<UserState>> Lookup(
      absl::string_view user_id) const;

  // What scoring reads of a user (RankArms, ArmPosterior...): the state
  // with only user_id, arms and features decoded, the rest left empty.
  // Cheaper than Lookup for a ranking request; nullopt for an unknown user.
  absl::StatusOr<std::optional<UserState>> LookupForScoring(
      absl::string_view user_id) const;

  // Whether Lookup reads one partition per user (see above).
  bool routes_users() const { return !db_of_partition_.empty(); }

  // Every arm's aggregate summed over the snapshot's partitions (bounded by
  // max_arms_per_partition per partition).
  absl::StatusOr<Population> ReadPopulation() const;

 private:
  SnapshotReader() = default;

  // The stored value of `user_id`'s state: false if unknown.
  absl::StatusOr<bool> Get(absl::string_view user_id, std::string* value) const;

  std::string path_;
  std::string fallback_reason_;
  SnapshotManifest manifest_;
  std::shared_ptr<rocksdb::Cache> cache_;  // dbs_'s, declared before them
  std::vector<std::unique_ptr<rocksdb::DB>> dbs_;
  // By partition, the index in dbs_ (-1: not in this snapshot); empty when
  // users are not routed.
  std::vector<int> db_of_partition_;
};

// The manifest of the snapshot LATEST names, without opening its databases.
absl::StatusOr<SnapshotManifest> ReadLatestManifest(
    const std::string& snapshot_dir);

// Checks one snapshot end to end: the manifest parses, every partition
// database opens and passes RocksDB's checksum verification of all its
// files, its keys and values hash to the manifest's partition digest and its
// user count matches, and the partition digests combine to the content
// digest. OK or DataLoss naming the first mismatch; NotFound if absent.
absl::Status VerifySnapshot(const std::string& snapshot_path);

// The snapshot directory LATEST names under `snapshot_dir` (it may have
// been removed since). NotFound if nothing was published yet; DataLoss if
// LATEST is malformed.
absl::StatusOr<std::string> LatestSnapshotPath(const std::string& snapshot_dir);

// The complete snapshot directories under `snapshot_dir`, newest first.
std::vector<std::string> ListSnapshots(const std::string& snapshot_dir);

// Reads and parses `<snapshot_path>/manifest.json`.
absl::StatusOr<SnapshotManifest> ReadManifest(const std::string& snapshot_path);

}  // namespace encore

#endif  // ENCORE_STATE_SNAPSHOT_READER_H_
