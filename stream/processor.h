// Processor: applies consumed messages to per-partition user state and
// commits it exactly once (DESIGN rule 2).
//
// Per assigned partition it keeps a shard of a write-back cache of user
// states (stream/user_cache.h), an expiry index of pending impressions
// (stream/expiry_index.h) and the arm aggregates (state/aggregates.h). A
// commit writes, per partition, every dirty user and the partition's next
// offset in one atomic store write; only then are offsets reported to Kafka.
// The Engine (stream/engine.h) runs one processor per worker, each over its
// own partitions, and publishes snapshots of their committed state.
//
// Thread safety: not thread-safe; driven by one thread at a time (the
// engine's worker, or the polling thread while the workers are idle).
#ifndef ENCORE_STREAM_PROCESSOR_H_
#define ENCORE_STREAM_PROCESSOR_H_

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "state/aggregates.h"
#include "state/checkpoint_store.h"
#include "state/clock.h"
#include "state/model.h"
#include "state/state_store.h"
#include "stream/dead_letter.h"
#include "stream/expiry_index.h"
#include "stream/gauge_share.h"
#include "stream/health.h"
#include "stream/message_source.h"
#include "stream/metrics.h"
#include "stream/user_cache.h"
#include "stream/validation.h"

namespace encore {

struct ProcessorOptions {
  std::string topic;
  ModelConfig model;
  ValidationLimits limits;
  int64_t commit_interval_ms = 1000;  // commit at least this often
  // or after this many events: a bound for bursts, above what one worker
  // applies in commit_interval_ms, so that time decides (a user touched
  // again before the commit is written once; bench/results/commit-cadence.md)
  int64_t commit_max_events = 400000;
  // Users kept in memory across all partitions; clean users beyond it are
  // evicted (a commit is forced when dirty ones alone exceed it).
  size_t cache_max_users = 1'000'000;
  // Estimated bytes of the cached users (stream/cache_footprint.h), the
  // same way: clean users beyond it are evicted, also between commits; a
  // commit is due when dirty users alone reach half of it, and happens in
  // the middle of a batch when they reach all of it.
  size_t cache_max_bytes = size_t{256} << 20;
  int dead_letter_flush_timeout_ms = 30000;
  // If set (not owned), an assigned partition whose latest checkpoint there
  // is ahead of the local state is restored from it (RestoreIfNewer); a
  // failed restore fails the assignment.
  CheckpointStore* checkpoints = nullptr;
  // The topic's partition count (0: unknown). Events whose user id the
  // producers' partitioner puts elsewhere are counted in the partition's
  // metadata (events_unroutable): readers route users only while none are.
  int32_t topic_partitions = 0;
};

class Processor final : public PartitionListener {
 public:
  // None of the pointers are owned; all must outlive the processor.
  // `health` may be null.
  Processor(ProcessorOptions options, StateStore* store,
            DeadLetterSink* dead_letters, Clock* clock, Metrics* metrics,
            Health* health = nullptr);
  // Withdraws what it showed in shared gauges and in `health`.
  ~Processor() override;
  Processor(const Processor&) = delete;
  Processor& operator=(const Processor&) = delete;

  absl::StatusOr<std::map<int32_t, int64_t>> OnAssigned(
      const std::vector<int32_t>& partitions) override;
  absl::Status OnRevoked(const std::vector<int32_t>& partitions) override;

  // Decodes, validates and applies one message (or dead-letters it); an
  // end-of-partition marker goes to MarkPartitionEof.
  // Messages of unassigned partitions, or below the partition's next offset,
  // are ignored. An error (the store failed to read a user) leaves the
  // message unapplied: the caller must stop and not go past it.
  absl::Status Handle(const Message& message) {
    return Handle(message, nullptr);
  }

  // Reads the batch's uncached users in one batched read per partition
  // (Prefetch), then handles the batch in order, stopping at the first
  // error (the rest stays unapplied; a failed read applies nothing), then
  // publishes the batch's per-event counters. Commits
  // in the middle if dirty users alone fill the cache's byte budget (a
  // failure there is left to the caller's next commit).
  absl::Status HandleBatch(const std::vector<Message>& batch);

  // Publishes the per-event counters accumulated since the last call
  // (HandleBatch() and Commit() do).
  void FlushMetrics();

  // True when the commit policy (interval, event count, dirty users or
  // bytes in the cache) says a commit is due.
  bool CommitDue();

  // Commits every partition with changes. On error nothing of the failed
  // partition advanced; its changes stay cached for the next attempt.
  absl::Status Commit();

  // Whether whoever drives this processor stopped applying messages until a
  // failed commit succeeds (CommitWithRetry() says so): counted in
  // encore_workers_stalled.
  void SetStalled(bool stalled) { stalled_shown_.Show(stalled ? 1 : 0); }

  // The committed next offset per assigned partition.
  std::map<int32_t, int64_t> CommittedOffsets() const;
  // The next offset to apply per assigned partition (committed or not).
  std::map<int32_t, int64_t> PendingOffsets() const;

