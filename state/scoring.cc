#include "state/scoring.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "bandits/linear.h"

namespace encore {
namespace {

constexpr std::array<std::pair<RankMethod, std::string_view>, 6> kMethods = {{
    {RankMethod::kMean, "mean"},
    {RankMethod::kThompson, "thompson"},
    {RankMethod::kUcb, "ucb"},
    {RankMethod::kNigThompson, "nig-thompson"},
    {RankMethod::kLinTs, "lints"},
    {RankMethod::kLinUcb, "linucb"},
}};

}  // namespace

absl::StatusOr<RankMethod> ParseRankMethod(std::string_view name) {
  for (const auto& [method, n] : kMethods) {
    if (n == name) return method;
  }
  if (name == "bayes-ucb") return RankMethod::kUcb;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown method '", absl::string_view(name.data(), name.size()),
      "' (expected mean, thompson, ucb, nig-thompson, lints or linucb)"));
}

std::string_view RankMethodName(RankMethod method) {
  for (const auto& [m, n] : kMethods) {
    if (m == method) return n;
  }
  return "?";
}

bandits::BetaPosterior ArmPosterior(const ModelConfig& model,
                                    const Population* population,
                                    const UserState* user,
                                    absl::string_view arm_id,
                                    int64_t as_of_ms) {
  const bandits::BetaPosterior prior =
      ColdStartPrior(model, population, arm_id, as_of_ms);
  const ArmEvidence* arm = user ? FindArm(*user, arm_id) : nullptr;
  if (arm == nullptr) return prior;
  return AddDecayedEvidence(model, prior, arm->successes(), arm->failures(),
                            arm->ref_time_ms(), as_of_ms);
}

bandits::NigPosterior ArmCompletionPosterior(const ModelConfig& model,
                                             const UserState* user,
                                             absl::string_view arm_id,
                                             int64_t as_of_ms) {
  const bandits::NigPrior prior{model.nig_mu0, model.nig_kappa0,
                                model.nig_alpha0, model.nig_beta0};
  const ArmEvidence* arm = user ? FindArm(*user, arm_id) : nullptr;
  if (arm == nullptr) return bandits::NigUpdate(prior, 0, 0, 0);
  const double keep =
      DecayFactor(as_of_ms - arm->ref_time_ms(), model.arm_half_life_ms);
  return bandits::NigUpdate(prior, arm->reward_weight() * keep,
                            arm->reward_sum() * keep,
                            arm->reward_sum_sq() * keep);
}

std::vector<std::pair<std::string, double>> TopArmsByEngagement(
    const ModelConfig& model, const UserState& user, size_t k,
    int64_t as_of_ms) {
  std::vector<std::pair<std::string, double>> out;
  for (const ArmEvidence& a : user.arms()) {
    out.emplace_back(a.arm_id(),
                     a.successes() * DecayFactor(as_of_ms - a.ref_time_ms(),
                                                 model.arm_half_life_ms));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    return a.first < b.first;
  });
  if (out.size() > k) out.resize(k);
  return out;
}

std::vector<ArmScore> RankArms(const ModelConfig& model,
                               const Population* population,
                               const UserState* user,
                               const std::vector<std::string>& arms,
                               RankMethod method, uint64_t seed,
                               int64_t as_of_ms) {
  uint64_t rewards = 0;
  if (user != nullptr) {
    for (const ArmEvidence& a : user->arms()) rewards += a.updates();
  }
  const double ucb_quantile = 1.0 - 1.0 / (static_cast<double>(rewards) + 2.0);
  const std::string user_id = user ? user->user_id() : "";
  const UserState unknown;
  const Context x = UserContext(model, user ? *user : unknown, as_of_ms);
  std::vector<ArmScore> out;
  out.reserve(arms.size());
  for (const std::string& arm_id : arms) {
    ArmScore s;
    s.arm_id = arm_id;
    s.prior = ColdStartPrior(model, population, arm_id, as_of_ms);
    s.posterior = ArmPosterior(model, population, user, arm_id, as_of_ms);
    const ArmEvidence* arm = user ? FindArm(*user, arm_id) : nullptr;
    s.updates = arm ? arm->updates() : 0;
    const bandits::NigPosterior nig =
        ArmCompletionPosterior(model, user, arm_id, as_of_ms);
    s.completion_mean = nig.mu;
    bandits::Rng rng(bandits::MixSeed(seed, user_id + "\x1f" + arm_id));

    // The population's linear model of this arm; an arm without one has
    // theta = 0 and the ridge prior's width.
    std::vector<double> xx(kContextDim * (kContextDim + 1) / 2, 0.0);
    std::vector<double> xr(kContextDim, 0.0);
    const ArmAggregate* a =
        population ? FindPopulationArm(*population, arm_id) : nullptr;
    if (a != nullptr && a->xx_size() == static_cast<int>(xx.size()) &&
        a->xr_size() == kContextDim) {
      const double keep =
          DecayFactor(as_of_ms - a->ref_time_ms(), model.arm_half_life_ms);
      for (size_t k = 0; k < xx.size(); ++k) xx[k] = a->xx(k) * keep;
      for (int i = 0; i < kContextDim; ++i) xr[i] = a->xr(i) * keep;
    }
    absl::StatusOr<bandits::LinearPosterior> linear =
        bandits::FitLinear(kContextDim, xx, xr, model.ridge);
    if (linear.ok()) {
      s.linear_mean = linear->Mean(x);
      s.linear_width = linear->Width(x);
    }

    switch (method) {
      case RankMethod::kMean:
        s.score = bandits::Mean(s.posterior);
        break;
      case RankMethod::kThompson:
        s.score = bandits::ThompsonSample(s.posterior, rng);
        break;
      case RankMethod::kUcb:
        s.score = bandits::Quantile(s.posterior, ucb_quantile);
        break;
      case RankMethod::kNigThompson:
        s.score = bandits::NigThompsonSample(nig, rng);
        break;
      case RankMethod::kLinTs:
        s.score = linear.ok()
                      ? linear->ThompsonSample(x, model.lints_scale, rng)
                      : 0.0;
        break;
      case RankMethod::kLinUcb:
        s.score = linear.ok() ? linear->Ucb(x, model.linucb_alpha) : 0.0;
        break;
    }
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const ArmScore& a, const ArmScore& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.arm_id < b.arm_id;
  });
  return out;
}

}  // namespace encore
