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

// The arm's aggregate, nullptr if no partition has rewards for it.
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

// Off-policy estimates of the uniform-random policy over the population's
// arms and of the greedy policy that always picks the arm with the highest
// population posterior mean as of `as_of_ms` (ties: the smallest arm_id).
OffPolicySummary SummarizeOffPolicy(const ModelConfig& model,
                                    const Population& population,
                                    int64_t as_of_ms);

}  // namespace encore

#endif  // ENCORE_STATE_POPULATION_H_
