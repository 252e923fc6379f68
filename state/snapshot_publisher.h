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
#include "state/snapshot_layout.h"
#include "state/state_store.h"

namespace encore {

// One partition of a snapshot: its committed metadata and the store that
// holds it (not owned). Partitions of one snapshot may come from different
// stores (one per worker).
struct SnapshotPart {
  StateStore* store = nullptr;
  PartitionMeta meta;
};

class SnapshotPublisher {
 public:
  struct Options {
    std::string dir;
    int keep = 5;  // complete snapshots kept, newest first; >= 1
  };

  // Opens (creating) the snapshot directory, removes unfinished temporary
  // snapshots and continues the id sequence after the newest one present.
  // FailedPrecondition if `topic` is given and a snapshot in the
  // directory is of another topic (its readers would silently switch data
  // sets), as the state store refuses another topic's state.
  // `clock` is not owned and must outlive the publisher.
  static absl::StatusOr<std::unique_ptr<SnapshotPublisher>> Open(
      Options options, Clock* clock, const std::string& topic = "");

  // Publishes a snapshot of `parts` (sorted by partition), each from its
  // store, whose state must be committed up to exactly its metadata. On OK
  // the snapshot is complete, durable and LATEST names it; old ones beyond
  // `keep` are removed. On error nothing is published and LATEST still
  // names the previous snapshot. `off_policy` (from SummarizeOffPolicy) is
  // copied into the manifest and the greedy policy's progressive validation
  // is advanced from the previous snapshot's (AdvanceGreedyProgress,
  // state/population.h).
  // Only changed content is published: if the snapshot LATEST names has the
  // same topic, model, content digest and partition offsets, the new
  // checkpoint is dropped and that snapshot's manifest is returned; its
  // snapshot_id is then below next_id(). So restarts without new events
  // never push rollback points out of retention.
  // REQUIRES: no store is written to during the call.
  absl::StatusOr<SnapshotManifest> Publish(
      const std::vector<SnapshotPart>& parts, const std::string& topic,
      const ModelConfig& model,
      const OffPolicySummary& off_policy = OffPolicySummary());

  // Publication in two steps while writers go on committing to the stores.
  // Checkpoint() checkpoints each partition of `parts` (only `store` and
  // `meta.partition()` are used) into a temporary snapshot and reads its
  // metadata and arm aggregates back from the checkpoint: whatever commit
  // the checkpoint caught, the metadata describes exactly that state.
  // Complete() then builds the manifest and publishes it as Publish() does
  // (or, failing, removes the checkpoints). Until then the snapshot is only
  // a temporary directory, removed if the process ends meanwhile. One at a
  // time.
  // Thread safety: the stores' Checkpoint() must allow concurrent commits
  // (RocksStateStore does).
  struct Prepared {
    uint64_t id = 0;
    std::vector<PartitionMeta> metas;      // in the order of `parts`
    std::vector<ArmAggregate> aggregates;  // every partition's
  };
  absl::StatusOr<Prepared> Checkpoint(const std::vector<SnapshotPart>& parts);
  absl::StatusOr<SnapshotManifest> Complete(
      const Prepared& prepared, const std::string& topic,
      const ModelConfig& model,
      const OffPolicySummary& off_policy = OffPolicySummary());

  // The same, every partition from one store.
  absl::StatusOr<SnapshotManifest> Publish(
      StateStore& store, const std::string& topic,
      const std::vector<PartitionMeta>& partitions, const ModelConfig& model,
      const OffPolicySummary& off_policy = OffPolicySummary());

  // The snapshot directory.
  const std::string& dir() const { return options_.dir; }

  // The id the next new snapshot will get.
  uint64_t next_id() const { return next_id_; }

  // The topic's partition count, recorded in the manifests published from
  // now on (readers route users with it); 0: unknown.
  void set_topic_partitions(int32_t n) { topic_partitions_ = n; }

 private:
  SnapshotPublisher(Options options, Clock* clock, uint64_t next_id)
      : options_(std::move(options)), clock_(clock), next_id_(next_id) {}
  void RemoveOld();
  // Checkpoints `parts` into the next id's temporary directory; with
  // `read_back`, each one's metadata and aggregates come from its
  // checkpoint, else the metadata is part.meta.
  absl::StatusOr<Prepared> Prepare(const std::vector<SnapshotPart>& parts,
                                   bool read_back);

  const Options options_;
  Clock* const clock_;
  uint64_t next_id_;
  int32_t topic_partitions_ = 0;
  // The off-policy summary of the newest published snapshot, if any.
  std::optional<OffPolicySummary> previous_off_policy_;
};

// The event-time watermark the off-policy summary of `parts` is taken at:
// the smallest of the partitions that have one, 0 if none has.
int64_t PartsWatermark(const std::vector<SnapshotPart>& parts);
int64_t MetasWatermark(const std::vector<PartitionMeta>& metas);

}  // namespace encore

#endif  // ENCORE_STATE_SNAPSHOT_PUBLISHER_H_
