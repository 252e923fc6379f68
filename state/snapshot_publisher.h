// SnapshotPublisher: publishes consistent snapshots of the state store.
//
// Layout under the snapshot directory (see state/FORMAT.md):
//   LATEST                 one line: the name of the newest complete snapshot
//   snap-<20-digit id>/    manifest.json + one RocksDB checkpoint per partition
//   .tmp-snap-<id>/        a snapshot being built (removed on the next Open)
// A snapshot is built in a temporary directory, made durable, renamed into
// place, and only then named by LATEST, itself replaced by an atomic rename:
// a reader that follows LATEST never sees a partial snapshot.
//
// Thread safety: not thread-safe; one publisher per snapshot directory.
#ifndef ENCORE_STATE_SNAPSHOT_PUBLISHER_H_
#define ENCORE_STATE_SNAPSHOT_PUBLISHER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/manifest.pb.h"
#include "proto/user_state.pb.h"
#include "state/clock.h"
#include "state/model.h"
#include "state/state_store.h"

namespace encore {

inline constexpr uint32_t kSnapshotSchemaVersion = 1;
inline constexpr char kLatestFile[] = "LATEST";
inline constexpr char kManifestFile[] = "manifest.json";

class SnapshotPublisher {
 public:
  struct Options {
    std::string dir;
    int keep = 5;  // complete snapshots kept, newest first; >= 1
  };

  // Opens (creating) the snapshot directory, removes unfinished temporary
  // snapshots and continues the id sequence after the newest one present.
  // `clock` is not owned and must outlive the publisher.
  static absl::StatusOr<std::unique_ptr<SnapshotPublisher>> Open(
      Options options, Clock* clock);

  // Publishes a snapshot of `partitions` (their committed metadata, sorted by
  // partition) from `store`, whose state must be committed up to exactly
  // those metadata. On OK the snapshot is complete, durable and LATEST names
  // it; old ones beyond `keep` are removed. On error nothing is published and
  // LATEST still names the previous snapshot.
  // `off_policy` (from SummarizeOffPolicy) is copied into the manifest and
  // the greedy policy's progressive validation is advanced from the
  // previous snapshot's (AdvanceGreedyProgress, state/population.h).
  absl::StatusOr<SnapshotManifest> Publish(
      StateStore& store, const std::string& topic,
      const std::vector<PartitionMeta>& partitions, const ModelConfig& model,
      const OffPolicySummary& off_policy = OffPolicySummary());

 private:
  SnapshotPublisher(Options options, Clock* clock, uint64_t next_id)
      : options_(std::move(options)), clock_(clock), next_id_(next_id) {}
  void RemoveOld();

  const Options options_;
  Clock* const clock_;
  uint64_t next_id_;
  // The off-policy summary of the newest published snapshot, if any.
  std::optional<OffPolicySummary> previous_off_policy_;
};

// The directory name of snapshot `id`.
std::string SnapshotDirName(uint64_t id);

// The ids of the complete snapshot directories under `dir`, ascending.
std::vector<uint64_t> ListSnapshotIds(const std::string& dir);

}  // namespace encore

#endif  // ENCORE_STATE_SNAPSHOT_PUBLISHER_H_
