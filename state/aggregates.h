// Per-partition, per-arm aggregates: the population Beta and NIG evidence,
// the linear models' sufficient statistics and the off-policy sums
// (DESIGN rule 6). Every field is an additive sum, so the aggregates of all
// partitions are combined by MergeAggregates into the population's.
//
//   PartitionAggregates aggregates(config);
//   aggregates.Reset(stored);                   // from the partition's store
//   ApplyEvent(config, event, &user, &aggregates);
//   AggregateChanges changes = aggregates.Changes();  // to the store's batch
//   ... after a successful commit: aggregates.MarkCommitted();
#ifndef ENCORE_STATE_AGGREGATES_H_
#define ENCORE_STATE_AGGREGATES_H_

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/strings/string_view.h"
#include "proto/user_state.pb.h"
#include "state/model.h"

namespace encore {

// What changed since the last commit: aggregates to write (pointers owned
// by the PartitionAggregates) and arm ids whose aggregate was evicted.
struct AggregateChanges {
  std::vector<const ArmAggregate*> changed;
  std::vector<std::string> deleted;
};

// Adds one reward to an aggregate (decayed with the arm half-life, moving
// landmark as in DecayedAdd).
void AddRewardToAggregate(const ModelConfig& config, const Reward& reward,
                          ArmAggregate* aggregate);

// Adds one final outcome of a logged impression to the aggregate's
// off-policy sums (nothing if its propensity is not in (0, 1]) and takes it
// off the in-flight count (which stays >= 0: an arm evicted by the bound
// loses its count, see state/MODEL.md).
void AddOutcomeToAggregate(const LoggedOutcome& outcome,
                           ArmAggregate* aggregate);

// Adds `from` to `*into` (same arm): decayed sums are first brought to the
// later of the two landmarks.
void MergeAggregate(const ModelConfig& config, const ArmAggregate& from,
                    ArmAggregate* into);

// The decayed sums of `a` as of `as_of_ms` (no change if as_of <= ref).
ArmAggregate DecayAggregateTo(const ModelConfig& config, const ArmAggregate& a,
                              int64_t as_of_ms);

// One partition's aggregates, bounded by max_arms_per_partition: when a new
// arm would exceed it, the arm whose last reward is oldest (ties: the
// smallest arm_id) is dropped and counted.
//
// Every reward, impression and final outcome finds its arm here, so arms
// are hashed by id (not ordered by it), a changed arm is flagged in place,
// and the recency order is a heap that a newer reward only appends to;
// what needs an order (Changes(), SortedArms()) sorts then.
class PartitionAggregates final : public RewardSink {
 public:
  PartitionAggregates() = default;

  // Replaces the contents with the stored aggregates (nothing dirty).
  void Reset(std::vector<ArmAggregate> stored);

  void OnReward(const ModelConfig& config, const Reward& reward) override;
  void OnImpressionPending(const ModelConfig& config, absl::string_view arm_id,
                           int64_t time_ms) override;
  void OnOutcomeFinal(const ModelConfig& config,
                      const LoggedOutcome& outcome) override;

  bool HasChanges() const { return !dirty_.empty() || !deleted_.empty(); }
  // The changes since the last MarkCommitted(), each in arm_id order. The
  // pointers stay valid until the next OnReward(), OnImpressionPending()
  // or OnOutcomeFinal().
  AggregateChanges Changes() const;
  void MarkCommitted();

  size_t size() const { return arms_.size(); }
  // The arm's aggregate; nullptr if it has none.
  const ArmAggregate* Find(absl::string_view arm_id) const;
  // Every arm's aggregate, in arm_id order.
  std::vector<const ArmAggregate*> SortedArms() const;
  // Arms dropped to keep the bound since Reset().
  uint64_t dropped() const { return dropped_; }

 private:
  struct Arm {
    ArmAggregate aggregate;
    // Where the arm is listed in dirty_; kClean if it is not.
    size_t dirty_index = kClean;
  };
  static constexpr size_t kClean = ~size_t{0};
  // An arm's place in the recency order as of one of its rewards: current
  // while the arm exists with that last_event_time_ms; stale otherwise.
  struct Recency {
    int64_t time_ms;
    std::string arm_id;
  };

  // The arm's aggregate, created (evicting to keep the bound) if absent;
  // marked dirty.
  ArmAggregate* FindOrAdd(const ModelConfig& config, absl::string_view arm_id);
  // Evicts until one more arm fits the bound.
  void EvictFor(const ModelConfig& config);
  // Records the arm's current last_event_time_ms in the recency heap,
  // rebuilding the heap from the arms when stale entries outnumber them.
  void PushRecency(const ArmAggregate& a);
  void RebuildRecency();

  // Node-based: Changes() hands out pointers into it.
  absl::node_hash_map<std::string, Arm> arms_;
  // A min-heap on (time_ms, arm_id) holding a current entry for every arm,
  // and stale ones until the next rebuild. Rewards mostly come in time
  // order, so a push rarely moves up the heap.
  std::vector<Recency> recency_;
  std::vector<Arm*> dirty_;  // unordered: an evicted arm is swapped out
  std::set<std::string, std::less<>> deleted_;
  uint64_t dropped_ = 0;
};

}  // namespace encore

#endif  // ENCORE_STATE_AGGREGATES_H_
