// Normal-Inverse-Gamma posteriors for a continuous reward such as a
// completion ratio in [0, 1], built from weighted (e.g. exponentially
// decayed) sufficient statistics, with Thompson sampling and upper quantiles
// of the posterior of the mean reward.
//
//   // Per arm, accumulated with decayed weights w_i:
//   //   w = sum w_i, s = sum w_i x_i, q = sum w_i x_i^2.
//   NigPosterior posterior = NigUpdate(NigPrior{}, w, s, q);
//   Rng rng(MixSeed(seed, key));
//   double thompson = NigThompsonSample(posterior, rng);
//   double ucb = NigQuantile(posterior, 0.95);
//
// The model: x_i ~ N(mu, sigma^2) with each observation's likelihood raised
// to the power of its weight w_i (so weight 2 is the same observation seen
// twice, and decay fades old evidence smoothly), sigma^2 ~ InvGamma(alpha0,
// beta0) and mu | sigma^2 ~ N(mu0, sigma^2 / kappa0). A bounded reward is not
// normal, but its mean is what bandits rank by, and this conjugate model gives
// that mean a posterior whose width tracks both the evidence and the observed
// spread. The Student-t marginal of mu is unbounded, so samples and quantiles
// may fall outside [0, 1]; they rank arms and are not themselves rewards.
//
// Everything here is a pure function of its arguments (sampling also
// advances the caller's Rng) and is thread-safe for distinct Rngs.
#ifndef ENCORE_BANDITS_NIG_H_
#define ENCORE_BANDITS_NIG_H_

#include "bandits/rng.h"

namespace encore::bandits {

// The Normal-Inverse-Gamma prior. The defaults centre the mean reward on 0.5
// worth one observation (kappa0 = 1), with the prior marginal of mu a
// Student-t with 2 alpha0 = 2 degrees of freedom and scale
// sqrt(beta0 / (alpha0 kappa0)) ~ 0.22, whose central 95% (+-0.96) spans
// [0, 1]; one observation of weight 1 moves the mean halfway to itself.
// REQUIRES (of every function taking one): kappa0 > 0, alpha0 > 0,
// beta0 > 0, all finite.
struct NigPrior {
  double mu0 = 0.5;
  double kappa0 = 1;
  double alpha0 = 1;
  double beta0 = 0.05;
};

// The posterior, of the same family. REQUIRES (of every function taking
// one): kappa > 0, alpha > 0, beta > 0, all finite, as NigUpdate returns
// for a valid prior.
struct NigPosterior {
  double mu = 0.5;
  double kappa = 1;
  double alpha = 1;
  double beta = 0.05;
};

// Returns the posterior after evidence of total weight w with weighted sum
// s = sum w_i x_i and weighted sum of squares q = sum w_i x_i^2:
//   kappa = kappa0 + w
//   mu    = (kappa0 mu0 + s) / kappa
//   alpha = alpha0 + w / 2
//   beta  = beta0 + (q - s^2 / w) / 2 + kappa0 w (s / w - mu0)^2 / (2 kappa)
// The scatter term q - s^2 / w is clamped at 0, since rounding can push it
// below when all x_i are (nearly) equal. Weights are real, not counts:
// scaling every w_i by c scales w, s and q by c. w <= 0 (or NaN) means no
// evidence and returns the prior.
// REQUIRES: s and q finite and consistent with some x_i (e.g. q >= 0).
NigPosterior NigUpdate(const NigPrior& prior, double w, double s, double q);

// A location-scale Student-t: location + scale * T, T ~ t(df).
struct StudentT {
  double df;
  double location;
  double scale;
};

// Returns the posterior mean of mu, the mean reward: posterior.mu.
double NigMean(const NigPosterior& posterior);

// Returns the marginal posterior of mu: df = 2 alpha, location = mu,
// scale = sqrt(beta / (alpha kappa)).
StudentT NigMarginalOfMean(const NigPosterior& posterior);

// Returns one draw of mu from its Student-t marginal (Thompson sampling):
// mu + scale * Z / sqrt(G / alpha) with Z ~ N(0, 1) and G ~ Gamma(alpha)
// (G / alpha = chi2(2 alpha) / (2 alpha)), which is also drawing sigma^2 and
// then mu | sigma^2. Uses rng.Normal then rng.Gamma; advances `rng`.
// Returns +-inf only if alpha is so small (far below the default prior's 1)
// that the Gamma variate underflows to 0.
double NigThompsonSample(const NigPosterior& posterior, Rng& rng);

// Returns the q-quantile of the marginal of mu: mu + scale * t_q(2 alpha),
// e.g. q = 0.95 for an upper confidence bound (Bayes-UCB). -inf for q <= 0,
// +inf for q >= 1, NaN for NaN; ~1e-13 relative accuracy in t_q.
double NigQuantile(const NigPosterior& posterior, double q);

}  // namespace encore::bandits

#endif  // ENCORE_BANDITS_NIG_H_
