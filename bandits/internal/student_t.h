// Student-t distribution function and quantile with `df` degrees of freedom,
// through the regularized incomplete beta function. Internal to bandits/: use
// nig.h. All functions are pure and thread-safe.
//
// With x = df / (df + t^2), the two-sided tail is P[|T| > |t|] =
// I_x(df/2, 1/2) and the central mass P[|T| <= |t|] = I_{1-x}(1/2, df/2);
// each function works with whichever of x and 1 - x is the smaller, so
// neither a tiny tail nor a quantile near 0 is recovered from 1 - (near 1).
#ifndef ENCORE_BANDITS_INTERNAL_STUDENT_T_H_
#define ENCORE_BANDITS_INTERNAL_STUDENT_T_H_

namespace encore::bandits::internal {

// Returns P[T <= t] for the standard Student-t with `df` degrees of freedom:
// 0 at -inf, 1 at +inf, NaN for NaN. The lower tail (t < 0) keeps relative
// accuracy; for a small upper tail evaluate StudentTCdf(df, -t).
// REQUIRES: df > 0 and finite.
double StudentTCdf(double df, double t);

// Returns the t with StudentTCdf(df, t) = p: -inf for p <= 0, +inf for
// p >= 1, 0 for p = 1/2, NaN for NaN. Inverts the incomplete beta (Newton
// steps inside a bisection bracket, see incomplete_beta.h) on whichever of
// the tail and the central mass is the smaller, so t keeps ~1e-13 relative
// accuracy for tails as small as 1e-300 and for t near 0. Returns +-inf
// only when x = df / (df + t^2) underflows (|t| beyond ~1e154 sqrt(df)).
// REQUIRES: df > 0 and finite.
double StudentTQuantile(double df, double p);

}  // namespace encore::bandits::internal

#endif  // ENCORE_BANDITS_INTERNAL_STUDENT_T_H_
