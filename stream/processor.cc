#include "stream/processor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "state/allocator.h"
#include "state/crash_point.h"
#include "state/listen_event.h"
#include "state/partitioner.h"
#include "state/record_prefetch.h"
#include "state/status_macros.h"
#include "stream/cache_footprint.h"

namespace encore {

Processor::Processor(ProcessorOptions options, StateStore* store,
                     DeadLetterSink* dead_letters, Clock* clock,
                     Metrics* metrics, Health* health)
    : options_(std::move(options)),
      store_(store),
      dead_letters_(dead_letters),
      clock_(clock),
      metrics_(metrics),
      health_(health),
      assigned_shown_{&metrics->assigned_partitions},
      cached_users_shown_{&metrics->cached_users},
      dirty_users_shown_{&metrics->dirty_users},
      cache_bytes_shown_{&metrics->cache_bytes},
      dirty_bytes_shown_{&metrics->cache_dirty_bytes},
      block_cache_shown_{&metrics->rocksdb_block_cache_usage},
      stalled_shown_{&metrics->workers_stalled},
      cache_({.max_users = options_.cache_max_users,
              .max_bytes = options_.cache_max_bytes}),
      last_commit_ms_(clock->MonotonicMs()) {}

Processor::~Processor() {
  // The gauge shares withdraw themselves.
  if (health_) {
    health_->AddAssignedPartitions(-health_assigned_shown_);
    health_->SetStoreError(this, "");
  }
}

void Processor::UpdateAssignedGauges() {
  const auto n = static_cast<int64_t>(partitions_.size());
  assigned_shown_.Show(static_cast<double>(n));
  if (health_) health_->AddAssignedPartitions(n - health_assigned_shown_);
  health_assigned_shown_ = n;
}

absl::StatusOr<PartitionMeta> Processor::OpenOrRestore(int32_t partition) {
  if (options_.checkpoints == nullptr) return store_->OpenPartition(partition);
  const auto start = std::chrono::steady_clock::now();
  // Claimed first: from here on a former owner's uploads are refused and
  // what it writes under its lower epoch is never the latest.
  absl::StatusOr<uint64_t> epoch =
      options_.checkpoints->Claim(partition, clock_->NowMs());
  const ModelConfigProto model = options_.model.ToProto();
  RestoreReport report;
  absl::StatusOr<PartitionMeta> meta =
      epoch.ok() ? RestoreIfNewer(*options_.checkpoints, *store_, partition,
                                  &model, &report)
                 : absl::StatusOr<PartitionMeta>(epoch.status());
  for (const std::string& why : report.refused) {
    metrics_->checkpoint_refused.Increment();
    spdlog::error("partition {}: damaged checkpoint passed over: {}", partition,
                  why);
  }
  if (!meta.ok()) {
    return absl::Status(meta.status().code(),
                        absl::StrCat("partition ", partition,
                                     ": restore from the checkpoint store: ",
                                     meta.status().message()));
  }
  if (const std::optional<PartitionCheckpoint>& restored = report.restored;
      restored.has_value()) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    metrics_->checkpoint_restores.Increment();
    metrics_->checkpoint_restore_duration.Observe(seconds);
    spdlog::info(
        "partition {} restored from {} in {:.2f} s: offset {}, {} users, {} "
        "bytes, checkpointed by {} (snapshot {}); claimed as epoch {}",
        partition, options_.checkpoints->Describe(), seconds,
        restored->next_offset(), restored->users(), restored->total_bytes(),
        restored->writer(), restored->snapshot_id(), *epoch);
  } else {
    spdlog::info("partition {} claimed in {} as epoch {}; local state kept",
                 partition, options_.checkpoints->Describe(), *epoch);
  }
  return meta;
}

