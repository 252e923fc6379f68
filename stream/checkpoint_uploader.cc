#include "stream/checkpoint_uploader.h"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "state/crash_point.h"
#include "state/file_util.h"
#include "state/snapshot_publisher.h"

namespace encore {

namespace {

constexpr char kStagingPrefix[] = ".upload-";

// Best effort: what is left is removed by the next process.
void RemoveAll(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

// Hard-links the snapshot's partition directories into `staging` (created).
absl::Status Stage(const std::string& snapshot, const SnapshotManifest& m,
                   const std::string& staging) {
  std::error_code ec;
  std::filesystem::create_directory(staging, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("create ", staging, ": ", ec.message()));
  }
  for (const PartitionManifest& partition : m.partitions()) {
    const std::string from = absl::StrCat(snapshot, "/", partition.directory());
    const std::string to = absl::StrCat(staging, "/", partition.directory());
    std::filesystem::create_directory(to, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("create ", to, ": ", ec.message()));
    }
    for (const auto& entry : std::filesystem::directory_iterator(from, ec)) {
      if (!entry.is_regular_file()) continue;
      const std::string target =
          absl::StrCat(to, "/", entry.path().filename().string());
      if (::link(entry.path().c_str(), target.c_str()) != 0) {
        return ErrnoStatus("link " + entry.path().string(), errno);
      }
    }
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("list ", from, ": ", ec.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

CheckpointUploader::CheckpointUploader(CheckpointStore* store,
                                       std::string snapshot_dir, Clock* clock,
                                       Metrics* metrics, Options options)
    : store_(store),
      snapshot_dir_(std::move(snapshot_dir)),
      clock_(clock),
      metrics_(metrics),
      options_(options),
      thread_([this] { Loop(); }) {
  // Staging directories a previous process left behind.
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(snapshot_dir_, ec)) {
    if (absl::StartsWith(entry.path().filename().string(), kStagingPrefix)) {
      RemoveAll(entry.path());
    }
  }
}

CheckpointUploader::~CheckpointUploader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (waiting_.has_value()) Discard(*waiting_);
  if (failed_.has_value()) Discard(*failed_);
}

void CheckpointUploader::Discard(const Staged& staged) {
  RemoveAll(staged.dir);
}

void CheckpointUploader::Offer(const SnapshotManifest& manifest) {
  const std::string name = SnapshotDirName(manifest.snapshot_id());
  Staged staged{manifest, ""};
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The same snapshot offered again (nothing new was published): the
    // upload done, under way, waiting or to be retried serves.
    if (uploaded_ == manifest.snapshot_id() ||
        (busy_ && uploading_ == manifest.snapshot_id()) ||
        (waiting_.has_value() &&
         waiting_->manifest.snapshot_id() == manifest.snapshot_id())) {
      return;
    }
    if (failed_.has_value() &&
        failed_->manifest.snapshot_id() == manifest.snapshot_id()) {
      waiting_ = std::move(failed_);  // at once, not after the backoff
      failed_.reset();
      cv_.notify_all();
      return;
    }
    // Each staging gets a name of its own: one being removed never mixes
    // with a new one.
    staged.dir = absl::StrCat(snapshot_dir_, "/", kStagingPrefix, name, "-",
                              ++stagings_);
  }
  if (absl::Status s =
          Stage(absl::StrCat(snapshot_dir_, "/", name), manifest, staged.dir);
      !s.ok()) {
    metrics_->checkpoint_upload_failures.Increment();
    spdlog::warn("snapshot {} not checkpointed: staging it failed: {}",
                 manifest.snapshot_id(), s.ToString());
    RemoveAll(staged.dir);
    std::lock_guard<std::mutex> lock(mu_);
    last_ = s;  // Drain reports it
    return;
  }
  std::optional<Staged> replaced, superseded;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Only the newest matters: it supersedes one waiting or to be retried.
    replaced = std::move(waiting_);
    waiting_ = std::move(staged);
    superseded = std::move(failed_);
    failed_.reset();
  }
  if (replaced.has_value()) Discard(*replaced);
  if (superseded.has_value()) Discard(*superseded);
  cv_.notify_all();
}

absl::Status CheckpointUploader::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  bool retried = false;
  while (true) {
    cv_.wait(lock, [this] { return !waiting_.has_value() && !busy_; });
    if (!failed_.has_value() || retried) return last_;
    waiting_ = std::move(failed_);
    failed_.reset();
    retried = true;
    cv_.notify_all();
  }
}

void CheckpointUploader::Loop() {
  pthread_setname_np(pthread_self(), "encore-upload");
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (failed_.has_value() && !waiting_.has_value()) {
      // Retried when the backoff ends, unless a newer one comes first.
      const bool woken =
          cv_.wait_for(lock, std::chrono::milliseconds(retry_ms_),
                       [this] { return stopping_ || waiting_.has_value(); });
      if (!woken && failed_.has_value()) {
        waiting_ = std::move(failed_);
        failed_.reset();
      }
    } else {
      cv_.wait(lock, [this] { return stopping_ || waiting_.has_value(); });
    }
    if (stopping_) return;
    if (!waiting_.has_value()) continue;
    Staged staged = std::move(*waiting_);
    waiting_.reset();
    busy_ = true;
    uploading_ = staged.manifest.snapshot_id();
    lock.unlock();
    absl::Status status = Upload(staged);
    lock.lock();
    last_ = status;
    if (status.ok() || waiting_.has_value()) {
      if (status.ok()) uploaded_ = staged.manifest.snapshot_id();
      // Still busy while the staging goes: Drain returns only once it has.
      lock.unlock();
      Discard(staged);
      lock.lock();
      retry_ms_ = 0;
    } else {
      retry_ms_ = retry_ms_ == 0
                      ? options_.retry_ms
                      : std::min(2 * retry_ms_, options_.retry_max_ms);
      failed_ = std::move(staged);
    }
    busy_ = false;
    cv_.notify_all();
  }
}

absl::Status CheckpointUploader::Upload(const Staged& staged) {
  CrashPoint("checkpoint-upload");
  const SnapshotManifest& manifest = staged.manifest;
  const std::string& dir = staged.dir;
  const auto start = std::chrono::steady_clock::now();
  absl::Status first_error;
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
      // E.g. the store is unreachable: retried, or the next snapshot's
      // upload sends what lacks. The other partitions go on.
      metrics_->checkpoint_upload_failures.Increment();
      spdlog::warn(
          "checkpoint of partition {} (snapshot {}) not uploaded to "
          "{}: {}",
          partition.partition(), manifest.snapshot_id(), store_->Describe(),
          stats.status().ToString());
      if (first_error.ok()) first_error = stats.status();
      continue;
    }
    metrics_->checkpoint_uploads.Increment();
    metrics_->checkpoint_upload_bytes.Increment(
        static_cast<double>(stats->bytes_sent));
    bytes += stats->bytes;
    sent += stats->bytes_sent;
    files_sent += stats->files_sent;
    absl::StatusOr<CheckpointStore::PruneStats> pruned = store_->Prune(
        partition.partition(), options_.keep, options_.prune_min_age_ms);
    if (!pruned.ok()) {
      // Only space is at stake: the next upload prunes again.
      spdlog::warn("pruning checkpoints of partition {} in {}: {}",
                   partition.partition(), store_->Describe(),
                   pruned.status().ToString());
    } else {
      removed += pruned->objects_removed;
    }
  }
  if (!first_error.ok()) return first_error;
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
