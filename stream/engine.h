// Engine: the partition-worker engine behind `encore run` and `encore
// backfill` alike.
//
// Partitions are spread over N workers (stream/partition_worker.h). Each
// worker owns a Processor (its partitions' write-back cache, aggregates and
// expiry index), a StateStore and a DeadLetterSink of its own, and runs on
// its own thread. The polling thread reads from the MessageSource, whose
// messages are kept apart in one lane per worker (RouteLanes), taking from
// each lane only what its worker's queue has room for, so a worker that is
// behind never holds up another; it queues every message (copied) for the
// worker that owns its partition, then polls again while the workers apply:
// each applies its partitions' messages in order and commits by its own policy.
// Rebalance callbacks (which run inside Poll) and snapshots go through the
// workers' queues, so they happen after everything queued before them: a
// revocation commits and closes the revoked partitions, with every message of
// theirs consumed so far applied, before the callback returns. Partitions are
// independent units of state (DESIGN rule 3): the stored state never depends on
// the number of workers or on which worker owns which partition.
//
//   Engine engine(options, parts, publisher, clock, &metrics, &health);
//   auto source = NewKafkaSource(source_options, &engine);
//   absl::Status s = engine.Run(*source, stop);
//
// Snapshots are published from the polling thread while the workers go on:
// a few seconds before one is due their stores start flushing memtables in
// the background; when it is due every worker commits, then each partition
// is checkpointed (hard links, and a flush of what was written since) and
// the manifest is built from what the checkpoints hold (their metadata and
// aggregates read back), so a snapshot is exactly the state up to its
// manifest's offsets whatever the workers commit meanwhile. With a checkpoint
// store (ProcessorOptions::checkpoints) each published snapshot's partition
// checkpoints are then uploaded on a thread of their own (CheckpointUploader),
// and a clean end of Run() waits for the last one.
//
// Thread safety: not thread-safe; one thread calls every method (Run, or
// the others directly), and the engine runs its workers itself. Every
// method but Run() returns once the workers did what it asks.
#ifndef ENCORE_STREAM_ENGINE_H_
#define ENCORE_STREAM_ENGINE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "state/clock.h"
#include "state/snapshot_publisher.h"
#include "state/state_store.h"
#include "stream/checkpoint_uploader.h"
#include "stream/dead_letter.h"
#include "stream/health.h"
#include "stream/message_source.h"
#include "stream/metrics.h"
#include "stream/partition_worker.h"
#include "stream/processor.h"

namespace encore {

struct EngineOptions {
  // Every worker's processor; the cache bounds are per worker (a share of
  // the process's budget).
  ProcessorOptions processor;
  int64_t snapshot_interval_ms = 60000;
  // Checkpoints kept per partition in the checkpoint store, if there is one.
  int checkpoint_keep = 5;
  // Messages asked of the source per poll.
  int poll_batch = 10000;
  // Backfill: Run() ends once every partition reached its end offset
  // (SetEndOffsets), with a final commit and Flush() but no snapshot.
  bool until_end = false;
  // After a commit, a worker flushes its store (commits become durable even
  // without a WAL) once it handled this many messages since its last flush;
  // 0 = only at the end of an until_end run.
  int64_t flush_every_messages = 0;
  // At most this many messages per second overall; 0 = unlimited.
  double max_messages_per_second = 0;
};

// What one worker works with; not owned, must outlive the engine.
struct WorkerParts {
  StateStore* store = nullptr;
  DeadLetterSink* dead_letters = nullptr;
};

class Engine final : public PartitionListener {
 public:
  // One worker per entry of `workers` (at least one). `publisher` may be
  // null (no snapshots), `health` too; none of the pointers are owned.
  Engine(EngineOptions options, const std::vector<WorkerParts>& workers,
         SnapshotPublisher* publisher, Clock* clock, Metrics* metrics,
         Health* health = nullptr);
  ~Engine() override;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  int workers() const { return static_cast<int>(workers_.size()); }

  // New partitions go to the workers with the fewest, which open them in
  // parallel. Returns where to start each one (stored next offset, or
  // kResetOffset). An error (a store that cannot be opened) is fatal.
  absl::StatusOr<std::map<int32_t, int64_t>> OnAssigned(
      const std::vector<int32_t>& partitions) override;
  // The owners commit and close the revoked partitions before it returns. A
  // failed final commit is logged, not fatal: the next owner redoes the work
  // from the stored offset.
  absl::Status OnRevoked(const std::vector<int32_t>& partitions) override;