absl::StatusOr<std::map<int32_t, int64_t>> Processor::OnAssigned(
    const std::vector<int32_t>& partitions) {
  std::map<int32_t, int64_t> starts;
  for (int32_t id : partitions) {
    ASSIGN_OR_RETURN(PartitionMeta meta, OpenOrRestore(id));
    ASSIGN_OR_RETURN(PartitionContents contents,
                     store_->ReadPartitionContents(id));
    Partition& p = partitions_[id];
    if (p.users == nullptr) p.users = &cache_.AddShard(id);
    p.committed = meta;
    p.pending = meta;
    // A partition's routing check starts with its history; one that began
    // unchecked (or under another partition count) stays unroutable.
    if (meta.next_offset() < 0 && options_.topic_partitions > 0) {
      p.pending.set_routed_among(options_.topic_partitions);
    }
    p.aggregates.Reset(std::move(contents.aggregates));
    p.arms_dropped_at_open = meta.arms_dropped();
    for (ExpiryEntry& e : contents.expiries) {
      p.expiries.Move(e.user_id, -1, e.deadline_ms);
    }
    starts[id] = meta.next_offset() >= 0 ? meta.next_offset() : kResetOffset;
    spdlog::info("partition {} assigned: resuming at {}", id,
                 meta.next_offset() >= 0 ? absl::StrCat(meta.next_offset())
                                         : std::string("the reset point"));
  }
  UpdateAssignedGauges();
  UpdateStoreGauges();
  return starts;
}

absl::Status Processor::OnRevoked(const std::vector<int32_t>& partitions) {
  absl::Status status;
  for (int32_t id : partitions) {
    auto it = partitions_.find(id);
    if (it == partitions_.end()) continue;
    absl::Status s = CommitPartition(id, it->second);
    if (s.ok()) s = store_->ClosePartition(id);
    if (!s.ok()) {
      // Uncommitted changes are dropped with the partition: its stored
      // offset still points before them, so whoever gets the partition next
      // applies them again. Nothing is lost or counted twice.
      spdlog::error("partition {} revoked without a final commit: {}", id,
                    s.ToString());
      status.Update(s);
    }
    cache_.RemoveShard(id);
    partitions_.erase(it);
    metrics_->RemovePartition(id);
    spdlog::info("partition {} revoked", id);
  }
  UpdateAssignedGauges();
  UpdateCacheGauges();
  // A failed final commit is not fatal to the member: the next owner redoes
  // the work from the stored offset.
  return absl::OkStatus();
}

