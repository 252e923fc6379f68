// The population: per-arm aggregates summed over every partition of a
// snapshot (DESIGN rule 6), and what is derived from them: population Beta
// posteriors, the empirical-Bayes prior of a user's arm, and off-policy
// estimates. Definitions in state/MODEL.md.
//
//   Population population;
//   for (const ArmAggregate& a : partition_aggregates)
//     AddToPopulation(model, a, &population);
//   OffPolicySummary s = SummarizeOffPolicy(model, population, as_of_ms);
#ifndef ENCORE_STATE_POPULATION_H_
#define ENCORE_STATE_POPULATION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "bandits/beta.h"
#include "proto/manifest.pb.h"
#include "proto/user_state.pb.h"
#include "state/model.h"

namespace encore {

using Population = std::map<std::string, ArmAggregate, std::less<>>;

// Adds one partition's aggregate of an arm to the population.
void AddToPopulation(const ModelConfig& model, const ArmAggregate& aggregate,
                     Population* population);

// `prior` plus decayed successes and failures kept as of ref_time_ms, read
// as of as_of_ms with the arm half-life.
bandits::BetaPosterior AddDecayedEvidence(const ModelConfig& model,
                                          bandits::BetaPosterior prior,
                                          double successes, double failures,
                                          int64_t ref_time_ms,
                                          int64_t as_of_ms);

// The arm's aggregate, nullptr if no partition has rewards for it (an
// aggregate with impressions in flight only does not count).
const ArmAggregate* FindPopulationArm(const Population& population,
                                      absl::string_view arm_id);

// The population Beta posterior of an arm as of `as_of_ms`: the model prior
// plus the decayed successes and failures of all users.
bandits::BetaPosterior PopulationPosterior(const ModelConfig& model,
                                           const Population& population,
                                           absl::string_view arm_id,
                                           int64_t as_of_ms);

// The prior of a user's posterior for an arm (empirical-Bayes cold start):
// Beta(s * m, s * (1 - m)) with m the population posterior mean and s =
// model.prior_strength; the model prior Beta(prior_alpha, prior_beta) when
// the population has no rewards for the arm (or population is null).
bandits::BetaPosterior ColdStartPrior(const ModelConfig& model,
                                      const Population* population,
                                      absl::string_view arm_id,
                                      int64_t as_of_ms);

// An arm needs at least this many rewards in the population to be the
// greedy arm (state/MODEL.md, "Off-policy estimates").
inline constexpr uint64_t kGreedyMinRewards = 30;

// The greedy arm as of `as_of_ms`: among arms with at least
// kGreedyMinRewards rewards, the highest posterior mean under the pooled
// prior Beta(s m, s (1 - m)) (m = all arms' decayed successes / (successes +
// failures), s = model.prior_strength); ties: the smallest arm_id. Empty if
// no arm qualifies.
std::string GreedyArm(const ModelConfig& model, const Population& population,
                      int64_t as_of_ms);

// What the population alone gives: the logged and in-flight counts, the
// per-arm cumulative sums, the uniform-random policy over the population's
// arms (every arm with a logged impression or a reward) with intervals, and
// the greedy arm to publish (GreedyArm). The greedy policy's estimate needs
// the previous snapshot: see AdvanceGreedyProgress.
OffPolicySummary SummarizeOffPolicy(const ModelConfig& model,
                                    const Population& population,
                                    int64_t as_of_ms);

// Progressive validation of the greedy policy: scores the arm `previous`
// published on the rows that became final since it (the difference of the
// two summaries' per-arm and total sums), adds them to previous's
// accumulated progress, and appends the "greedy-mean" estimate (IPS of
// "always that arm" and SNIPS over the accumulated rows, with intervals)
// when any row was scored. With no previous summary (or sums that went
// backwards: a rebuilt state) the progress starts afresh.
// REQUIRES: `summary` from SummarizeOffPolicy.
void AdvanceGreedyProgress(const OffPolicySummary* previous,
                           OffPolicySummary* summary);

}  // namespace encore

#endif  // ENCORE_STATE_POPULATION_H_
