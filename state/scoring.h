// Scoring arms for a user from a snapshot: what the ranking layer calls.
//
//   auto reader = SnapshotReader::OpenLatest(dir);
//   auto user = (*reader)->Lookup("user-42");
//   auto population = (*reader)->ReadPopulation();
//   std::vector<ArmScore> ranked = RankArms((*reader)->model(), &*population,
//       user->has_value() ? &**user : nullptr, {"a", "b"},
//       RankMethod::kThompson, /*seed=*/7, as_of_ms);
//
// Definitions of every method in state/MODEL.md, "Scoring".
#ifndef ENCORE_STATE_SCORING_H_
#define ENCORE_STATE_SCORING_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bandits/beta.h"
#include "bandits/nig.h"
#include "proto/user_state.pb.h"
#include "state/model.h"
#include "state/population.h"

namespace encore {

enum class RankMethod {
  kMean,         // Beta posterior mean (greedy)
  kThompson,     // one Beta posterior draw
  kUcb,          // Bayes-UCB: Beta quantile 1 - 1/(n + 2)
  kNigThompson,  // one draw of the mean completion ratio (Student-t)
  kLinTs,        // linear Thompson sampling over the user's context
  kLinUcb,       // LinUCB over the user's context
};

// "mean", "thompson", "ucb", "nig-thompson", "lints", "linucb".
absl::StatusOr<RankMethod> ParseRankMethod(std::string_view name);
std::string_view RankMethodName(RankMethod method);

// The Beta posterior of `arm_id` for `user` (nullptr: an unknown user) as
// of as_of_ms: the cold-start prior (ColdStartPrior; the plain model prior
// when `population` is null) plus the user's decayed evidence.
bandits::BetaPosterior ArmPosterior(const ModelConfig& model,
                                    const Population* population,
                                    const UserState* user,
                                    absl::string_view arm_id, int64_t as_of_ms);

// Same with the plain model prior (no population).
inline bandits::BetaPosterior ArmPosterior(const ModelConfig& model,
                                           const UserState* user,
                                           absl::string_view arm_id,
                                           int64_t as_of_ms) {
  return ArmPosterior(model, nullptr, user, arm_id, as_of_ms);
}

// The Normal-Inverse-Gamma posterior of the arm's completion ratio for the
// user: the model's NIG prior updated with the user's decayed evidence.
bandits::NigPosterior ArmCompletionPosterior(const ModelConfig& model,
                                             const UserState* user,
                                             absl::string_view arm_id,
                                             int64_t as_of_ms);

// The user's arms by engagement: decayed successes (listens of at least
// success_min_ms_played through the arm) as of as_of_ms, most first (ties:
// arm_id); at most k.
std::vector<std::pair<std::string, double>> TopArmsByEngagement(
    const ModelConfig& model, const UserState& user, size_t k,
    int64_t as_of_ms);

struct ArmScore {
  std::string arm_id;
  double score = 0;
  bandits::BetaPosterior posterior;  // user's Beta posterior (with prior)
  bandits::BetaPosterior prior;      // its cold-start prior
  uint64_t updates = 0;              // the user's rewards for this arm
  double completion_mean = 0;        // NIG posterior mean
  double linear_mean = 0;            // population linear model at the
  double linear_width = 0;           // user's context (0 if not fitted)
};

// Scores every arm and returns them best first (ties: by arm_id). Random
// draws use Rng(MixSeed(seed, user_id + "\x1f" + arm_id)), so a given seed
// gives the same scores whatever the order of `arms`.
std::vector<ArmScore> RankArms(const ModelConfig& model,
                               const Population* population,
                               const UserState* user,
                               const std::vector<std::string>& arms,
                               RankMethod method, uint64_t seed,
                               int64_t as_of_ms);

}  // namespace encore

#endif  // ENCORE_STATE_SCORING_H_