absl::Status Processor::Handle(const Message& m, CachedUser* prefetched) {
  auto pit = partitions_.find(m.partition);
  if (pit == partitions_.end()) return absl::OkStatus();
  Partition& p = pit->second;
  if (m.partition_eof) {
    MarkPartitionEof(m.partition, m.offset);
    return absl::OkStatus();
  }
  if (p.pending.next_offset() >= 0 && m.offset < p.pending.next_offset()) {
    return absl::OkStatus();  // already applied (a re-fetch after a seek)
  }
  if (p.end_offset >= 0 && m.offset >= p.end_offset) {
    return absl::OkStatus();  // past the backfill's end: not ours
  }
  if (p.pending.next_offset() >= 0 && m.offset > p.pending.next_offset()) {
    // Compaction, transaction markers and aborted transactions leave holes
    // in a partition's offsets; a topic without them has none, and a hole
    // there is messages this state never saw.
    metrics_->offsets_skipped.Increment(
        static_cast<double>(m.offset - p.pending.next_offset()));
    if (!p.skip_logged) {
      p.skip_logged = true;
      spdlog::warn(
          "partition {}: offsets {} to {} were skipped (the next message is "
          "at {}): expected if the topic is compacted or written by "
          "transactions, lost messages otherwise (encore_offsets_skipped_total "
          "counts them; logged once per assignment)",
          m.partition, p.pending.next_offset(), m.offset - 1, m.offset);
    }
  }
  ++unflushed_consumed_;

  if (failed_) {
    return absl::FailedPreconditionError(
        "the processor failed earlier; restart from the stored offsets");
  }
  // The event's strings view m.payload (or parsed_event_): it does not
  // outlive this call.
  ListenEventView event;
  Verdict verdict = DecodeAndValidate(m.payload, m.key, m.timestamp_ms,
                                      options_.limits, &parsed_event_, &event);
  if (verdict.ok() && p.pending.watermark_ms() > 0 &&
      event.event_time_ms() <
          p.pending.watermark_ms() - options_.model.lateness_ms) {
    verdict.reason = RejectReason::kLate;
    verdict.detail = absl::StrCat("event time ", event.event_time_ms(),
                                  " is more than ", options_.model.lateness_ms,
                                  " ms behind the partition watermark ",
                                  p.pending.watermark_ms());
  }
  if (!verdict.ok()) {
    metrics_->rejected(verdict.reason).Increment();
    RETURN_IF_ERROR(dead_letters_->Send(options_.topic, m, verdict));
    metrics_->dead_letters.Increment();
    p.pending.set_events_rejected(p.pending.events_rejected() + 1);
  } else {
    const int64_t watermark =
        std::max(p.pending.watermark_ms(), event.event_time_ms());
    // Impressions whose window the new watermark passes are resolved first,
    // then the event is applied (state/MODEL.md, "Reward attribution").
    if (p.expiries.FirstDue(watermark).has_value()) {
      absl::Status s = ExpireUpTo(m.partition, p, watermark);
      if (!s.ok()) {
        failed_ = true;
        return s;
      }
    }
    // The prefetched user is the key's, which validation made sure is the
    // event's user; it is used only if nothing was evicted since (expiry
    // above and mid-batch commits may evict).
    CachedUser* user = prefetched;
    if (user == nullptr || cache_.generation() != prefetched_generation_) {
      ASSIGN_OR_RETURN(user, LoadUser(m.partition, p, event.user_id()));
    }
    if (options_.topic_partitions > 0 &&
        KafkaPartition(event.user_id(), options_.topic_partitions) !=
            m.partition) {
      p.pending.set_events_unroutable(p.pending.events_unroutable() + 1);
      metrics_->events_unroutable.Increment();
    }
    const ApplyOutcome outcome =
        ApplyEvent(options_.model, event, &user->state, &p.aggregates);
    MarkDirty(p, *user);
    Reindex(p, *user);
    cache_.Charge(*user, EventFootprint(m.payload.size()));
    p.pending.set_watermark_ms(watermark);
    if (outcome == ApplyOutcome::kDuplicate) {
      p.pending.set_events_duplicate(p.pending.events_duplicate() + 1);
      ++unflushed_duplicates_;
    } else {
      p.pending.set_events_applied(p.pending.events_applied() + 1);
      ++unflushed_applied_[static_cast<int>(event.kind()) & 3];
    }
    p.pending.set_arms_dropped(p.arms_dropped_at_open + p.aggregates.dropped());
    uncommitted_event_times_.push_back(event.event_time_ms());
  }
  p.pending.set_next_offset(m.offset + 1);
  ++uncommitted_events_;
  return absl::OkStatus();
}

absl::StatusOr<CachedUser*> Processor::LoadUser(int32_t id, Partition& p,
                                                absl::string_view user_id) {
  if (CachedUser* cached = p.users->Find(user_id)) return cached;
  // A miss: make room first. Only clean users go, and no caller holds one.
  EvictIfNeeded();
  absl::StatusOr<std::optional<StoredUser>> stored =
      store_->ReadUser(id, user_id);
  if (!stored.ok()) return stored.status();
  return &AddToCache(p, user_id, std::move(*stored));
}

CachedUser& Processor::AddToCache(Partition& p, absl::string_view user_id,
                                  std::optional<StoredUser> stored) {
  CachedUser& user = cache_.Add(*p.users, user_id, std::move(stored));
  user.stored_expiry = NextExpiry(options_.model, user.state);
  user.expiry = user.stored_expiry;
  return user;
}

