// CheckpointStore: partition checkpoints kept where another member of the
// consumer group (or this one, after losing its disk) can restore them.
//
// Layout under the store (an ObjectStore; state/FORMAT.md has the details):
//   <topic>/p-NNNNN/objects/<size>-<xxh3-128 hex>   a file's bytes, by content
//   <topic>/p-NNNNN/owners/<20-digit epoch>          a claim: "host pid at ms"
//   <topic>/p-NNNNN/checkpoints/<20-digit epoch>-<20-digit next offset>.json
//                                                    PartitionCheckpoint
// Objects are named by their content, so an upload sends only the files
// the store lacks: SST files are immutable and mostly shared between a
// partition's successive checkpoints. A checkpoint's manifest is written
// after all its objects, so a reader finds every object it names. The
// latest checkpoint is the one with the greatest name: the highest owner
// epoch, then the highest offset.
//
// Fencing: a member claims a partition when it is assigned it (Claim: the
// next epoch, created exclusively, and the latest checkpoint adopted under
// it), and uploads only under its claim. A former owner that still uploads
// (paused, partitioned) is refused once it sees the newer claim (Aborted),
// and what it wrote before seeing it has a lower epoch: never the latest.
//
//   CheckpointStore checkpoints(std::move(objects), topic);
//   ASSIGN_OR_RETURN(uint64_t epoch, checkpoints.Claim(partition, now_ms));
//   ASSIGN_OR_RETURN(PartitionMeta meta,
//                    RestoreIfNewer(checkpoints, store, partition, &from));
//   ...
//   ASSIGN_OR_RETURN(CheckpointUploadStats sent,
//                    checkpoints.Upload(dir, partition_manifest, snapshot,
//                                       now_ms));
//
// Thread safety: thread-safe.
#ifndef ENCORE_STATE_CHECKPOINT_STORE_H_
#define ENCORE_STATE_CHECKPOINT_STORE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "proto/manifest.pb.h"
#include "proto/user_state.pb.h"
#include "state/object_store.h"
#include "state/state_store.h"

namespace encore {

struct CheckpointUploadStats {
  int files = 0;       // files in the checkpoint
  int files_sent = 0;  // of which the store lacked
  uint64_t bytes = 0;  // of all files
  uint64_t bytes_sent = 0;
};

struct CheckpointDownloadStats {
  int files = 0;
  int files_fetched = 0;  // the others were reused from local files
  uint64_t bytes_fetched = 0;
};

class CheckpointStore {
 public:
  CheckpointStore(std::unique_ptr<ObjectStore> objects, std::string topic);

  // Claims `partition` for this process: the next owner epoch, created
  // exclusively (racing claimers get distinct epochs), then the latest
  // checkpoint is written again under it, or, if there is none, a marker
  // that says so (next offset -1, no files), so that nothing a former
  // owner writes later is the latest. A manifest that does not parse is
  // passed over for the next older; DataLoss if none parses (a marker would
  // say the partition has no state). Returns the epoch.
  absl::StatusOr<uint64_t> Claim(int32_t partition, int64_t now_ms);

  // Uploads the stock RocksDB checkpoint in `dir`, whose state is
  // `partition`'s (as in a snapshot manifest: offset, watermark, digest),
  // under this process's claim. Only objects the store lacks are sent;
  // files already sent from this process are known without reading them
  // again. `snapshot` is the manifest the partition comes from (its id,
  // model and version are recorded with the checkpoint).
  // FailedPrecondition if the partition was never claimed here; Aborted
  // ("fenced") if another member claimed it since.
  absl::StatusOr<CheckpointUploadStats> Upload(
      const std::string& dir, const PartitionManifest& partition,
      const SnapshotManifest& snapshot, int64_t now_ms);

  // Removes what `partition`'s newest `keep` checkpoints do not need:
  // older checkpoint manifests, and objects none of the kept ones names.
  // Only what was written more than `min_age_ms` before the newest
  // checkpoint manifest (the store's clock, not this host's) goes: a reader
  // may still be fetching a checkpoint that was the latest a moment ago,
  // and an upload may have found objects its manifest does not name yet.
  // Aborted if another member claimed the partition since this process did;
  // FailedPrecondition if this process never claimed it.
  struct PruneStats {
    int checkpoints_removed = 0;
    int objects_removed = 0;
  };
  absl::StatusOr<PruneStats> Prune(int32_t partition, int keep,
                                   int64_t min_age_ms);

