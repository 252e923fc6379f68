// Off-policy value of a stochastic target policy from logged rows: IPS,
// self-normalised IPS and doubly robust (DR), with 95 % intervals.
//
// Each logged row has the logging policy's probability p of the action it
// took, the reward r in [0, 1], the target policy's probability pi of that
// same action, and a reward model q: q_logged = q(x, logged action) and
// q_target = sum_a pi(a | x) q(x, a) (the direct-method value of the row).
// With rho = pi / p:
//   IPS   = (1/N) sum rho r
//   SNIPS = sum rho r / sum rho
//   DR    = (1/N) sum [q_target + rho (r - q_logged)]
// (the definitions of obp's InverseProbabilityWeighting,
// SelfNormalizedInverseProbabilityWeighting and DoublyRobust).
//
//   PolicyValueSums sums;
//   for (const LoggedRowValue& row : rows) sums.Add(row);
//   PolicyValue v = EstimatePolicyValue(sums);
//
// Pure; PolicyValueSums is a plain, mergeable value.
#ifndef ENCORE_BANDITS_POLICY_VALUE_H_
#define ENCORE_BANDITS_POLICY_VALUE_H_

#include <cstdint>

#include "bandits/off_policy.h"

namespace encore::bandits {

struct LoggedRowValue {
  double propensity = 1;   // p, in (0, 1]
  double reward = 0;       // r, in [0, 1]
  double target_prob = 0;  // pi(logged action | x), in [0, 1]
  double q_logged = 0;     // q(x, logged action)
  double q_target = 0;     // sum_a pi(a | x) q(x, a)
};

// Additive sums over rows (rho = target_prob / propensity, d = the DR term).
struct PolicyValueSums {
  uint64_t n = 0;
  uint64_t matched = 0;  // rows with target_prob > 0
  double sum_rho = 0, sum_rho2 = 0;
  double sum_rho_r = 0, sum_rho2_r = 0, sum_rho2_r2 = 0;
  double sum_dr = 0, sum_dr2 = 0;
  double sum_q_target = 0, sum_q_logged = 0;

  // Adds a row; false (adding nothing) when its propensity is not in (0, 1],
  // its target probability not in [0, 1] or a value is not finite.
  bool Add(const LoggedRowValue& row);
  void Merge(const PolicyValueSums& other);
};

struct PolicyValue {
  OffPolicyEstimate ips, snips, dr;
};

// The three estimates over `sums`, each with a standard error (of the mean
// of its per-row terms; delta method for SNIPS) and a 95 % interval clipped
// to [0, 1]: IPS as bandits::Ips (Agresti-Coull on the terms, pseudo-rows at
// the matched rows' root-mean-square rho), SNIPS as bandits::Snips (Wilson
// at n_eff = (sum rho)^2 / sum rho^2), DR Agresti-Coull on its terms (k
// pseudo-rows answered 1 and k answered 0 at the mean model values and that
// rho). Measured coverage: bench/results/ope-coverage.md. All
// zeros (intervals [0, 1]) when there are no rows. For a constant target
// probability these equal Ips() and Snips() of off_policy.h.
PolicyValue EstimatePolicyValue(const PolicyValueSums& sums, double z = kZ95);

}  // namespace encore::bandits

#endif  // ENCORE_BANDITS_POLICY_VALUE_H_