absl::Status Processor::Prefetch(const std::vector<Message>& batch) {
  std::map<int32_t, std::vector<absl::string_view>> missing;
  absl::flat_hash_set<std::pair<int32_t, absl::string_view>> seen;
  // Per partition, the newest event time the batch may bring the watermark
  // to (bounded as validation bounds it: no later than an hour, by default,
  // after the message's timestamp) and the batch's message count.
  std::map<int32_t, std::pair<int64_t, size_t>> reach;
  size_t count = 0;
  // Room first (only clean users go), so that none this batch needs is
  // evicted after it was found cached.
  EvictIfNeeded();
  prefetched_.assign(batch.size(), nullptr);
  for (size_t i = 0; i < batch.size(); ++i) {
    // Each lookup waits for its hash table slot unless it was asked for a
    // few messages earlier.
    constexpr size_t kSlotAhead = 8;
    if (i + kSlotAhead < batch.size()) {
      const Message& ahead = batch[i + kSlotAhead];
      auto it = partitions_.find(ahead.partition);
      if (it != partitions_.end()) it->second.users->PrefetchSlot(ahead.key);
    }
    const Message& m = batch[i];
    if (m.partition_eof || m.key.empty()) continue;
    auto it = partitions_.find(m.partition);
    if (it == partitions_.end()) continue;
    if (std::optional<int64_t> t = !it->second.expiries.empty()
                                       ? PeekEventTime(m.payload)
                                       : std::nullopt) {
      const int64_t skew = options_.limits.max_future_skew_ms;
      if (m.timestamp_ms > 0 &&
          m.timestamp_ms <= std::numeric_limits<int64_t>::max() - skew) {
        *t = std::min(*t, m.timestamp_ms + skew);  // no overflow either way
      }
      auto& [newest, messages] = reach[m.partition];
      newest = std::max(newest, *t);
      ++messages;
    }
    if (CachedUser* cached = it->second.users->Find(m.key)) {
      prefetched_[i] = cached;
      continue;
    }
    if (!seen.emplace(m.partition, m.key).second) continue;
    missing[m.partition].push_back(m.key);
    ++count;
  }
  // The users whose pending impressions that watermark closes are read in
  // the same batched read, not one at a time as they come due (a bounded
  // number: a bogus event time cannot load the whole index).
  constexpr size_t kDueBeyondMessages = 256;
  for (auto& [id, p] : partitions_) {
    p.due_ids.clear();
    p.due_users.clear();
    p.due_closed = 0;
  }
  for (const auto& [id, r] : reach) {
    Partition& p = partitions_.at(id);
    p.due_ids = p.expiries.Due(r.first, r.second + kDueBeyondMessages);
    p.due_users.assign(p.due_ids.size(), nullptr);
    for (size_t j = 0; j < p.due_ids.size(); ++j) {
      constexpr size_t kSlotAhead = 8;
      if (j + kSlotAhead < p.due_ids.size()) {
        p.users->PrefetchSlot(p.due_ids[j + kSlotAhead]);
      }
      p.due_users[j] = p.users->Find(p.due_ids[j]);
      if (p.due_users[j] == nullptr && seen.emplace(id, p.due_ids[j]).second) {
        missing[id].push_back(p.due_ids[j]);
        ++count;
      }
    }
  }
  prefetched_generation_ = cache_.generation();  // reading adds, evicts none
  if (count > 0) {
    for (const auto& [id, keys] : missing) {
      ASSIGN_OR_RETURN(std::vector<std::optional<StoredUser>> stored,
                       store_->ReadUsers(id, keys));
      Partition& p = partitions_.at(id);
      for (size_t i = 0; i < keys.size(); ++i) {
        AddToCache(p, std::string(keys[i]), std::move(stored[i]));
      }
    }
    // The due users just read (here or for an earlier message's key).
    for (const auto& [id, r] : reach) {
      Partition& p = partitions_.at(id);
      for (size_t j = 0; j < p.due_ids.size(); ++j) {
        if (p.due_users[j] == nullptr) {
          p.due_users[j] = p.users->Find(p.due_ids[j]);
        }
      }
    }
  }
  return absl::OkStatus();
}

CachedUser* Processor::NextDue(Partition& p, absl::string_view user_id) {
  const size_t closed = p.due_closed++;
  if (cache_.generation() != prefetched_generation_) return nullptr;
  // The record of the user a few closes ahead, then the start of its
  // pending list (and its arms, which closing rewards) once that record is
  // here. A due user that Prefetch() did not foresee (its entry came
  // during the batch) only shifts which users these are.
  constexpr size_t kUserAhead = 4, kListsAhead = 2;
  if (closed + kUserAhead < p.due_users.size()) {
    if (const CachedUser* u = p.due_users[closed + kUserAhead]) {
      // Only the lines closing reads: all of them would wait for free
      // fill buffers.
      __builtin_prefetch(&u->state.user_id);
      __builtin_prefetch(&u->state.arms);
      __builtin_prefetch(&u->state.pending);
      __builtin_prefetch(&u->expiry);
    }
  }
  if (closed + kListsAhead < p.due_users.size()) {
    if (const CachedUser* u = p.due_users[closed + kListsAhead]) {
      PrefetchBytes(u->state.pending.data(), sizeof(PendingRecord));
      __builtin_prefetch(u->state.arms.data());
    }
  }
  if (closed < p.due_ids.size() && p.due_ids[closed] == user_id) {
    return p.due_users[closed];  // what Find(user_id) would return
  }
  return nullptr;
}

