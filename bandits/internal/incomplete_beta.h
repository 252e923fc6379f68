// The regularized incomplete beta function and its inverse, with both tails
// kept apart so a small tail never has to be recovered as 1 - (nearly 1).
// Internal to bandits/: use beta.h. All functions are pure and thread-safe.
//
// Methods: the Didonato-Morris continued fraction (ACM TOMS 708, BFRAC) when
// a, b >= 1; the recurrences DLMF 8.17.20-21 to reach it when only one shape
// is below 1; Numerical Recipes' Lentz continued fraction when both are.
#ifndef ENCORE_BANDITS_INTERNAL_INCOMPLETE_BETA_H_
#define ENCORE_BANDITS_INTERNAL_INCOMPLETE_BETA_H_

namespace encore::bandits::internal {

// Both tails of Beta(a, b) at one point.
struct BetaTails {
  double lower;            // I_x(a, b) = P[X <= x]
  double upper;            // 1 - I_x(a, b) = P[X > x]
  double log_power_terms;  // log(x^a y^b / B(a, b)); the density is
                           // exp(log_power_terms) / (x y)
};

// Returns both tails at x. Each has ~1e-15 absolute error; the tail on x's
// side of the mean is computed directly and keeps ~1e-13 relative error
// (down to ~1e-11 in far tails when a shape is near 0.01).
// REQUIRES: a, b > 0 and finite; 0 < x < 1; y == 1 - x, where the smaller of
// x and y is exact (true whenever one was computed from the other).
BetaTails IncompleteBeta(double a, double b, double x, double y);

// Returns the x with I_x(a, b) = p: 0 for p <= 0, 1 for p >= 1, NaN for NaN.
// Solves for whichever of x and 1 - x is below 1/2, by Newton steps on the log
// of the smaller tail inside a shrinking bisection bracket, so the result is
// as accurate as IncompleteBeta or the spacing of doubles near x allows;
// returns 0 when the quantile is below the smallest double.
// REQUIRES: a, b > 0 and finite.
double InverseIncompleteBeta(double a, double b, double p);

// A point of (0, 1) given as both coordinates, so that whichever is the
// smaller keeps its relative precision.
struct BetaPoint {
  double x;
  double y;  // 1 - x
};

// Returns the point with I_x(a, b) = lower and 1 - I_x(a, b) = upper, for a
// caller that knows the smaller tail exactly but not its complement (e.g. a
// Student-t tail): InverseIncompleteBeta(a, b, lower), except that the
// smaller of x and y is solved for and returned directly rather than only as
// 1 - (the other). {0, 1} when lower <= 0, {1, 0} when upper <= 0, NaNs when
// either is NaN.
// REQUIRES: a, b > 0 and finite; lower + upper == 1 up to the rounding of
// the larger of the two.
BetaPoint InverseIncompleteBetaPoint(double a, double b, double lower,
                                     double upper);

}  // namespace encore::bandits::internal

#endif  // ENCORE_BANDITS_INTERNAL_INCOMPLETE_BETA_H_
