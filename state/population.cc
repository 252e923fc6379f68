#include "state/population.h"

#include "bandits/off_policy.h"
#include "state/aggregates.h"

namespace encore {
namespace {

bandits::OffPolicySums ToSums(const OffPolicyStats& s) {
  bandits::OffPolicySums out;
  out.n = s.n();
  out.sum_r = s.sum_r();
  out.sum_w = s.sum_w();
  out.sum_wr = s.sum_wr();
  out.sum_w2 = s.sum_w2();
  out.sum_w2r2 = s.sum_w2r2();
  out.sum_w2r = s.sum_w2r();
  return out;
}

PolicyEstimate MakeEstimate(const std::string& policy,
                            const bandits::OffPolicyEstimate& ips,
                            const bandits::OffPolicyEstimate& snips,
                            uint64_t matched) {
  PolicyEstimate e;
  e.set_policy(policy);
  e.set_ips(ips.value);
  e.set_ips_std_error(ips.std_error);
  e.set_ips_low(ips.low);
  e.set_ips_high(ips.high);
  e.set_snips(snips.value);
  e.set_snips_std_error(snips.std_error);
  e.set_snips_low(snips.low);
  e.set_snips_high(snips.high);
  e.set_matched(matched);
  e.set_scored(ips.n);
  return e;
}

OffPolicyTotals ToTotals(const bandits::OffPolicySums& s) {
  OffPolicyTotals t;
  t.set_n(s.n);
  t.set_sum_r(s.sum_r);
  t.set_sum_w(s.sum_w);
  t.set_sum_wr(s.sum_wr);
  t.set_sum_w2(s.sum_w2);
  t.set_sum_w2r2(s.sum_w2r2);
  t.set_sum_w2r(s.sum_w2r);
  return t;
}

bandits::OffPolicySums FromTotals(const OffPolicyTotals& t) {
  bandits::OffPolicySums s;
  s.n = t.n();
  s.sum_r = t.sum_r();
  s.sum_w = t.sum_w();
  s.sum_wr = t.sum_wr();
  s.sum_w2 = t.sum_w2();
  s.sum_w2r2 = t.sum_w2r2();
  s.sum_w2r = t.sum_w2r();
  return s;
}

// The sums of all arms of a summary.
bandits::OffPolicySums TotalOf(const OffPolicySummary& summary) {
  bandits::OffPolicySums all;
  for (const ArmOffPolicy& a : summary.arms()) all.Merge(FromTotals(a.sums()));
  return all;
}

// The sums of one arm of a summary (zeros if absent).
bandits::OffPolicySums ArmSums(const OffPolicySummary& summary,
                               const std::string& arm_id) {
  for (const ArmOffPolicy& a : summary.arms()) {
    if (a.arm_id() == arm_id) return FromTotals(a.sums());
  }
  return {};
}

// after - before, field by field. REQUIRES: after.n >= before.n.
bandits::OffPolicySums Difference(const bandits::OffPolicySums& after,
                                  const bandits::OffPolicySums& before) {
  bandits::OffPolicySums d;
  d.n = after.n - before.n;
  d.sum_r = after.sum_r - before.sum_r;
  d.sum_w = after.sum_w - before.sum_w;
  d.sum_wr = after.sum_wr - before.sum_wr;
  d.sum_w2 = after.sum_w2 - before.sum_w2;
  d.sum_w2r2 = after.sum_w2r2 - before.sum_w2r2;
  d.sum_w2r = after.sum_w2r - before.sum_w2r;
  return d;
}

}  // namespace

void AddToPopulation(const ModelConfig& model, const ArmAggregate& aggregate,
                     Population* population) {
  auto [it, inserted] = population->try_emplace(aggregate.arm_id());
  if (inserted) {
    it->second = aggregate;
  } else {
    MergeAggregate(model, aggregate, &it->second);
  }
}

bandits::BetaPosterior AddDecayedEvidence(const ModelConfig& model,
                                          bandits::BetaPosterior prior,
                                          double successes, double failures,
                                          int64_t ref_time_ms,
                                          int64_t as_of_ms) {
  const double keep =
      DecayFactor(as_of_ms - ref_time_ms, model.arm_half_life_ms);
  prior.alpha += successes * keep;
  prior.beta += failures * keep;
  return prior;
}

const ArmAggregate* FindPopulationArm(const Population& population,
                                      absl::string_view arm_id) {
  auto it = population.find(arm_id);
  // An aggregate may exist for an arm with impressions in flight only.
  if (it == population.end() || it->second.rewards() == 0) return nullptr;
  return &it->second;
}

bandits::BetaPosterior PopulationPosterior(const ModelConfig& model,
                                           const Population& population,
                                           absl::string_view arm_id,
                                           int64_t as_of_ms) {
  const bandits::BetaPosterior prior{model.prior_alpha, model.prior_beta};
  const ArmAggregate* a = FindPopulationArm(population, arm_id);
  if (a == nullptr) return prior;
  return AddDecayedEvidence(model, prior, a->successes(), a->failures(),
                            a->ref_time_ms(), as_of_ms);
}

bandits::BetaPosterior ColdStartPrior(const ModelConfig& model,
                                      const Population* population,
                                      absl::string_view arm_id,
                                      int64_t as_of_ms) {
  if (population == nullptr ||
      FindPopulationArm(*population, arm_id) == nullptr) {
    return {model.prior_alpha, model.prior_beta};
  }
  const double m =
      bandits::Mean(PopulationPosterior(model, *population, arm_id, as_of_ms));
  return {model.prior_strength * m, model.prior_strength * (1.0 - m)};
}

std::string GreedyArm(const ModelConfig& model, const Population& population,
                      int64_t as_of_ms) {
  double successes = 0, failures = 0;
  for (const auto& [id, a] : population) {
    const double keep =
        DecayFactor(as_of_ms - a.ref_time_ms(), model.arm_half_life_ms);
    successes += a.successes() * keep;
    failures += a.failures() * keep;
  }
  const double pooled =
      successes + failures > 0
          ? successes / (successes + failures)
          : bandits::Mean({model.prior_alpha, model.prior_beta});
  const double s = model.prior_strength;
  std::string best;
  double best_mean = -1;
  for (const auto& [id, a] : population) {
    if (a.rewards() < kGreedyMinRewards) continue;
    const bandits::BetaPosterior posterior = AddDecayedEvidence(
        model, {s * pooled, s * (1.0 - pooled)}, a.successes(), a.failures(),
        a.ref_time_ms(), as_of_ms);
    const double mean = bandits::Mean(posterior);
    if (mean > best_mean) {  // strict: ties keep the smaller arm_id
      best_mean = mean;
      best = id;
    }
  }
  return best;
}

OffPolicySummary SummarizeOffPolicy(const ModelConfig& model,
                                    const Population& population,
                                    int64_t as_of_ms) {
  OffPolicySummary summary;
  bandits::OffPolicySums all;
  uint64_t in_flight = 0;
  for (const auto& [id, a] : population) {
    all.Merge(ToSums(a.off_policy()));
    in_flight += a.in_flight();
    ArmOffPolicy* arm = summary.add_arms();
    arm->set_arm_id(id);
    *arm->mutable_sums() = ToTotals(ToSums(a.off_policy()));
  }
  summary.set_logged_rewards(all.n);
  summary.set_in_flight_impressions(in_flight);
  summary.set_published_greedy_arm(GreedyArm(model, population, as_of_ms));
  if (all.n == 0) return summary;
  summary.set_logged_value(all.sum_r / static_cast<double>(all.n));
  const double k = static_cast<double>(population.size());
  *summary.add_estimates() = MakeEstimate(
      "uniform", bandits::Ips(all, all.n, 1.0 / k), bandits::Snips(all), all.n);
  return summary;
}

void AdvanceGreedyProgress(const OffPolicySummary* previous,
                           OffPolicySummary* summary) {
  ProgressiveGreedy progress;
  std::string scored_arm;
  if (previous != nullptr) {
    for (const PolicyEstimate& e : previous->estimates()) {
      if (e.policy() == "greedy-mean") scored_arm = e.greedy_arm();
    }
  }
  if (previous != nullptr) {
    const bandits::OffPolicySums prev_all = TotalOf(*previous);
    const bandits::OffPolicySums now_all = TotalOf(*summary);
    if (now_all.n >= prev_all.n) {  // else: a rebuilt state, start afresh
      progress = previous->greedy_progress();
      if (!previous->published_greedy_arm().empty()) {
        scored_arm = previous->published_greedy_arm();
        const bandits::OffPolicySums before = ArmSums(*previous, scored_arm);
        bandits::OffPolicySums after = ArmSums(*summary, scored_arm);
        bandits::OffPolicySums matched = FromTotals(progress.matched());
        // An arm evicted by the bound may have lost sums: nothing to add.
        if (after.n >= before.n) matched.Merge(Difference(after, before));
        *progress.mutable_matched() = ToTotals(matched);
        progress.set_scored(progress.scored() + (now_all.n - prev_all.n));
        progress.set_intervals(progress.intervals() + 1);
      }  // else no arm was published: the interval is not scored.
    } else {
      scored_arm.clear();
    }
  }
  *summary->mutable_greedy_progress() = progress;
  if (progress.scored() == 0) return;
  const bandits::OffPolicySums matched = FromTotals(progress.matched());
  PolicyEstimate* g = summary->add_estimates();
  *g =
      MakeEstimate("greedy-mean", bandits::Ips(matched, progress.scored(), 1.0),
                   bandits::Snips(matched), matched.n);
  g->set_scored(progress.scored());
  g->set_greedy_arm(scored_arm);
}

}  // namespace encore