void Processor::MarkDirty(Partition& p, CachedUser& user) {
  cache_.MarkDirty(*p.users, user);
}

void Processor::Reindex(Partition& p, CachedUser& user) {
  const int64_t next = NextExpiry(options_.model, user.state);
  p.expiries.Move(user.state.user_id, user.expiry, next);
  user.expiry = next;
}

absl::Status Processor::ExpireUpTo(int32_t id, Partition& p,
                                   int64_t watermark_ms) {
  while (std::optional<ExpiryIndex::Entry> due =
             p.expiries.FirstDue(watermark_ms)) {
    const std::string& user_id = due->user;
    CachedUser* user = NextDue(p, user_id);
    if (user == nullptr) {
      ASSIGN_OR_RETURN(user, LoadUser(id, p, user_id));
    }
    int unanswered = 0;
    const int closed = ExpireImpressions(
        options_.model, watermark_ms, &user->state, &p.aggregates, &unanswered);
    if (closed == 0) {
      // The index disagrees with the state: drop the entry rather than
      // loop (cannot happen unless the store was edited by hand).
      spdlog::warn("partition {}: stale expiry entry for user {}", id, user_id);
      p.expiries.Move(user_id, due->deadline_ms, -1);
      user->expiry = NextExpiry(options_.model, user->state);
      p.expiries.Move(user_id, -1, user->expiry);
      MarkDirty(p, *user);
      continue;
    }
    unflushed_expired_ += static_cast<uint64_t>(unanswered);
    MarkDirty(p, *user);
    Reindex(p, *user);
  }
  return absl::OkStatus();
}

absl::Status Processor::HandleBatch(const std::vector<Message>& batch) {
  absl::Status status = Prefetch(batch);
  if (!status.ok()) {
    FlushMetrics();
    return status;
  }
  bool commit_failed = false;
  for (size_t i = 0; i < batch.size(); ++i) {
    // Users are scattered over the heap and each event's first touch of
    // its user waited for memory: ask for a user a few messages ahead.
    constexpr size_t kAhead = 6;
    if (i + kAhead < batch.size() && prefetched_[i + kAhead] != nullptr &&
        cache_.generation() == prefetched_generation_) {
      const char* bytes =
          reinterpret_cast<const char*>(prefetched_[i + kAhead]);
      for (size_t b = 0; b < sizeof(CachedUser); b += 64) {
        __builtin_prefetch(bytes + b);
      }
    }
    status = Handle(batch[i], prefetched_[i]);
    if (!status.ok()) break;
    if (cache_.DirtyFull() && !commit_failed) {
      commit_failed = !Commit().ok();
    }
  }
  FlushMetrics();
  return status;
}

void Processor::FlushMetrics() {
  // Per-event counters are summed locally and published per batch: atomic
  // increments per event were a visible share of the processing time.
  if (unflushed_consumed_ > 0) {
    metrics_->events_consumed.Increment(
        static_cast<double>(unflushed_consumed_));
    unflushed_consumed_ = 0;
  }
  if (unflushed_duplicates_ > 0) {
    metrics_->duplicates.Increment(static_cast<double>(unflushed_duplicates_));
    unflushed_duplicates_ = 0;
  }
  if (unflushed_expired_ > 0) {
    metrics_->impressions_expired.Increment(
        static_cast<double>(unflushed_expired_));
    unflushed_expired_ = 0;
  }
  for (int k = 0; k < 4; ++k) {
    if (unflushed_applied_[k] == 0) continue;
    metrics_->applied(static_cast<ListenEvent::Kind>(k))
        .Increment(static_cast<double>(unflushed_applied_[k]));
    unflushed_applied_[k] = 0;
  }
}

bool Processor::CommitDue() {
  if (uncommitted_events_ == 0) return false;
  return uncommitted_events_ >= options_.commit_max_events ||
         cache_.DirtyDue() ||
         clock_->MonotonicMs() - last_commit_ms_ >= options_.commit_interval_ms;
}

