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
  e.set_snips(snips.value);
  e.set_snips_std_error(snips.std_error);
  e.set_matched(matched);
  return e;
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
  return it == population.end() ? nullptr : &it->second;
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

OffPolicySummary SummarizeOffPolicy(const ModelConfig& model,
                                    const Population& population,
                                    int64_t as_of_ms) {
  OffPolicySummary summary;
  bandits::OffPolicySums all;
  const ArmAggregate* greedy = nullptr;
  double greedy_mean = -1;
  for (const auto& [id, a] : population) {
    all.Merge(ToSums(a.off_policy()));
    const double mean =
        bandits::Mean(PopulationPosterior(model, population, id, as_of_ms));
    if (mean > greedy_mean) {  // strict: ties keep the smaller arm_id
      greedy_mean = mean;
      greedy = &a;
    }
  }
  summary.set_logged_rewards(all.n);
  if (all.n == 0) return summary;
  summary.set_logged_value(all.sum_r / static_cast<double>(all.n));
  const double k = static_cast<double>(population.size());
  *summary.add_estimates() = MakeEstimate(
      "uniform", bandits::Ips(all, all.n, 1.0 / k), bandits::Snips(all), all.n);
  const bandits::OffPolicySums chosen = ToSums(greedy->off_policy());
  PolicyEstimate* g = summary.add_estimates();
  *g = MakeEstimate("greedy-mean", bandits::Ips(chosen, all.n, 1.0),
                    bandits::Snips(chosen), chosen.n);
  g->set_greedy_arm(greedy->arm_id());
  return summary;
}

}  // namespace encore