  // Applies a polled batch and returns once it is applied: each worker
  // applies the messages of its partitions, in order, in parallel with the
  // others, and may commit by its policy. Messages of partitions not
  // assigned are ignored. An error leaves the failing worker's rest of the
  // batch unapplied: the caller must stop.
  absl::Status HandleBatch(const std::vector<Message>& batch);

  // True when some worker's commit policy says a commit is due.
  bool CommitDue();
  // Every worker commits its partitions, in parallel. On error nothing of a
  // failed partition advanced; its changes stay cached for the next attempt.
  absl::Status Commit();

  bool SnapshotDue() const;
  // Publishes a snapshot of every assigned partition as committed so far
  // (the workers may go on), unless their committed offsets are those of
  // the last one published.
  absl::Status PublishSnapshot();

  // Makes every worker's commits durable (Flush of its store).
  absl::Status Flush();

  // Backfill: a message at or past its partition's end offset is not
  // applied. REQUIRES: the partitions are assigned.
  void SetEndOffsets(const std::map<int32_t, int64_t>& ends);
  // True once every partition with an end offset is complete.
  bool ReachedEnd() const;

  std::map<int32_t, int64_t> CommittedOffsets() const;
  std::map<int32_t, int64_t> PendingOffsets() const;
  bool HasUncommitted() const;

  // Called on the polling thread after every step of Run() (progress).
  void SetAfterStep(std::function<void()> after_step) {
    after_step_ = std::move(after_step);
  }

  // Polls `source` and applies what it returns until `stop` becomes true, a
  // fatal error occurs or (until_end) every partition reached its end;
  // commits by policy (a failed commit is retried with backoff, consuming
  // nothing meanwhile, until it succeeds or stop is requested) and
  // publishes snapshots by policy. On a clean end: a final commit, the
  // offsets reported to the source, then a final snapshot (live) or a flush
  // (until_end), and the source is closed.
  absl::Status Run(MessageSource& source, const std::atomic<bool>& stop);

 private:
  struct Worker {
    StateStore* store;
    std::unique_ptr<Processor> processor;
    std::unique_ptr<PartitionWorker> thread;  // declared last: stops first
    int64_t partitions = 0;
  };

  // Queues every message of `batch` for the worker owning its partition.
  void Dispatch(const std::vector<Message>& batch);
  // Runs f on every worker's thread, after what is queued there, in
  // parallel, and returns their combined status once all are done.
  absl::Status OnAll(const std::function<absl::Status(Worker&)>& f);
  // A snapshot checkpointed, to be published.
  struct Publication {
    SnapshotPublisher::Prepared prepared;
    OffPolicySummary off_policy;
    std::map<int32_t, int64_t> committed;  // the checkpoints' offsets
    std::chrono::steady_clock::time_point start;
  };
  absl::Status Complete(const Publication& publication);
  // True when the stores should start flushing for the next snapshot.
  bool FlushDue() const;
  void StartFlushes();
  // The first worker failure, if any.
  absl::Status WorkerFailure() const;
  bool Stopping() const;

  const EngineOptions options_;
  SnapshotPublisher* const publisher_;
  Clock* const clock_;
  Metrics* const metrics_;
  Health* const health_;
  // Run()'s stop flag while it runs (the workers watch it).
  std::atomic<const std::atomic<bool>*> run_stop_{nullptr};
  std::atomic<bool> shutting_down_{false};  // set by the destructor
  StepBarrier barrier_;  // OnAll's rendezvous with the workers
  RoomSignal room_;      // the workers tell the polling thread of room
  std::vector<Worker> workers_;
  std::map<int32_t, int> owner_;  // assigned partition -> worker
  int64_t last_snapshot_ms_;
  bool flushing_ = false;  // StartFlushes() since the last snapshot
  std::map<int32_t, int64_t> last_snapshot_offsets_;
  std::function<void()> after_step_;
  // Set with a checkpoint store and a publisher.
  std::unique_ptr<CheckpointUploader> uploader_;
};

}  // namespace encore

#endif  // ENCORE_STREAM_ENGINE_H_