absl::Status Processor::CommitPartition(int32_t id, Partition& p) {
  if (failed_) {
    return absl::FailedPreconditionError(
        "not committing: the processor failed half way through a message");
  }
  // Nothing new is committed only if the store needs no repair: the commit
  // repairs it (e.g. flushes stopped after a full disk, which would keep
  // the partition out of every snapshot).
  if (p.pending.SerializeAsString() == p.committed.SerializeAsString() &&
      p.users->dirty().empty() && !p.aggregates.HasChanges() &&
      !store_->NeedsRepair(id)) {
    return absl::OkStatus();
  }
  CommitBatch batch;
  const std::vector<CachedUser*>& dirty = p.users->dirty();
  batch.users.reserve(dirty.size());
  batch.stored_user_hashes.reserve(dirty.size());
  for (const CachedUser* u : dirty) {
    batch.users.push_back(&u->state);
    batch.stored_user_hashes.push_back(u->stored_hash);
    if (u->expiry != u->stored_expiry) {
      if (u->stored_expiry >= 0) {
        batch.expiry_deletes.push_back({u->stored_expiry, u->state.user_id});
      }
      if (u->expiry >= 0) {
        batch.expiry_puts.push_back({u->expiry, u->state.user_id});
      }
    }
  }
  AggregateChanges arms = p.aggregates.Changes();
  batch.aggregates = std::move(arms.changed);
  batch.deleted_aggregates = std::move(arms.deleted);
  batch.meta = p.pending;
  std::vector<EntryHash> user_hashes;
  PartitionMeta stored_meta;
  size_t written_bytes = 0;
  batch.written_bytes = &written_bytes;
  batch.user_hashes = &user_hashes;
  batch.stored_meta = &stored_meta;
  absl::Status s = store_->Commit(id, batch);
  if (!s.ok()) {
    metrics_->commit_failures.Increment();
    return s;
  }
  metrics_->commits.Increment();
  metrics_->commit_users.Observe(static_cast<double>(batch.users.size()));
  metrics_->commit_bytes.Increment(static_cast<double>(written_bytes));
  CrashPoint("commit-partition");
  p.aggregates.MarkCommitted();
  for (size_t i = 0; i < dirty.size(); ++i) {
    CachedUser* u = dirty[i];
    if (user_hashes.size() == dirty.size()) u->stored_hash = user_hashes[i];
    u->stored_expiry = u->expiry;
  }
  cache_.MarkClean(*p.users);
  // As stored: with the partition's new content digest and user count.
  p.committed = std::move(stored_meta);
  p.pending = p.committed;
  return absl::OkStatus();
}

absl::Status Processor::Commit() {
  const auto start = std::chrono::steady_clock::now();
  FlushMetrics();
  // Dead letters first: a rejected message's offset must not be committed
  // before its dead-letter record is delivered.
  absl::Status status =
      dead_letters_->Flush(options_.dead_letter_flush_timeout_ms);
  if (status.ok()) {
    for (auto& [id, p] : partitions_) {
      absl::Status s = CommitPartition(id, p);
      if (!s.ok()) {
        spdlog::error("commit of partition {} failed: {}", id, s.ToString());
        status.Update(s);
      }
    }
  }
  // Processors sharing one Health (the engine's workers) are healthy
  // together: one's success does not hide another's failing store.
  if (health_) {
    health_->SetStoreError(this, status.ok() ? "" : status.ToString());
    metrics_->store_healthy.Set(health_->StoreHealthy() ? 1 : 0);
  } else {
    metrics_->store_healthy.Set(status.ok() ? 1 : 0);
  }
  const uint64_t dlq_failures = dead_letters_->failures();
  metrics_->dead_letter_failures.Increment(
      static_cast<double>(dlq_failures - dead_letter_failures_seen_));
  dead_letter_failures_seen_ = dlq_failures;
  if (!status.ok()) return status;
  uncommitted_events_ = 0;
  last_commit_ms_ = clock_->MonotonicMs();
  const int64_t now_ms = clock_->NowMs();
  for (int64_t t : uncommitted_event_times_) {
    metrics_->event_commit_latency.Observe(
        static_cast<double>(std::max<int64_t>(now_ms - t, 0)) / 1000.0);
  }
  uncommitted_event_times_.clear();
  for (const auto& [id, p] : partitions_) {
    if (p.committed.watermark_ms() > 0) {
      metrics_->event_time_lag(id).Set(
          static_cast<double>(now_ms - p.committed.watermark_ms()) / 1000.0);
    }
  }
  metrics_->last_commit_timestamp.Set(static_cast<double>(now_ms) / 1000.0);
  if (health_) health_->RecordCommit(last_commit_ms_);
  metrics_->commit_duration.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count());
  EvictIfNeeded();
  // Evicted users leave freed memory that the allocator keeps (glibc in
  // its arenas, one per worker thread; jemalloc until its decay time), so
  // RSS would not follow the cache down: once a quarter of the cache's
  // budget was evicted, hand back what it holds beyond that quarter (the
  // budget's slack share is as large as the cache's).
  if (evicted_bytes_since_trim_ >= options_.cache_max_bytes / 4) {
    ReleaseFreeMemory(options_.cache_max_bytes / 4);
    evicted_bytes_since_trim_ = 0;
  }
  UpdateCacheGauges();
  UpdateStoreGauges();
  return absl::OkStatus();
}

