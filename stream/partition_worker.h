// PartitionWorker: one thread that owns a Processor (its partitions' write-
// back cache, aggregates and expiry index) and applies the messages queued
// for it, in order, committing whenever the processor's policy says so.
// Tasks posted by the engine (open or close partitions, commit, start a
// flush ahead of a snapshot) run on the same thread, in queue order with the
// messages, so a task sees every message queued before it applied.
//
//   PartitionWorker worker(&processor, &store, options, [&] { return stop; });
//   MessageChunk chunk;
//   for (const Message& m : polled) chunk.Add(m);
//   worker.Enqueue(std::move(chunk));  // blocks while the queue is full
//   worker.Post([&] { status = processor.Commit(); latch.CountDown(); });
//
// The polling thread of the engine keeps polling while workers apply: a
// poll batch usually holds one partition's messages (whole record batches
// of one fetch), so handing batches over in lock step kept one worker busy
// at a time.
//
// A message the processor fails on (the store failed to read a user) stops
// the applying for good: later chunks are dropped, tasks still run, and
// failure() reports the error; the engine must stop.
//
// Thread safety: Enqueue() and Post() from one thread at a time (the
// engine's polling thread); progress() and failure() from any thread.
#ifndef ENCORE_STREAM_PARTITION_WORKER_H_
#define ENCORE_STREAM_PARTITION_WORKER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "state/state_store.h"
#include "stream/message_source.h"
#include "stream/processor.h"

namespace encore {

// Messages that own their bytes: a polled batch's views die at the next
// Poll(), while a worker may apply them later.
class MessageChunk {
 public:
  // Copies the message (key and payload bytes included).
  void Add(const Message& m);
  size_t size() const { return messages_.size(); }
  bool empty() const { return messages_.empty(); }
  // The messages, their views into this chunk's bytes; valid while the
  // chunk lives and nothing is added.
  const std::vector<Message>& messages();

 private:
  struct Span {
    size_t key, key_len, payload, payload_len;
  };
  std::string bytes_;
  std::vector<Message> messages_;
  std::vector<Span> spans_;
  bool sealed_ = true;
};

// Commits, retrying with backoff while the store refuses. Returns the last
// error if stop is requested before a commit succeeds.
absl::Status CommitWithRetry(Processor& processor,
                             const std::function<bool()>& stopping);

// RoomSignal: wakes a thread waiting for room in any of several workers'
// queues. Read generation(), look at the workers' Room(), and if none has
// any, WaitAfter(generation): a worker that made room since is not missed.
//
// Thread safety: thread-safe.
class RoomSignal {
 public:
  // Something left a queue (or a worker failed).
  void Notify();
  uint64_t generation() const;
  // Returns once Notify() was called after `generation` was read, or after
  // `timeout`.
  void WaitAfter(uint64_t generation, std::chrono::milliseconds timeout);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;  // guarded by mu_
};

struct PartitionWorkerOptions {
  // Enqueue() blocks while this many messages wait.
  size_t max_queued_messages = 20000;
  // After a commit, the store is flushed once this many messages were
  // handled since the last flush; 0 = never by policy.
  int64_t flush_every_messages = 0;
  // While idle, the commit policy (its interval) is checked this often.
  int idle_check_ms = 100;
  // Notified whenever the queue shrinks or the worker fails; optional, not
  // owned.
  RoomSignal* room = nullptr;
  // The worker's index in its engine: its thread's name is encore-w<index>.
  int index = 0;
};

// What the polling thread may know of a worker without stopping it.
struct WorkerProgress {
  std::map<int32_t, int64_t> committed;  // committed next offsets
  std::map<int32_t, int64_t> pending;    // next offsets applied
  bool uncommitted = false;
  bool reached_end = true;
};

// StepBarrier: the engine's rendezvous with its workers. A step expects n
// arrivals (one task per worker); the caller waits for all of them.
//
//   uint64_t step = barrier.Begin(workers);
//   // each worker's task: ...; barrier.Arrive(step);
//   barrier.WaitAll();
//
// Thread safety: Begin and WaitAll from one thread; Arrive from any.
class StepBarrier {
 public:
  // Starts a step of `n` arrivals; returns its generation for Arrive().
  // REQUIRES: the previous step's arrivals all happened (WaitAll returned).
  uint64_t Begin(size_t n);
  // Counts an arrival at step `generation`.
  void Arrive(uint64_t generation);
  // Waits until every arrival of the current step happened.
  void WaitAll();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;  // guarded by mu_
  size_t expected_ = 0;      // guarded by mu_
  size_t arrived_ = 0;       // guarded by mu_
};

class PartitionWorker {
 public:
  // Starts the thread. Neither pointer is owned; both must outlive the
  // worker. Once `stopping` returns true, a failing commit is not retried
  // any more: the worker fails.
  PartitionWorker(Processor* processor, StateStore* store,
                  PartitionWorkerOptions options,
                  std::function<bool()> stopping);
  // Runs the tasks still queued (dropping the chunks), then joins.
  ~PartitionWorker();
  PartitionWorker(const PartitionWorker&) = delete;
  PartitionWorker& operator=(const PartitionWorker&) = delete;

  // Queues a chunk, blocking while the queue is full. Dropped (not applied)
  // if the worker failed: the caller must stop polling then, and the
  // dropped messages are redone from the stored offsets on the next start.
  void Enqueue(MessageChunk chunk);
  // How many messages Enqueue() takes now without blocking (0 when full);
  // unbounded once the worker failed, as everything is dropped then.
  int Room() const;

  // Queues a task, run on the worker's thread after what was queued
  // before it. The task may use the processor and the store.
  void Post(std::function<void()> task);

  // Handled messages since the last flush; for tasks (worker thread only).
  int64_t& unflushed() { return unflushed_; }

  // Publishes the processor's offsets and flags for progress(); called by
  // the worker after every chunk and task, and by tasks that must have
  // them published before they signal (worker thread only).
  void PublishProgress();

  WorkerProgress progress() const;
  // The error that stopped the applying, if any.
  std::optional<absl::Status> failure() const;

 private:
  struct Item {
    MessageChunk chunk;
    std::function<void()> task;  // set: a task, not a chunk
  };

  void ThreadMain();
  void Apply(MessageChunk& chunk);
  // Commits if the policy says so (and flushes if due).
  void CommitIfDue();

  Processor* const processor_;
  StateStore* const store_;
  const PartitionWorkerOptions options_;
  const std::function<bool()> stopping_;

  mutable std::mutex mu_;
  std::condition_variable work_;   // an item was queued, or shutdown
  std::condition_variable space_;  // the queue shrank, or the worker failed
  std::deque<Item> queue_;         // guarded by mu_
  size_t queued_messages_ = 0;     // guarded by mu_
  bool shutdown_ = false;          // guarded by mu_
  std::optional<absl::Status> failure_;  // guarded by mu_
  WorkerProgress progress_;              // guarded by mu_

  // Worker thread only.
  int64_t unflushed_ = 0;

  std::thread thread_;  // last: starts after every member is initialized
};

}  // namespace encore

#endif  // ENCORE_STREAM_PARTITION_WORKER_H_
