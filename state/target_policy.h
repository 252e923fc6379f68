// Target policies for off-policy evaluation of a replayed log (`encore
// ope`): for a logged row (state/log_replay.h), the probability with which
// the policy would have shown each arm, and a reward model.
//
//   ASSIGN_OR_RETURN(auto policy, ParsePolicyFile(json_text));
//   std::vector<ArmProbability> pi = policy->Probabilities(row, arms);
//
// Policies:
//   uniform          1/K over the candidate arms;
//   a JSON file      per-arm probabilities, optionally per bucket of one
//                    context feature (format in state/MODEL.md);
//   greedy           the arm with the highest posterior mean of the user in
//                    a snapshot (ties: smallest arm_id);
//   thompson         Thompson sampling from the snapshot's posteriors: the
//                    probability of each arm estimated by `draws` seeded
//                    draws (an arm never drawn gets probability 0).
// Thread safety: none (one evaluation at a time).
#ifndef ENCORE_STATE_TARGET_POLICY_H_
#define ENCORE_STATE_TARGET_POLICY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "state/log_replay.h"
#include "state/population.h"

namespace encore {

using ArmProbability = std::pair<std::string, double>;

// A user's posteriors from a snapshot: the reward model of DR and the
// beliefs of greedy and Thompson.
class PosteriorSource {
 public:
  virtual ~PosteriorSource() = default;
  // The Beta posterior of (user, arm) as the snapshot scores it (cold-start
  // prior from the population, as of max(watermark, user's last event)).
  virtual absl::StatusOr<bandits::BetaPosterior> Posterior(
      const std::string& user_id, const std::string& arm_id) = 0;
};

class TargetPolicy {
 public:
  virtual ~TargetPolicy() = default;
  // The policy's probabilities for `row` over the arms it may show (its
  // support; `arms` are the candidate arms of the log, sorted). They sum to
  // 1 up to rounding.
  virtual absl::StatusOr<std::vector<ArmProbability>> Probabilities(
      const LoggedRow& row, const std::vector<std::string>& arms) = 0;
  // One line saying what it is (for the report).
  virtual std::string Describe() const = 0;
};

std::unique_ptr<TargetPolicy> UniformPolicy();
// `posteriors` is not owned and must outlive the policy.
std::unique_ptr<TargetPolicy> GreedyPolicy(PosteriorSource* posteriors);
std::unique_ptr<TargetPolicy> ThompsonPolicy(PosteriorSource* posteriors,
                                             int draws, uint64_t seed);

// A JSON policy:
//   {"arms": {"a": 0.7, "b": 0.3}}
// or, by one context feature (completion, early_skip_rate, late_skip_rate,
// activity, hour_share: the context vector's x1..x5, state/MODEL.md), the
// first bucket whose "below" exceeds the feature (the last may omit it):
//   {"feature": "early_skip_rate",
//    "buckets": [{"below": 0.2, "arms": {"a": 1}},
//                {"arms": {"a": 0.5, "b": 0.5}}]}
// InvalidArgument when it does not parse, a probability is outside [0, 1],
// a bucket's probabilities do not sum to 1 (within 1e-6), or the feature is
// unknown.
absl::StatusOr<std::unique_ptr<TargetPolicy>> ParsePolicyFile(
    const std::string& json);

}  // namespace encore

#endif  // ENCORE_STATE_TARGET_POLICY_H_
