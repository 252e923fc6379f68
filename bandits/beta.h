// Beta-Bernoulli posteriors of arms: closed forms, the regularized incomplete
// beta function and its inverse, Thompson sampling, Bayes-UCB and decay.
//
//   BetaPosterior arm{.alpha = 1 + clicks, .beta = 1 + skips};
//   Rng rng(MixSeed(seed, key));
//   double score = Score(arm, ScoreMethod::kThompson, rng, 0.95);
//
// Everything here is a pure function of its arguments (Thompson sampling
// also advances the caller's Rng) and is thread-safe for distinct Rngs.
#ifndef ENCORE_BANDITS_BETA_H_
#define ENCORE_BANDITS_BETA_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "bandits/rng.h"

namespace encore::bandits {

// Beta(alpha, beta) belief about an arm's success probability: prior
// pseudo-counts plus (possibly decayed) successes and failures. Every function
// below REQUIRES alpha > 0 and beta > 0, both finite.
struct BetaPosterior {
  double alpha = 1;
  double beta = 1;
};

// Returns the posterior mean alpha / (alpha + beta).
double Mean(const BetaPosterior& posterior);

// Returns the posterior variance
// alpha beta / ((alpha + beta)^2 (alpha + beta + 1)).
double Variance(const BetaPosterior& posterior);

// Returns I_x(a, b) = P[X <= x] for X ~ Beta(a, b): 0 for x <= 0, 1 for
// x >= 1. Continued fractions (Didonato & Morris where a, b >= 1, else Lentz)
// on the side of the mean where x lies, with I_x(a, b) = 1 - I_{1-x}(b, a)
// for the other: ~1e-15 absolute error for shapes from 0.01 to 1e7, and ~1e-13
// relative error while x is below the mean (~1e-11 in far tails when a shape
// is near 0.01), so small lower tails stay accurate; evaluate a small upper
// tail as I_{1-x}(b, a), exact when x >= 1/2.
// REQUIRES: a > 0, b > 0, both finite; x is not NaN.
double RegularizedIncompleteBeta(double a, double b, double x);

// Returns the p-quantile of the posterior, the x with I_x(alpha, beta) = p:
// 0 for p <= 0, 1 for p >= 1, NaN for NaN. Newton steps on the log of the
// smaller tail inside a shrinking bisection bracket, solving for whichever of
// x and 1 - x is below 1/2, so x is as accurate as the tail (~1e-13
// relative) or the spacing of doubles near x allows, for shapes from 0.01 to
// 1e7 and p as extreme as 1e-300. Used by Bayes-UCB (see Score).
double Quantile(const BetaPosterior& posterior, double p);

// Returns one draw from the posterior (Thompson sampling) using rng.Beta;
// advances `rng`.
double ThompsonSample(const BetaPosterior& posterior, Rng& rng);

// Returns the weight that evidence keeps after dt_ms of event time with
// exponential forgetting: 2^(-dt_ms / half_life_ms), in (0, 1]. Returns 1
// when half_life_ms <= 0 (no forgetting) or dt_ms <= 0 (never amplifies; to
// fold in a late event, decay the event's own weight by the lag instead).
double DecayFactor(int64_t dt_ms, int64_t half_life_ms);

// How an arm's posterior becomes a ranking score.
enum class ScoreMethod {
  kMean,      // posterior mean: greedy, deterministic
  kThompson,  // one posterior draw (Thompson sampling)
  kUcb,       // Bayes-UCB: an upper posterior quantile
};

// Parses "mean", "thompson" or "ucb" (exact, lower case). Returns
// InvalidArgument naming the accepted values for anything else.
absl::StatusOr<ScoreMethod> ParseScoreMethod(std::string_view name);

// Returns the name ParseScoreMethod accepts for `method`.
std::string_view ScoreMethodName(ScoreMethod method);

// Returns the score of `posterior` under `method`:
//   kMean: Mean(posterior). Does not touch `rng`.
//   kThompson: ThompsonSample(posterior, rng). Advances `rng`.
//   kUcb: Quantile(posterior, ucb_quantile). Does not touch `rng`.
// `ucb_quantile` is used only by kUcb. Bayes-UCB (Kaufmann et al. 2012) takes
// 1 - 1/(t + 1) at round t (t = scoring rounds or impressions so far): the
// level rises slowly while each posterior narrows with its own evidence, so
// rarely shown arms keep an exploration bonus. A fixed level such as 0.95 is
// the simpler, constant-optimism choice.
// REQUIRES: ucb_quantile in [0, 1] when method is kUcb.
double Score(const BetaPosterior& posterior, ScoreMethod method, Rng& rng,
             double ucb_quantile);

}  // namespace encore::bandits

#endif  // ENCORE_BANDITS_BETA_H_
