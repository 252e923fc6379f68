#include "stream/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "state/population.h"
#include "state/status_macros.h"

namespace encore {

Engine::Engine(EngineOptions options, const std::vector<WorkerParts>& workers,
               SnapshotPublisher* publisher, Clock* clock, Metrics* metrics,
               Health* health)
    : options_(std::move(options)),
      publisher_(publisher),
      clock_(clock),
      metrics_(metrics),
      health_(health),
      last_snapshot_ms_(clock->MonotonicMs()) {
  PartitionWorkerOptions worker_options;
  // Enough to keep a worker busy while the next batch is polled; the
  // copies (~200 B a message) stay small beside the cache.
  worker_options.max_queued_messages = 20000;
  worker_options.flush_every_messages = options_.flush_every_messages;
  worker_options.room = &room_;
  if (options_.processor.checkpoints != nullptr && publisher_ != nullptr) {
    uploader_ = std::make_unique<CheckpointUploader>(
        options_.processor.checkpoints, publisher_->dir(), clock_, metrics_,
        CheckpointUploader::Options{.keep = options_.checkpoint_keep});
  }
  workers_.resize(workers.size());
  for (size_t i = 0; i < workers.size(); ++i) {
    worker_options.index = static_cast<int>(i);
    workers_[i].store = workers[i].store;
    workers_[i].processor = std::make_unique<Processor>(
        options_.processor, workers[i].store, workers[i].dead_letters, clock,
        metrics, health);
    workers_[i].thread = std::make_unique<PartitionWorker>(
        workers_[i].processor.get(), workers[i].store, worker_options,
        [this] { return Stopping(); });
  }
}

Engine::~Engine() {
  // A worker retrying a failed commit gives up, so the join cannot hang.
  shutting_down_ = true;
  for (Worker& w : workers_) w.thread.reset();
}

bool Engine::Stopping() const {
  if (shutting_down_.load()) return true;
  const std::atomic<bool>* stop = run_stop_.load();
  return stop != nullptr && stop->load();
}

absl::Status Engine::OnAll(const std::function<absl::Status(Worker&)>& f) {
  std::vector<absl::Status> statuses(workers_.size());
  const uint64_t step = barrier_.Begin(workers_.size());
  for (size_t i = 0; i < workers_.size(); ++i) {
    workers_[i].thread->Post([this, &f, &statuses, step, i] {
      statuses[i] = f(workers_[i]);
      workers_[i].thread->PublishProgress();
      barrier_.Arrive(step);
    });
  }
  barrier_.WaitAll();
  absl::Status status;
  for (const absl::Status& s : statuses) status.Update(s);
  return status;
}

absl::Status Engine::WorkerFailure() const {
  for (const Worker& w : workers_) {
    if (std::optional<absl::Status> f = w.thread->failure()) return *f;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<int32_t, int64_t>> Engine::OnAssigned(
    const std::vector<int32_t>& partitions) {
  metrics_->rebalances.Increment();
  std::vector<std::vector<int32_t>> given(workers_.size());
  for (int32_t id : partitions) {
    if (owner_.count(id) > 0) continue;
    // The worker with the fewest partitions (ties: the lowest index).
    size_t best = 0;
    for (size_t w = 1; w < workers_.size(); ++w) {
      if (workers_[w].partitions < workers_[best].partitions) best = w;
    }
    owner_[id] = static_cast<int>(best);
    ++workers_[best].partitions;
    given[best].push_back(id);
  }
  std::vector<std::map<int32_t, int64_t>> starts(workers_.size());
  RETURN_IF_ERROR(OnAll([&](Worker& w) -> absl::Status {
    const size_t i = static_cast<size_t>(&w - workers_.data());
    if (given[i].empty()) return absl::OkStatus();
    ASSIGN_OR_RETURN(starts[i], w.processor->OnAssigned(given[i]));
    return absl::OkStatus();
  }));
  std::map<int32_t, int64_t> all;
  for (auto& s : starts) all.merge(s);
  return all;
}

absl::Status Engine::OnRevoked(const std::vector<int32_t>& partitions) {
  metrics_->rebalances.Increment();
  std::vector<std::vector<int32_t>> taken(workers_.size());
  for (int32_t id : partitions) {
    auto it = owner_.find(id);
    if (it == owner_.end()) continue;
    taken[static_cast<size_t>(it->second)].push_back(id);
    --workers_[static_cast<size_t>(it->second)].partitions;
    owner_.erase(it);
  }
  return OnAll([&](Worker& w) -> absl::Status {
    const size_t i = static_cast<size_t>(&w - workers_.data());
    if (taken[i].empty()) return absl::OkStatus();
    return w.processor->OnRevoked(taken[i]);
  });
}

void Engine::Dispatch(const std::vector<Message>& batch) {
  // Small chunks keep the copies few (a worker holds at most its queue
  // bound plus the chunk it applies) and hand work over early.
  constexpr size_t kChunkMessages = 1000;
  std::vector<MessageChunk> chunks(workers_.size());
  for (const Message& m : batch) {
    auto it = owner_.find(m.partition);
    if (it == owner_.end()) continue;
    const size_t w = static_cast<size_t>(it->second);
    chunks[w].Add(m);
    if (chunks[w].size() >= kChunkMessages) {
      workers_[w].thread->Enqueue(std::move(chunks[w]));
      chunks[w] = MessageChunk();
    }
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    workers_[i].thread->Enqueue(std::move(chunks[i]));
  }
}

absl::Status Engine::HandleBatch(const std::vector<Message>& batch) {
  Dispatch(batch);
  RETURN_IF_ERROR(OnAll([](Worker&) { return absl::OkStatus(); }));
  return WorkerFailure();
}

bool Engine::CommitDue() {
  std::atomic<bool> due{false};
  OnAll([&](Worker& w) {
    if (w.processor->CommitDue()) due = true;
    return absl::OkStatus();
  }).IgnoreError();
  return due.load();
}

absl::Status Engine::Commit() {
  return OnAll([](Worker& w) { return w.processor->Commit(); });
}

absl::Status Engine::Flush() {
  return OnAll([](Worker& w) -> absl::Status {
    RETURN_IF_ERROR(w.store->Flush());
    w.thread->unflushed() = 0;
    return absl::OkStatus();
  });
}

bool Engine::SnapshotDue() const {
  return publisher_ != nullptr && !owner_.empty() &&
         clock_->MonotonicMs() - last_snapshot_ms_ >=
             options_.snapshot_interval_ms;
}

// How long before a snapshot is due the stores start flushing (at most
// half the interval): enough for a memtable flush while the workers run.
constexpr int64_t kFlushLeadMs = 5000;

bool Engine::FlushDue() const {
  return publisher_ != nullptr && !owner_.empty() && !flushing_ &&
         clock_->MonotonicMs() - last_snapshot_ms_ >=
             options_.snapshot_interval_ms -
                 std::min(kFlushLeadMs, options_.snapshot_interval_ms / 2);
}

void Engine::StartFlushes() {
  flushing_ = true;
  // Not waited for: each worker queues its flushes between two chunks.
  for (Worker& w : workers_) {
    StateStore* store = w.store;
    w.thread->Post([store] { store->StartFlush(); });
  }
}

absl::Status Engine::PublishSnapshot() {
  if (publisher_ == nullptr || owner_.empty()) return absl::OkStatus();
  last_snapshot_ms_ = clock_->MonotonicMs();
  flushing_ = false;
  if (CommittedOffsets() == last_snapshot_offsets_) {
    // The latest snapshot is still current: nothing to publish.
    metrics_->snapshot_last_success.Set(static_cast<double>(clock_->NowMs()) /
                                        1000.0);
    return absl::OkStatus();
  }
  // The workers go on applying and committing meanwhile: each partition's
  // checkpoint holds some commit of its worker whole, and the metadata
  // and aggregates the manifest is built from are read back from it.
  // Rebalances cannot close a partition meanwhile: they run on this thread.
  std::vector<SnapshotPart> parts;
  for (const auto& [partition, w] : owner_) {
    SnapshotPart part;
    part.store = workers_[static_cast<size_t>(w)].store;
    part.meta.set_partition(partition);
    parts.push_back(std::move(part));
  }
  Publication publication;
  publication.start = std::chrono::steady_clock::now();
  absl::StatusOr<SnapshotPublisher::Prepared> prepared =
      publisher_->Checkpoint(parts);
  if (!prepared.ok()) {
    metrics_->snapshot_failures.Increment();
    return prepared.status();
  }
  publication.prepared = *std::move(prepared);
  const ModelConfig& model = options_.processor.model;
  Population population;
  for (const ArmAggregate& a : publication.prepared.aggregates) {
    AddToPopulation(model, a, &population);
  }
  publication.off_policy = SummarizeOffPolicy(
      model, population, MetasWatermark(publication.prepared.metas));
  for (const PartitionMeta& meta : publication.prepared.metas) {
    if (meta.next_offset() >= 0) {
      publication.committed[meta.partition()] = meta.next_offset();
    }
  }
  return Complete(publication);
}

absl::Status Engine::Complete(const Publication& publication) {
  const uint64_t new_id = publication.prepared.id;
  absl::StatusOr<SnapshotManifest> manifest =
      publisher_->Complete(publication.prepared, options_.processor.topic,
                           options_.processor.model, publication.off_policy);
  if (!manifest.ok()) {
    metrics_->snapshot_failures.Increment();
    return manifest.status();
  }
  last_snapshot_offsets_ = publication.committed;
  // Also a snapshot found current: the store may lack it (a member that
  // restarts, or a store configured since); what it has is not sent again.
  if (uploader_ != nullptr) uploader_->Offer(*manifest);
  if (manifest->snapshot_id() != new_id) {
    // The content equals the published LATEST (e.g. a restart without new
    // events): that snapshot is still current, nothing new was published.
    metrics_->snapshot_last_success.Set(static_cast<double>(clock_->NowMs()) /
                                        1000.0);
    spdlog::info("snapshot {} is still current (digest {}): not republished",
                 manifest->snapshot_id(),
                 manifest->content_digest().substr(0, 16));
    return absl::OkStatus();
  }
  metrics_->snapshots.Increment();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                    publication.start)
          .count();
  metrics_->snapshot_duration.Observe(seconds);
  metrics_->snapshot_bytes.Set(static_cast<double>(manifest->total_bytes()));
  metrics_->snapshot_last_success.Set(
      static_cast<double>(manifest->created_at_ms()) / 1000.0);
  metrics_->snapshot_users.Set(static_cast<double>(manifest->user_count()));
  metrics_->snapshot_impressions_in_flight.Set(
      static_cast<double>(manifest->off_policy().in_flight_impressions()));
  spdlog::info("published snapshot {} ({} users, digest {}) in {:.3f} s",
               manifest->snapshot_id(), manifest->user_count(),
               manifest->content_digest().substr(0, 16), seconds);
  return absl::OkStatus();
}

void Engine::SetEndOffsets(const std::map<int32_t, int64_t>& ends) {
  OnAll([&](Worker& w) {
    w.processor->SetEndOffsets(ends);
    return absl::OkStatus();
  }).IgnoreError();
}

bool Engine::ReachedEnd() const {
  return std::all_of(workers_.begin(), workers_.end(), [](const Worker& w) {
    return w.thread->progress().reached_end;
  });
}

std::map<int32_t, int64_t> Engine::CommittedOffsets() const {
  std::map<int32_t, int64_t> all;
  for (const Worker& w : workers_) all.merge(w.thread->progress().committed);
  return all;
}

std::map<int32_t, int64_t> Engine::PendingOffsets() const {
  std::map<int32_t, int64_t> all;
  for (const Worker& w : workers_) all.merge(w.thread->progress().pending);
  return all;
}

bool Engine::HasUncommitted() const {
  return std::any_of(workers_.begin(), workers_.end(), [](const Worker& w) {
    return w.thread->progress().uncommitted;
  });
}

absl::Status Engine::Run(MessageSource& source, const std::atomic<bool>& stop) {
  run_stop_ = &stop;
  const double rate = options_.max_messages_per_second;
  // Throttled, batches stay small so the pace is even.
  const int batch_size =
      rate > 0 ? static_cast<int>(std::clamp(rate / 20, 1.0, 10000.0))
               : options_.poll_batch;
  const auto start = std::chrono::steady_clock::now();
  int64_t handled = 0;
  std::vector<Message> batch;
  std::map<int32_t, int64_t> reported;  // offsets last told to the source
  absl::Status status;
  // Each worker's partitions come in a lane of their own, and the source
  // takes from a lane only what its worker has room for: a worker that is
  // behind never holds up the others' messages.
  source.RouteLanes(static_cast<int>(workers_.size()), [this](int32_t p) {
    auto it = owner_.find(p);
    return it == owner_.end() ? -1 : it->second;
  });
  std::vector<int> room(workers_.size());
  while (!stop.load() && !(options_.until_end && ReachedEnd())) {
    const uint64_t seen = room_.generation();
    bool any_room = false;
    for (size_t i = 0; i < workers_.size(); ++i) {
      room[i] = workers_[i].thread->Room();
      any_room = any_room || room[i] > 0;
    }
    if (!any_room) {
      room_.WaitAfter(seen, std::chrono::milliseconds(100));
      continue;
    }
    status = source.PollLanes(batch_size, room, 100, &batch);
    if (status.ok()) {
      Dispatch(batch);
      status = WorkerFailure();
    }
    if (!status.ok()) break;
    handled += static_cast<int64_t>(batch.size());
    if (health_ != nullptr) health_->RecordUncommitted(HasUncommitted());
    if (FlushDue()) StartFlushes();
    if (SnapshotDue()) {
      // A commit first, so the snapshot is fresh; the workers go on at once.
      status = OnAll([this](Worker& w) {
        return CommitWithRetry(*w.processor, [this] { return Stopping(); });
      });
      if (!status.ok()) break;
      if (absl::Status s = PublishSnapshot(); !s.ok()) {
        spdlog::error("snapshot failed: {}", s.ToString());
      }
    }
    if (std::map<int32_t, int64_t> now = CommittedOffsets(); now != reported) {
      source.CommitOffsetsAsync(now);
      reported = std::move(now);
    }
    if (after_step_) after_step_();
    if (rate > 0) {
      std::this_thread::sleep_until(
          start +
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
              std::chrono::duration<double>(handled / rate)));
    }
  }
  if (!status.ok()) {
    // Whatever was committed is consistent; everything after it is redone
    // from the stored offsets on the next start.
    spdlog::error("stopping on error: {}", status.ToString());
    if (health_ != nullptr) health_->SetFatal(status.ToString());
    source.Close().IgnoreError();
    run_stop_ = nullptr;
    return status;
  }
  // A backfill's caller reports its own end (a progress bar may still be
  // on the terminal's line here).
  spdlog::log(options_.until_end ? spdlog::level::debug : spdlog::level::info,
              "stopping: final commit and {}",
              options_.until_end ? "flush" : "snapshot");
  status = Commit();
  if (status.ok()) status = WorkerFailure();
  if (status.ok()) {
    source.CommitOffsetsAsync(CommittedOffsets());
    status = options_.until_end ? Flush() : PublishSnapshot();
    if (!status.ok() && !options_.until_end) {
      spdlog::error("final snapshot failed: {}", status.ToString());
    }
    if (status.ok() && uploader_ != nullptr) {
      // The partitions' next owners restore from it. Not fatal: the state
      // is committed here, and a next owner restoring an older checkpoint
      // replays the rest from Kafka.
      if (absl::Status s = uploader_->Drain(); !s.ok()) {
        spdlog::error("final checkpoint upload failed: {}", s.ToString());
      }
    }
  }
  if (after_step_) after_step_();
  absl::Status closed = source.Close();
  run_stop_ = nullptr;
  if (!status.ok()) return status;
  return closed;
}

}  // namespace encore
