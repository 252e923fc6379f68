// SnapshotPuller: keeps a local snapshot directory that follows a checkpoint
// store (state/checkpoint_store.h), for readers on hosts that run no encore
// member (`encore snapshot pull`).
//
// Each Pull() brings every partition the store holds up to its latest
// checkpoint in a mirror state under <dir>/.mirror (a changed partition is
// restored with RestoreIfNewer, reusing the SST files it already has), then
// publishes a snapshot of all of them into <dir> exactly as `encore run`
// does (SnapshotPublisher: checkpoints, manifest with digests and
// off-policy summary, LATEST by atomic rename; unchanged content publishes
// nothing). Readers open <dir> as any snapshot directory.
//
//   ASSIGN_OR_RETURN(auto puller, SnapshotPuller::Open(&checkpoints, dir, 5,
//                                                      SystemClock()));
//   ASSIGN_OR_RETURN(SnapshotManifest latest, puller->Pull());
//
// Thread safety: not thread-safe; one puller per directory (the caller
// locks it).
#ifndef ENCORE_STATE_SNAPSHOT_PULLER_H_
#define ENCORE_STATE_SNAPSHOT_PULLER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/manifest.pb.h"
#include "state/checkpoint_store.h"
#include "state/clock.h"
#include "state/snapshot_publisher.h"
#include "state/state_store.h"

namespace encore {

class SnapshotPuller {
 public:
  // `checkpoints` and `clock` are not owned and must outlive the puller.
  static absl::StatusOr<std::unique_ptr<SnapshotPuller>> Open(
      CheckpointStore* checkpoints, const std::string& dir, int keep,
      Clock* clock);

  // Pulls what changed and publishes; returns the manifest LATEST names
  // afterwards. NotFound if the store has no checkpoint of the topic;
  // FailedPrecondition if its partitions were written with different
  // models. On error the previous snapshot stays LATEST.
  absl::StatusOr<SnapshotManifest> Pull();

  // Partitions restored (changed) by the last Pull().
  int last_restored() const { return last_restored_; }

  // Damaged checkpoints the last Pull() passed over, with why.
  const std::vector<std::string>& last_refused() const { return last_refused_; }

 private:
  SnapshotPuller(CheckpointStore* checkpoints,
                 std::unique_ptr<StateStore> mirror,
                 std::unique_ptr<SnapshotPublisher> publisher)
      : checkpoints_(checkpoints),
        mirror_(std::move(mirror)),
        publisher_(std::move(publisher)) {}

  CheckpointStore* const checkpoints_;
  const std::unique_ptr<StateStore> mirror_;
  const std::unique_ptr<SnapshotPublisher> publisher_;
  int last_restored_ = 0;
  std::vector<std::string> last_refused_;
  // The checkpoint (without its file list) each partition's mirrored state
  // came from, once known.
  std::map<int32_t, PartitionCheckpoint> mirrored_;
};

}  // namespace encore

#endif  // ENCORE_STATE_SNAPSHOT_PULLER_H_
