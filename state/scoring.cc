#include "state/scoring.h"

#include <algorithm>

#include "absl/strings/string_view.h"

namespace encore {

bandits::BetaPosterior ArmPosterior(const ModelConfig& model,
                                    const UserState* user,
                                    absl::string_view arm_id,
                                    int64_t as_of_ms) {
  bandits::BetaPosterior posterior{model.prior_alpha, model.prior_beta};
  const ArmEvidence* arm = user ? FindArm(*user, arm_id) : nullptr;
  if (arm == nullptr) return posterior;
  const double keep =
      DecayFactor(as_of_ms - arm->ref_time_ms(), model.arm_half_life_ms);
  posterior.alpha += arm->successes() * keep;
  posterior.beta += arm->failures() * keep;
  return posterior;
}

std::vector<ArmScore> RankArms(const ModelConfig& model, const UserState* user,
                               const std::vector<std::string>& arms,
                               bandits::ScoreMethod method, uint64_t seed,
                               int64_t as_of_ms) {
  uint64_t rewards = 0;
  if (user != nullptr) {
    for (const ArmEvidence& a : user->arms()) rewards += a.updates();
  }
  const double ucb_quantile = 1.0 - 1.0 / (static_cast<double>(rewards) + 2.0);
  const std::string user_id = user ? user->user_id() : "";
  std::vector<ArmScore> out;
  out.reserve(arms.size());
  for (const std::string& arm_id : arms) {
    ArmScore s;
    s.arm_id = arm_id;
    s.posterior = ArmPosterior(model, user, arm_id, as_of_ms);
    const ArmEvidence* arm = user ? FindArm(*user, arm_id) : nullptr;
    s.updates = arm ? arm->updates() : 0;
    bandits::Rng rng(bandits::MixSeed(seed, user_id + "\x1f" + arm_id));
    s.score = bandits::Score(s.posterior, method, rng, ucb_quantile);
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const ArmScore& a, const ArmScore& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.arm_id < b.arm_id;
  });
  return out;
}

}  // namespace encore
