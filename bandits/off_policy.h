// Off-policy evaluation: estimates of the mean reward a target policy would
// have earned, from rewards logged under a different (logging) policy, each
// with the probability ("propensity") with which the logging policy chose
// the logged action.
//
// State is additive sums, one OffPolicySums per group of logged events
// (e.g. all events, and the events of each arm), mergeable across shards:
//
//   OffPolicySums all, per_arm[K];
//   all.Add(reward, propensity);              // every logged event
//   per_arm[arm].Add(reward, propensity);     // and the logged arm's group
//   // Uniform random over K arms:
//   OffPolicyEstimate uniform = Ips(all, all.n, 1.0 / K);  // or Snips(all)
//   // Always arm a:
//   OffPolicyEstimate greedy = Ips(per_arm[a], all.n, 1.0);
//
// IPS (inverse propensity scoring) is unbiased when every propensity is
// correct and positive wherever the target acts, but its variance grows
// with 1 / propensity. SNIPS (self-normalised IPS) divides by the summed
// weights instead of the count: slightly biased, far lower variance, and
// always within the range of the logged rewards.
//
// All functions are pure; OffPolicySums is a plain value with no internal
// synchronisation.
#ifndef ENCORE_BANDITS_OFF_POLICY_H_
#define ENCORE_BANDITS_OFF_POLICY_H_

#include <cstdint>

namespace encore::bandits {

// Sums over logged events with reward r and importance weight
// w = 1 / propensity.
struct OffPolicySums {
  uint64_t n = 0;       // events
  double sum_r = 0;     // sum r (the logging policy's own reward)
  double sum_w = 0;     // sum w
  double sum_wr = 0;    // sum w r
  double sum_w2 = 0;    // sum w^2
  double sum_w2r2 = 0;  // sum w^2 r^2
  double sum_w2r = 0;   // sum w^2 r

  // Adds one event. Returns false, adding nothing, when propensity is not in
  // (0, 1] (including NaN) or reward is not finite: such an event has no
  // meaningful weight, and the sums persist, so one bad event must not
  // poison them.
  bool Add(double reward, double propensity);

  // Adds every event of `other`; the same (up to rounding of the sums) as
  // having Added them here.
  void Merge(const OffPolicySums& other);
};

// The normal quantile of the intervals: two-sided 95 %.
inline constexpr double kZ95 = 1.959963984540054;

// A value estimate with its standard error and a 95 % interval [low, high]
// (from the same events). The interval is meant for rewards in [0, 1] and is
// clipped to it; it is never a single point, even when every reward so far
// is 0 (see Ips and Snips for its construction and state/MODEL.md for its
// measured coverage).
struct OffPolicyEstimate {
  double value = 0;
  double std_error = 0;
  uint64_t n = 0;  // events the estimate averages over
  double low = 0;
  double high = 1;
};

// IPS value of a target policy that, on each logged event in `matched`,
// would have chosen the logged action with probability `pi`, and on the
// other total_n - matched.n logged events never:
//   value = pi * matched.sum_wr / total_n,
//   std_error = sqrt((pi^2 matched.sum_w2r2 / total_n - value^2) / total_n),
// the standard error of the mean of the per-event terms pi w r (0 for
// unmatched events). n = total_n. Returns all zeros (and the interval
// [0, 1]) when total_n == 0.
// Interval (Agresti-Coull applied to the IPS terms): k = z^2/2 pseudo-events
// with term pi * w_bar (w_bar = sqrt(matched.sum_w2 / matched.n), the
// matched events' root-mean-square weight, or total_n when nothing matched)
// and k with term 0 are added; with N' = total_n + 2k the
// centre is the mean of the terms, the half-width z * sqrt(var / N'), var
// their variance. With constant weights and binary rewards this is exactly
// Agresti-Coull's binomial interval.
// REQUIRES: 0 <= pi <= 1; matched.n <= total_n, matched drawn from the same
// log as total_n.
OffPolicyEstimate Ips(const OffPolicySums& matched, uint64_t total_n, double pi,
                      double z = kZ95);

// SNIPS value over the events the target policy matches (pi cancels when
// it is the same constant on every matched event):
//   value = matched.sum_wr / matched.sum_w,
//   std_error = sqrt(sum_w2r2 - 2 value sum_w2r + value^2 sum_w2) / sum_w,
// the delta-method sqrt(sum (w_i (r_i - value))^2) / sum w_i.
// n = matched.n. Returns all zeros (and the interval [0, 1]) when
// matched.sum_w == 0 (no events).
// Interval: Wilson's score interval for a proportion at the effective
// sample size n_eff = (sum_w)^2 / sum_w2 (Kish): exactly Wilson's when all
// weights are equal.
OffPolicyEstimate Snips(const OffPolicySums& matched, double z = kZ95);

// Wilson's score interval [low, high] for a proportion p_hat observed over
// n (possibly fractional, > 0) trials, at normal quantile z.
void WilsonInterval(double p_hat, double n, double z, double* low,
                    double* high);

}  // namespace encore::bandits

#endif  // ENCORE_BANDITS_OFF_POLICY_H_
