// CheckpointUploader: sends each published snapshot's partition checkpoints
// to the checkpoint store (state/checkpoint_store.h) on a thread of its own,
// so the workers and the polling thread never wait for the store.
//
// Offer hard-links the snapshot's files into a staging directory of the
// uploader's (<snapshot_dir>/.upload-snap-<id>-<n>) before it returns, so
// snapshot retention removing the snapshot meanwhile takes nothing from
// the upload. Each upload prunes what the partition's older checkpoints
// alone needed; a partition another member claimed since is skipped
// (fenced). Only the newest snapshot matters: one offered while another
// uploads waits, replacing any older one still waiting. A failed upload is
// logged, counted and tried again after a backoff, unless a newer snapshot
// comes first; the other partitions of the snapshot are uploaded anyway.
//
//   CheckpointUploader uploader(&checkpoints, snapshot_dir, clock, &metrics,
//                               {.keep = 5});
//   uploader.Offer(manifest);  // after each publication
//   uploader.Drain();          // before exiting: the last one is stored
//
// Thread safety: Offer and Drain may be called from any thread, but Offer
// only while the snapshot it names is not being removed (the publisher's
// thread, right after Publish).
#ifndef ENCORE_STREAM_CHECKPOINT_UPLOADER_H_
#define ENCORE_STREAM_CHECKPOINT_UPLOADER_H_

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "proto/manifest.pb.h"
#include "state/checkpoint_store.h"
#include "state/clock.h"
#include "stream/metrics.h"

namespace encore {

class CheckpointUploader {
 public:
  struct Options {
    // After each upload of a partition, checkpoints of it beyond the newest
    // `keep` are pruned (CheckpointStore::Prune), with what only they need
    // and was written more than `prune_min_age_ms` ago.
    int keep = 5;
    int64_t prune_min_age_ms = 15 * 60'000;
    // A failed upload is tried again after this, doubling up to
    // `retry_max_ms`, unless a newer snapshot is offered first.
    int64_t retry_ms = 5'000;
    int64_t retry_max_ms = 5 * 60'000;
  };
  // None of the pointers are owned; all must outlive the uploader.
  CheckpointUploader(CheckpointStore* store, std::string snapshot_dir,
                     Clock* clock, Metrics* metrics, Options options);
  // Finishes the upload under way; one still waiting is dropped.
  ~CheckpointUploader();
  CheckpointUploader(const CheckpointUploader&) = delete;
  CheckpointUploader& operator=(const CheckpointUploader&) = delete;

  // Queues the snapshot `manifest` (published in the snapshot directory)
  // for upload.
  void Offer(const SnapshotManifest& manifest);

  // Waits until nothing is waiting or uploading (a failed upload waiting
  // to be retried is tried once more first); returns the last upload's
  // status.
  absl::Status Drain();

 private:
  struct Staged {
    SnapshotManifest manifest;
    std::string dir;  // the staging directory
  };
  void Loop();
  absl::Status Upload(const Staged& staged);
  // Removes a staged snapshot's directory (best effort).
  void Discard(const Staged& staged);

  CheckpointStore* const store_;
  const std::string snapshot_dir_;
  Clock* const clock_;
  Metrics* const metrics_;
  const Options options_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Staged> waiting_;  // guarded by mu_
  std::optional<Staged> failed_;   // to be retried; guarded by mu_
  int64_t retry_ms_ = 0;           // the backoff; guarded by mu_
  bool busy_ = false;              // guarded by mu_
  uint64_t uploading_ = 0;         // its snapshot id; guarded by mu_
  uint64_t uploaded_ = 0;          // the last snapshot uploaded; guarded by mu_
  uint64_t stagings_ = 0;          // staging directories made; guarded by mu_
  bool stopping_ = false;          // guarded by mu_
  absl::Status last_;              // guarded by mu_
  std::thread thread_;             // declared last: starts last
};

}  // namespace encore

#endif  // ENCORE_STREAM_CHECKPOINT_UPLOADER_H_
