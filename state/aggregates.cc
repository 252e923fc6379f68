#include "state/aggregates.h"

#include <algorithm>

#include "bandits/beta.h"

namespace encore {
namespace {

constexpr int kTriangle = kContextDim * (kContextDim + 1) / 2;

void EnsureShape(ArmAggregate* a) {
  if (a->context_dim() == kContextDim && a->xx_size() == kTriangle &&
      a->xr_size() == kContextDim) {
    return;
  }
  a->set_context_dim(kContextDim);
  a->mutable_xx()->Resize(kTriangle, 0.0);
  a->mutable_xr()->Resize(kContextDim, 0.0);
}

// Multiplies every decayed sum of `a` by `factor`.
void Scale(double factor, ArmAggregate* a) {
  if (factor == 1.0) return;
  a->set_successes(a->successes() * factor);
  a->set_failures(a->failures() * factor);
  a->set_reward_weight(a->reward_weight() * factor);
  a->set_reward_sum(a->reward_sum() * factor);
  a->set_reward_sum_sq(a->reward_sum_sq() * factor);
  for (double& v : *a->mutable_xx()) v *= factor;
  for (double& v : *a->mutable_xr()) v *= factor;
  a->set_rr(a->rr() * factor);
}

// Moves a's landmark forward to `time_ms` if that is newer.
void MoveTo(const ModelConfig& config, int64_t time_ms, ArmAggregate* a) {
  if (time_ms <= a->ref_time_ms()) return;
  Scale(
      bandits::DecayFactor(time_ms - a->ref_time_ms(), config.arm_half_life_ms),
      a);
  a->set_ref_time_ms(time_ms);
}

void AddOffPolicy(const OffPolicyStats& from, OffPolicyStats* into) {
  into->set_n(into->n() + from.n());
  into->set_sum_r(into->sum_r() + from.sum_r());
  into->set_sum_w(into->sum_w() + from.sum_w());
  into->set_sum_wr(into->sum_wr() + from.sum_wr());
  into->set_sum_w2(into->sum_w2() + from.sum_w2());
  into->set_sum_w2r2(into->sum_w2r2() + from.sum_w2r2());
  into->set_sum_w2r(into->sum_w2r() + from.sum_w2r());
}

}  // namespace

void AddRewardToAggregate(const ModelConfig& config, const Reward& reward,
                          ArmAggregate* a) {
  EnsureShape(a);
  if (a->rewards() == 0) a->set_ref_time_ms(reward.time_ms);
  MoveTo(config, reward.time_ms, a);
  const double w = bandits::DecayFactor(a->ref_time_ms() - reward.time_ms,
                                        config.arm_half_life_ms);
  const double r = reward.reward;
  a->set_successes(a->successes() + w * r);
  a->set_failures(a->failures() + w * (1.0 - r));
  a->set_reward_weight(a->reward_weight() + w);
  a->set_reward_sum(a->reward_sum() + w * reward.completion);
  a->set_reward_sum_sq(a->reward_sum_sq() +
                       w * reward.completion * reward.completion);
  if (reward.context != nullptr) {
    const Context& x = *reward.context;
    int k = 0;
    for (int i = 0; i < kContextDim; ++i) {
      for (int j = i; j < kContextDim; ++j, ++k) {
        a->set_xx(k, a->xx(k) + w * x[i] * x[j]);
      }
      a->set_xr(i, a->xr(i) + w * r * x[i]);
    }
    a->set_rr(a->rr() + w * r * r);
  }
  a->set_rewards(a->rewards() + 1);
  a->set_last_event_time_ms(std::max(a->last_event_time_ms(), reward.time_ms));
}

void AddOutcomeToAggregate(const LoggedOutcome& outcome, ArmAggregate* a) {
  if (a->in_flight() > 0) a->set_in_flight(a->in_flight() - 1);
  if (!(outcome.propensity > 0 && outcome.propensity <= 1)) return;
  OffPolicyStats* o = a->mutable_off_policy();
  const double r = outcome.reward;
  const double iw = 1.0 / outcome.propensity;
  o->set_n(o->n() + 1);
  o->set_sum_r(o->sum_r() + r);
  o->set_sum_w(o->sum_w() + iw);
  o->set_sum_wr(o->sum_wr() + iw * r);
  o->set_sum_w2(o->sum_w2() + iw * iw);
  o->set_sum_w2r2(o->sum_w2r2() + iw * iw * r * r);
  o->set_sum_w2r(o->sum_w2r() + iw * iw * r);
}

ArmAggregate DecayAggregateTo(const ModelConfig& config, const ArmAggregate& a,
                              int64_t as_of_ms) {
  ArmAggregate out = a;
  MoveTo(config, as_of_ms, &out);
  return out;
}

void MergeAggregate(const ModelConfig& config, const ArmAggregate& from,
                    ArmAggregate* into) {
  if (into->rewards() == 0 && into->arm_id().empty()) {
    *into = from;
    return;
  }
  EnsureShape(into);
  const int64_t ref = std::max(into->ref_time_ms(), from.ref_time_ms());
  MoveTo(config, ref, into);
  ArmAggregate f = DecayAggregateTo(config, from, ref);
  EnsureShape(&f);
  into->set_successes(into->successes() + f.successes());
  into->set_failures(into->failures() + f.failures());
  into->set_reward_weight(into->reward_weight() + f.reward_weight());
  into->set_reward_sum(into->reward_sum() + f.reward_sum());
  into->set_reward_sum_sq(into->reward_sum_sq() + f.reward_sum_sq());
  for (int k = 0; k < kTriangle; ++k) into->set_xx(k, into->xx(k) + f.xx(k));
  for (int i = 0; i < kContextDim; ++i) {
    into->set_xr(i, into->xr(i) + f.xr(i));
  }
  into->set_rr(into->rr() + f.rr());
  into->set_rewards(into->rewards() + f.rewards());
  into->set_last_event_time_ms(
      std::max(into->last_event_time_ms(), f.last_event_time_ms()));
  AddOffPolicy(f.off_policy(), into->mutable_off_policy());
  into->set_in_flight(into->in_flight() + f.in_flight());
}

namespace {

// The heap's order (std::push_heap keeps the largest first, so "later"
// makes it a min-heap): oldest last reward first, ties by arm_id.
template <class Recency>
bool Later(const Recency& a, const Recency& b) {
  if (a.time_ms != b.time_ms) return a.time_ms > b.time_ms;
  return a.arm_id > b.arm_id;
}

bool ByArmId(const ArmAggregate* a, const ArmAggregate* b) {
  return a->arm_id() < b->arm_id();
}

}  // namespace

void PartitionAggregates::Reset(std::vector<ArmAggregate> stored) {
  arms_.clear();
  dirty_.clear();
  deleted_.clear();
  dropped_ = 0;
  for (ArmAggregate& a : stored) {
    std::string id = a.arm_id();
    arms_.try_emplace(std::move(id), Arm{std::move(a)});
  }
  RebuildRecency();
}

const ArmAggregate* PartitionAggregates::Find(absl::string_view arm_id) const {
  auto it = arms_.find(arm_id);
  return it == arms_.end() ? nullptr : &it->second.aggregate;
}

std::vector<const ArmAggregate*> PartitionAggregates::SortedArms() const {
  std::vector<const ArmAggregate*> sorted;
  sorted.reserve(arms_.size());
  for (const auto& [id, arm] : arms_) sorted.push_back(&arm.aggregate);
  std::sort(sorted.begin(), sorted.end(), ByArmId);
  return sorted;
}

ArmAggregate* PartitionAggregates::FindOrAdd(const ModelConfig& config,
                                             absl::string_view arm_id) {
  auto it = arms_.find(arm_id);
  if (it == arms_.end()) {
    EvictFor(config);
    it = arms_.try_emplace(std::string(arm_id)).first;
    it->second.aggregate.set_arm_id(it->first);
    if (auto d = deleted_.find(arm_id); d != deleted_.end()) deleted_.erase(d);
    PushRecency(it->second.aggregate);
  }
  Arm& arm = it->second;
  if (arm.dirty_index == kClean) {
    arm.dirty_index = dirty_.size();
    dirty_.push_back(&arm);
  }
  return &arm.aggregate;
}

void PartitionAggregates::EvictFor(const ModelConfig& config) {
  while (arms_.size() >= config.max_arms_per_partition && !recency_.empty()) {
    std::pop_heap(recency_.begin(), recency_.end(), Later<Recency>);
    Recency oldest = std::move(recency_.back());
    recency_.pop_back();
    auto it = arms_.find(oldest.arm_id);
    if (it == arms_.end() ||
        it->second.aggregate.last_event_time_ms() != oldest.time_ms) {
      continue;  // stale: the arm has a newer entry, or is gone
    }
    if (const size_t i = it->second.dirty_index; i != kClean) {
      dirty_[i] = dirty_.back();  // O(1) whatever the churn of arm ids
      dirty_[i]->dirty_index = i;
      dirty_.pop_back();
    }
    arms_.erase(it);
    deleted_.insert(std::move(oldest.arm_id));
    ++dropped_;
  }
}

void PartitionAggregates::PushRecency(const ArmAggregate& a) {
  recency_.push_back({a.last_event_time_ms(), a.arm_id()});
  std::push_heap(recency_.begin(), recency_.end(), Later<Recency>);
  // Bounded memory: at most about twice the arms (amortized O(1) a push).
  if (recency_.size() > 2 * arms_.size() + 64) RebuildRecency();
}

void PartitionAggregates::RebuildRecency() {
  recency_.clear();
  recency_.reserve(arms_.size());
  for (const auto& [id, arm] : arms_) {
    recency_.push_back({arm.aggregate.last_event_time_ms(), id});
  }
  std::make_heap(recency_.begin(), recency_.end(), Later<Recency>);
}

void PartitionAggregates::OnImpressionPending(const ModelConfig& config,
                                              absl::string_view arm_id,
                                              int64_t /*time_ms*/) {
  ArmAggregate* a = FindOrAdd(config, arm_id);
  a->set_in_flight(a->in_flight() + 1);
}

void PartitionAggregates::OnOutcomeFinal(const ModelConfig& config,
                                         const LoggedOutcome& outcome) {
  AddOutcomeToAggregate(outcome, FindOrAdd(config, outcome.arm_id));
}

void PartitionAggregates::OnReward(const ModelConfig& config,
                                   const Reward& reward) {
  ArmAggregate* a = FindOrAdd(config, reward.arm_id);
  const int64_t before = a->last_event_time_ms();
  AddRewardToAggregate(config, reward, a);
  // Its place in the recency order changes only with its newest reward.
  if (a->last_event_time_ms() != before) PushRecency(*a);
}

AggregateChanges PartitionAggregates::Changes() const {
  AggregateChanges changes;
  changes.changed.reserve(dirty_.size());
  for (const Arm* arm : dirty_) changes.changed.push_back(&arm->aggregate);
  std::sort(changes.changed.begin(), changes.changed.end(), ByArmId);
  changes.deleted.assign(deleted_.begin(), deleted_.end());
  return changes;
}

void PartitionAggregates::MarkCommitted() {
  for (Arm* arm : dirty_) arm->dirty_index = kClean;
  dirty_.clear();
  deleted_.clear();
}

}  // namespace encore
