#include "stream/checkpoint_uploader.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "state/crash_point.h"
#include "state/snapshot_publisher.h"

namespace encore {

CheckpointUploader::CheckpointUploader(CheckpointStore* store,
                                       std::string snapshot_dir, Clock* clock,
                                       Metrics* metrics, Options options)
    : store_(store),
      snapshot_dir_(std::move(snapshot_dir)),
      clock_(clock),
      metrics_(metrics),
      options_(options),
      thread_([this] { Loop(); }) {}

CheckpointUploader::~CheckpointUploader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CheckpointUploader::Offer(const SnapshotManifest& manifest) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting_ = manifest;
  }
  cv_.notify_all();
}

absl::Status CheckpointUploader::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !waiting_.has_value() && !busy_; });
  return last_;
}

void CheckpointUploader::Loop() {
  pthread_setname_np(pthread_self(), "encore-upload");
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || waiting_.has_value(); });
    if (stopping_) return;
    SnapshotManifest manifest = std::move(*waiting_);
    waiting_.reset();
    busy_ = true;
    lock.unlock();
    absl::Status status = Upload(manifest);
    lock.lock();
    busy_ = false;
    last_ = status;
    cv_.notify_all();
  }
}

absl::Status CheckpointUploader::Upload(const SnapshotManifest& manifest) {
  CrashPoint("checkpoint-upload");
  const auto start = std::chrono::steady_clock::now();
  const std::string dir =
      absl::StrCat(snapshot_dir_, "/", SnapshotDirName(manifest.snapshot_id()));
  uint64_t bytes = 0, sent = 0;
  int files_sent = 0;
  int removed = 0;
  int fenced = 0;
  for (const PartitionManifest& partition : manifest.partitions()) {
    absl::StatusOr<CheckpointUploadStats> stats =
        store_->Upload(absl::StrCat(dir, "/", partition.directory()), partition,
                       manifest, clock_->NowMs());
    if (absl::IsAborted(stats.status())) {
      // Another member owns the partition now (this snapshot was taken
      // before it was revoked, or this process was paused): not ours to
      // write. The others are uploaded as usual.
      metrics_->checkpoint_fenced.Increment();
      spdlog::warn("checkpoint of partition {} (snapshot {}) not uploaded: {}",
                   partition.partition(), manifest.snapshot_id(),
                   std::string(stats.status().message()));
      ++fenced;
      continue;
    }
    if (!stats.ok()) {
      // E.g. the store is unreachable, or the snapshot was removed by
      // retention meanwhile: the next snapshot's upload sends what lacks.
      metrics_->checkpoint_upload_failures.Increment();
      spdlog::warn(
          "checkpoint of partition {} (snapshot {}) not uploaded to "
          "{}: {}",
          partition.partition(), manifest.snapshot_id(), store_->Describe(),
          stats.status().ToString());
      return stats.status();
    }
    metrics_->checkpoint_uploads.Increment();
    metrics_->checkpoint_upload_bytes.Increment(
        static_cast<double>(stats->bytes_sent));
    bytes += stats->bytes;
    sent += stats->bytes_sent;
    files_sent += stats->files_sent;
    absl::StatusOr<CheckpointStore::PruneStats> pruned =
        store_->Prune(partition.partition(), options_.keep,
                      options_.prune_min_age_ms, clock_->NowMs());
    if (!pruned.ok()) {
      // Only space is at stake: the next upload prunes again.
      spdlog::warn("pruning checkpoints of partition {} in {}: {}",
                   partition.partition(), store_->Describe(),
                   pruned.status().ToString());
    } else {
      removed += pruned->objects_removed;
    }
  }
  if (fenced == manifest.partitions_size()) return absl::OkStatus();
  metrics_->checkpoint_last_upload.Set(static_cast<double>(clock_->NowMs()) /
                                       1000.0);
  spdlog::info(
      "snapshot {} checkpointed to {}: {} partition(s), {} bytes, {} new "
      "file(s) sent ({} bytes), {} unneeded object(s) removed, in {:.2f} s",
      manifest.snapshot_id(), store_->Describe(),
      manifest.partitions_size() - fenced, bytes, files_sent, sent, removed,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count());
  return absl::OkStatus();
}

}  // namespace encore