  // The partitions the store holds checkpoints of, ascending.
  absl::StatusOr<std::vector<int32_t>> Partitions();

  // The latest checkpoint of `partition`, nullopt if none (or if the
  // latest is a claim's marker: the new owner had nothing to adopt).
  absl::StatusOr<std::optional<PartitionCheckpoint>> Latest(int32_t partition);

  // The names of `partition`'s checkpoint manifests, the latest first.
  absl::StatusOr<std::vector<std::string>> CheckpointNames(int32_t partition);

  // The checkpoint manifest `name` of `partition`: NotFound if it is gone
  // (pruned), DataLoss if it does not parse or is another partition's.
  absl::StatusOr<PartitionCheckpoint> ReadCheckpoint(int32_t partition,
                                                     const std::string& name);

  // Writes `checkpoint`'s files into the directory `dir` (created; it must
  // not exist) and makes them durable, checking each file's size and
  // content hash against its object name: DataLoss on a mismatch. An SST
  // file of the same name and size in `reuse_dir` (if given, on the same
  // filesystem) is hard-linked instead of fetched when its hash matches.
  absl::StatusOr<CheckpointDownloadStats> Download(
      const PartitionCheckpoint& checkpoint, const std::string& dir,
      const std::string& reuse_dir = "");

  const std::string& topic() const { return topic_; }
  std::string Describe() const { return objects_->Describe(); }

 private:
  std::string PartitionPrefix(int32_t partition) const;

  const std::unique_ptr<ObjectStore> objects_;
  const std::string topic_;
  // The epoch this process claimed `partition` under: FailedPrecondition
  // if none, Aborted if another member has claimed it since.
  absl::StatusOr<uint64_t> CheckClaim(int32_t partition);

  // Files already in the store, by (device, inode, size, mtime ns): a
  // checkpoint hard-links the live SST files, so the next checkpoint's
  // unchanged files are recognised without reading them. Entries not used
  // by the last kKnownUploads uploads are dropped (compacted away).
  using FileId = std::tuple<uint64_t, uint64_t, uint64_t, int64_t>;
  struct Known {
    std::string object;
    uint64_t used = 0;  // the upload that last named it
  };
  std::mutex mu_;
  absl::flat_hash_map<FileId, Known> known_;       // guarded by mu_
  uint64_t uploads_ = 0;                           // guarded by mu_
  absl::flat_hash_map<int32_t, uint64_t> epochs_;  // claims, by partition
};

// Replaces `partition`'s state in `store` (open) with `checkpoint`'s and
// returns the restored metadata; the partition is open afterwards. On error
// the local state is as it was (NotFound: an object is missing; DataLoss:
// a file or the state does not match the manifest).
absl::StatusOr<PartitionMeta> RestoreCheckpoint(
    CheckpointStore& checkpoints, StateStore& store, int32_t partition,
    const PartitionCheckpoint& checkpoint);

struct RestoreReport {
  // The checkpoint restored, if one was.
  std::optional<PartitionCheckpoint> restored;
  // Checkpoints passed over because they were damaged (DataLoss), with
  // why: each is worth an operator's look.
  std::vector<std::string> refused;
};

// On assignment of `partition` (not open in `store`): if the checkpoint
// store's latest checkpoint of it is ahead of the local state (a higher
// next offset, or no local state at all), replaces the local state with it
// and returns the restored metadata; otherwise returns the local metadata.
// Either way the partition is open in `store` afterwards.
//
// A damaged checkpoint (an object or the state not matching its manifest)
// is passed over for the next older one, recorded in `report->refused`;
// when none is left that is ahead, the local state is used if there is one
// (Kafka replays the rest) and DataLoss returned if there is none: starting
// from nothing would silently lose the partition's state. Unavailable if
// the checkpoints kept being pruned during the search. The local state is
// as it was whenever an error is returned, except Internal: the restored
// state replaced it but does not say what its manifest said.
//
// If `model` is given, a checkpoint written with other state-shaping model
// parameters is refused with FailedPrecondition, as a state dir is.
absl::StatusOr<PartitionMeta> RestoreIfNewer(CheckpointStore& checkpoints,
                                             StateStore& store,
                                             int32_t partition,
                                             const ModelConfigProto* model,
                                             RestoreReport* report);

}  // namespace encore

#endif  // ENCORE_STATE_CHECKPOINT_STORE_H_