  // Backfill: a message at or past its partition's end offset is not
  // applied. REQUIRES: the partitions are assigned.
  void SetEndOffsets(std::map<int32_t, int64_t> ends);
  // The source reached the end of `partition`'s log at `offset`. If that is
  // at or past the partition's end offset, the partition is complete and its
  // next offset becomes the end offset (nothing before it is left unread).
  void MarkPartitionEof(int32_t partition, int64_t offset);
  // True once every partition with an end offset is complete.
  bool ReachedEnd() const;
  size_t assigned_partitions() const { return partitions_.size(); }
  bool HasUncommitted() const { return uncommitted_events_ > 0; }
  // The write-back cache's estimated bytes, as charged against
  // cache_max_bytes.
  size_t cache_bytes() const { return cache_.bytes(); }

 private:
  struct Partition {
    PartitionMeta committed;
    PartitionMeta pending;
    int64_t end_offset = -1;            // backfill bound; -1 = none
    UserCache::Shard* users = nullptr;  // in cache_
    PartitionAggregates aggregates;
    uint64_t arms_dropped_at_open = 0;
    ExpiryIndex expiries;
    bool skip_logged = false;  // offsets skipped since it was assigned
    // The users that the batch's event times bring due, in the order
    // ExpireUpTo() will close them, their cached records (valid while the
    // cache's generation is prefetched_generation_) and how many
    // ExpireUpTo() has closed since. See Prefetch().
    std::vector<std::string> due_ids;
    std::vector<CachedUser*> due_users;
    size_t due_closed = 0;
  };

  // The cached state of `user_id`, read from the store on a miss.
  absl::StatusOr<CachedUser*> LoadUser(int32_t id, Partition& p,
                                       absl::string_view user_id);
  // Caches `user_id` (not cached yet) with its stored state, if any.
  CachedUser& AddToCache(Partition& p, absl::string_view user_id,
                         std::optional<StoredUser> stored);
  // Reads the batch's users that are not cached, in one batched read per
  // partition, so that Handle() finds them cached instead of reading them
  // one at a time. By contract a message's key is its event's user id
  // (producers key by user); a key that is not only caches a clean user
  // that eviction drops. With them come the users whose pending
  // impressions the batch's event times would close (ExpiryIndex::Due, at
  // most 256 more than the partition's messages). Evicts first, so the
  // cache exceeds its budget by at most those users until the next
  // eviction.
  // It also leaves in prefetched_[i] the cached user of message i's key
  // found then (nullptr if not cached then), and in each partition's
  // due_users the users coming due, valid while the cache's generation is
  // prefetched_generation_.
  absl::Status Prefetch(const std::vector<Message>& batch);
  // Called by ExpireUpTo() for each due user it closes, in order: asks for
  // the due users a few closes ahead (no recent event may have touched
  // them), and returns the cached `user_id` if Prefetch() foresaw it as
  // this close's (nullptr: look it up).
  CachedUser* NextDue(Partition& p, absl::string_view user_id);
  // Handle(), given the user its key had when the batch was prefetched
  // (nullptr: look it up), so that a message costs one cache lookup.
  absl::Status Handle(const Message& message, CachedUser* prefetched);
  void MarkDirty(Partition& p, CachedUser& user);
  // Re-indexes the user's expiry deadline after its state changed.
  void Reindex(Partition& p, CachedUser& user);
  // Resolves the impressions whose window ended before `watermark_ms`.
  absl::Status ExpireUpTo(int32_t id, Partition& p, int64_t watermark_ms);
  absl::Status CommitPartition(int32_t id, Partition& p);
  // Opens an assigned partition, restoring it first from
  // options_.checkpoints if that holds a newer state.
  absl::StatusOr<PartitionMeta> OpenOrRestore(int32_t partition);
  // Drops clean users while the cache is over a budget (users or bytes).
  void EvictIfNeeded();
  void UpdateCacheGauges();
  void UpdateStoreGauges();
  void UpdateAssignedGauges();

  const ProcessorOptions options_;
  StateStore* const store_;
  DeadLetterSink* const dead_letters_;
  Clock* const clock_;
  Metrics* const metrics_;
  Health* const health_;

  // The engine's processors share one Metrics: each shows its own share
  // of the process-wide gauges.
  GaugeShare assigned_shown_, cached_users_shown_, dirty_users_shown_,
      cache_bytes_shown_, dirty_bytes_shown_, block_cache_shown_,
      stalled_shown_;
  int64_t health_assigned_shown_ = 0;

  std::map<int32_t, Partition> partitions_;
  UserCache cache_;
  int64_t uncommitted_events_ = 0;
  size_t evicted_bytes_since_trim_ = 0;  // estimated bytes, see Commit()
  int64_t last_commit_ms_;
  // What a payload that takes protobuf's parser is parsed into (Handle()'s
  // event then views it); reused to avoid an allocation per message.
  ListenEvent parsed_event_;
  std::vector<CachedUser*> prefetched_;  // see Prefetch()
  uint64_t prefetched_generation_ = 0;
  // Set when Handle() failed half way through (the cache may then hold a
  // partly applied change): nothing more is committed.
  bool failed_ = false;
  // Event times applied since the last commit, for the event -> commit
  // latency histogram; at most commit_max_events + one poll batch long.
  std::vector<int64_t> uncommitted_event_times_;
  uint64_t dead_letter_failures_seen_ = 0;
  uint64_t unflushed_consumed_ = 0;
  uint64_t unflushed_applied_[4] = {0, 0, 0, 0};
  uint64_t unflushed_duplicates_ = 0;
  uint64_t unflushed_expired_ = 0;
  uint64_t stall_micros_seen_ = 0;
};

}  // namespace encore

#endif  // ENCORE_STREAM_PROCESSOR_H_