void Processor::EvictIfNeeded() {
  evicted_bytes_since_trim_ += cache_.EvictIfNeeded();
}

void Processor::UpdateStoreGauges() {
  const StoreStats stats = store_->Stats();
  block_cache_shown_.Show(static_cast<double>(stats.block_cache_usage_bytes));
  if (stats.stall_micros > stall_micros_seen_) {
    metrics_->rocksdb_stall_seconds.Increment(
        static_cast<double>(stats.stall_micros - stall_micros_seen_) / 1e6);
    stall_micros_seen_ = stats.stall_micros;
  }
  for (const auto& [id, s] : stats.partitions) {
    metrics_->rocksdb_estimated_keys(id).Set(
        static_cast<double>(s.estimated_keys));
    metrics_->rocksdb_live_sst_bytes(id).Set(
        static_cast<double>(s.live_sst_bytes));
    metrics_->rocksdb_memtable_bytes(id).Set(
        static_cast<double>(s.memtable_bytes));
    metrics_->rocksdb_pending_compaction_bytes(id).Set(
        static_cast<double>(s.pending_compaction_bytes));
    metrics_->rocksdb_table_readers_bytes(id).Set(
        static_cast<double>(s.table_readers_bytes));
  }
}

void Processor::UpdateCacheGauges() {
  cached_users_shown_.Show(static_cast<double>(cache_.users()));
  dirty_users_shown_.Show(static_cast<double>(cache_.dirty_users()));
  cache_bytes_shown_.Show(static_cast<double>(cache_.bytes()));
  dirty_bytes_shown_.Show(static_cast<double>(cache_.dirty_bytes()));
}

std::map<int32_t, int64_t> Processor::PendingOffsets() const {
  std::map<int32_t, int64_t> out;
  for (const auto& [id, p] : partitions_) out[id] = p.pending.next_offset();
  return out;
}

void Processor::SetEndOffsets(std::map<int32_t, int64_t> ends) {
  for (const auto& [id, end] : ends) {
    auto it = partitions_.find(id);
    if (it != partitions_.end()) it->second.end_offset = end;
  }
}

void Processor::MarkPartitionEof(int32_t partition, int64_t offset) {
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return;
  Partition& p = it->second;
  if (p.end_offset < 0 || offset < p.end_offset) return;
  if (p.pending.next_offset() < p.end_offset) {
    p.pending.set_next_offset(p.end_offset);
    ++uncommitted_events_;  // the offset itself must be committed
  }
}

bool Processor::ReachedEnd() const {
  for (const auto& [id, p] : partitions_) {
    if (p.end_offset >= 0 && p.pending.next_offset() < p.end_offset) {
      return false;
    }
  }
  return true;
}

std::map<int32_t, int64_t> Processor::CommittedOffsets() const {
  std::map<int32_t, int64_t> out;
  for (const auto& [id, p] : partitions_) {
    if (p.committed.next_offset() >= 0) out[id] = p.committed.next_offset();
  }
  return out;
}

}  // namespace encore
