#include "bandits/beta.h"

#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bandits/internal/incomplete_beta.h"

namespace encore::bandits {

double Mean(const BetaPosterior& posterior) {
  return posterior.alpha / (posterior.alpha + posterior.beta);
}

double Variance(const BetaPosterior& posterior) {
  const double total = posterior.alpha + posterior.beta;
  return posterior.alpha * posterior.beta / (total * total * (total + 1.0));
}

double RegularizedIncompleteBeta(double a, double b, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  return internal::IncompleteBeta(a, b, x, 1.0 - x).lower;
}

double Quantile(const BetaPosterior& posterior, double p) {
  return internal::InverseIncompleteBeta(posterior.alpha, posterior.beta, p);
}

double ThompsonSample(const BetaPosterior& posterior, Rng& rng) {
  return rng.Beta(posterior.alpha, posterior.beta);
}

double DecayFactor(int64_t dt_ms, int64_t half_life_ms) {
  if (half_life_ms <= 0 || dt_ms <= 0) return 1.0;
  return std::exp2(-static_cast<double>(dt_ms) /
                   static_cast<double>(half_life_ms));
}

absl::StatusOr<ScoreMethod> ParseScoreMethod(std::string_view name) {
  for (const ScoreMethod method :
       {ScoreMethod::kMean, ScoreMethod::kThompson, ScoreMethod::kUcb}) {
    if (name == ScoreMethodName(method)) return method;
  }
  // Debian's Abseil has its own string_view, so go through std::string.
  return absl::InvalidArgumentError(
      absl::StrCat("unknown score method \"", std::string(name),
                   "\"; want mean, thompson or ucb"));
}

std::string_view ScoreMethodName(ScoreMethod method) {
  switch (method) {
    case ScoreMethod::kMean:
      return "mean";
    case ScoreMethod::kThompson:
      return "thompson";
    case ScoreMethod::kUcb:
      return "ucb";
  }
  return "unknown";
}

double Score(const BetaPosterior& posterior, ScoreMethod method, Rng& rng,
             double ucb_quantile) {
  switch (method) {
    case ScoreMethod::kMean:
      return Mean(posterior);
    case ScoreMethod::kThompson:
      return ThompsonSample(posterior, rng);
    case ScoreMethod::kUcb:
      return Quantile(posterior, ucb_quantile);
  }
  return Mean(posterior);
}

}  // namespace encore::bandits
