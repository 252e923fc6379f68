// Logarithms behind the incomplete beta function, accurate for tiny (0.01)
// and huge (1e7) shape parameters alike. Internal to bandits/: use beta.h.
// All functions are pure and thread-safe (unlike std::lgamma, which writes the
// global signgam).
#ifndef ENCORE_BANDITS_INTERNAL_LOG_BETA_H_
#define ENCORE_BANDITS_INTERNAL_LOG_BETA_H_

namespace encore::bandits::internal {

// Returns log Gamma(z) (the C library's lgamma_r, a few ulps).
// REQUIRES: z > 0.
double LogGamma(double z);

// Returns log(1 + u) - u, without the cancellation of the direct formula for
// small |u|. REQUIRES: u > -1.
double Log1pMinusX(double u);

// Returns log(x^a * y^b / B(a, b)), the factor in front of the incomplete
// beta continued fraction. It stays accurate (~1e-13 absolute) when a and b
// are huge, where log B(a, b) itself is not, by expanding around the mode
// instead of subtracting large log-gammas.
// REQUIRES: a > 0, b > 0; 0 < x < 1; y == 1 - x, where the smaller of x and y
// is exact (true whenever one was computed from the other as 1 - v).
double LogPowerTerms(double a, double b, double x, double y);

}  // namespace encore::bandits::internal

#endif  // ENCORE_BANDITS_INTERNAL_LOG_BETA_H_
