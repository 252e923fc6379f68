// Scoring arms for a user from a snapshot: what the ranking layer calls.
//
//   auto reader = SnapshotReader::OpenLatest(dir);
//   auto user = (*reader)->Lookup("user-42");
//   std::vector<ArmScore> ranked = RankArms((*reader)->model(),
//       user->has_value() ? &**user : nullptr, {"a", "b"},
//       bandits::ScoreMethod::kThompson, /*seed=*/7,
//       (*reader)->manifest().watermark_ms());
#ifndef ENCORE_STATE_SCORING_H_
#define ENCORE_STATE_SCORING_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"
#include "bandits/beta.h"
#include "proto/user_state.pb.h"
#include "state/model.h"

namespace encore {

// The Beta posterior of `arm_id` for `user` (nullptr: an unknown user), with
// its evidence forgotten up to as_of_ms: prior + decayed successes/failures.
bandits::BetaPosterior ArmPosterior(const ModelConfig& model,
                                    const UserState* user,
                                    absl::string_view arm_id, int64_t as_of_ms);

struct ArmScore {
  std::string arm_id;
  double score = 0;
  bandits::BetaPosterior posterior;
  uint64_t updates = 0;  // rewards observed for this arm
};

// Scores every arm and returns them best first (ties: by arm_id). Thompson
// draws use Rng(MixSeed(seed, user_id + "\x1f" + arm_id)), so a given seed
// gives the same scores whatever the order of `arms`. Bayes-UCB uses the
// quantile 1 - 1/(n + 2), n = the user's rewards over all arms.
std::vector<ArmScore> RankArms(const ModelConfig& model, const UserState* user,
                               const std::vector<std::string>& arms,
                               bandits::ScoreMethod method, uint64_t seed,
                               int64_t as_of_ms);

}  // namespace encore

#endif  // ENCORE_STATE_SCORING_H_
