#include "bandits/internal/incomplete_beta.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>

#include "bandits/internal/log_beta.h"

namespace encore::bandits::internal {
namespace {

// The continued fraction of I_x(a, b) * a / (x^a y^b / B(a, b)) (Numerical
// Recipes' betacf), by the modified Lentz method. Converges quickly for
// x < (a + 1) / (a + b + 2); used when a and b are both below 1.
double LentzFraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  constexpr double kTolerance = 4 * DBL_EPSILON;
  constexpr int kMaxTerms = 100'000;
  auto guard = [](double v) { return std::fabs(v) < kTiny ? kTiny : v; };
  double c = 1.0;
  double d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
  double h = d;
  for (int m = 1; m <= kMaxTerms; ++m) {
    const double m2 = 2.0 * m;
    const double even = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
    d = 1.0 / guard(1.0 + even * d);
    c = guard(1.0 + even / c);
    h *= d * c;
    const double odd = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
    d = 1.0 / guard(1.0 + odd * d);
    c = guard(1.0 + odd / c);
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) <= kTolerance) break;
  }
  return h;
}

// The continued fraction of I_x(a, b) / (x^a y^b / B(a, b)) from Didonato &
// Morris, ACM TOMS 708 (BFRAC), evaluated by forward recurrence. Given an
// accurate lambda it avoids the cancellation that costs Lentz's form ~1e-11
// near the mean when a and b are large or very unequal.
// REQUIRES: a, b >= 1; lambda = a - (a + b) x >= 0 (x at or below the mean).
double DidonatoMorrisFraction(double a, double b, double x, double y,
                              double lambda) {
  constexpr int kMaxTerms = 100'000;
  const double c = lambda + 1.0;
  const double c0 = b / a;
  const double c1 = 1.0 + 1.0 / a;
  const double yp1 = y + 1.0;
  double p = 1.0;
  double s = a + 1.0;
  double an = 0.0;
  double bn = 1.0;
  double anp1 = 1.0;
  double bnp1 = c / c1;
  double r = c1 / c;
  for (int n = 1; n <= kMaxTerms; ++n) {
    const double t = n / a;
    const double w = n * (b - n) * x;
    double e = a / s;
    const double alpha = p * (p + c0) * e * e * (w * x);
    e = (1.0 + t) / (c1 + t + t);
    const double beta = n + w / s + e * (c + n * yp1);
    p = 1.0 + t;
    s += 2.0;
    const double next_a = alpha * an + beta * anp1;
    an = anp1;
    anp1 = next_a;
    const double next_b = alpha * bn + beta * bnp1;
    bn = bnp1;
    bnp1 = next_b;
    const double previous = r;
    r = anp1 / bnp1;
    if (std::fabs(r - previous) <= DBL_EPSILON * r) break;
    an /= bnp1;  // rescale to keep the recurrence in range
    bn /= bnp1;
    anp1 = r;
    bnp1 = 1.0;
  }
  return r;
}

// Both tails by the Didonato-Morris fraction, on the side of the mean where
// x lies. REQUIRES: a, b >= 1; 0 < x < 1, y == 1 - x.
BetaTails DidonatoMorrisTails(double a, double b, double x, double y) {
  const double power_terms = std::exp(LogPowerTerms(a, b, x, y));
  // lambda = a - (a + b) x, from whichever of x, y is exact near the mean.
  const double lambda = a > b ? (a + b) * y - b : a - (a + b) * x;
  if (lambda >= 0.0) {
    const double lower =
        power_terms * DidonatoMorrisFraction(a, b, x, y, lambda);
    return {lower, 1.0 - lower, 0.0};
  }
  const double upper =
      power_terms * DidonatoMorrisFraction(b, a, y, x, -lambda);
  return {1.0 - upper, upper, 0.0};
}

// A starting point for the quantile of Beta(a, b) with lower tail `lower`
// and upper tail `upper` (= 1 - lower): Abramowitz & Stegun 26.5.22 for
// a, b >= 1, else the power-law approximations of the two tails.
double InitialGuess(double a, double b, double lower, double upper) {
  if (a >= 1.0 && b >= 1.0) {
    const double t = std::sqrt(-2.0 * std::log(std::min(lower, upper)));
    double z =  // normal quantile of the smaller tail, A&S 26.2.22
        t - (2.30753 + 0.27061 * t) / (1.0 + t * (0.99229 + 0.04481 * t));
    if (lower < upper) z = -z;
    const double lambda = (z * z - 3.0) / 6.0;
    const double h = 2.0 / (1.0 / (2.0 * a - 1.0) + 1.0 / (2.0 * b - 1.0));
    const double w = z * std::sqrt(h + lambda) / h -
                     (1.0 / (2.0 * b - 1.0) - 1.0 / (2.0 * a - 1.0)) *
                         (lambda + 5.0 / 6.0 - 2.0 / (3.0 * h));
    return a / (a + b * std::exp(2.0 * w));
  }
  const double lower_mass = std::exp(a * std::log(a / (a + b))) / a;
  const double upper_mass = std::exp(b * std::log(b / (a + b))) / b;
  const double total = lower_mass + upper_mass;
  if (lower < lower_mass / total) return std::pow(a * total * lower, 1.0 / a);
  return 1.0 - std::pow(b * total * upper, 1.0 / b);
}

// Bisection point of [lo, hi]: geometric while the bracket spans orders of
// magnitude, so tiny quantiles are reached in a few dozen steps.
double Midpoint(double lo, double hi) {
  const double floor = std::max(lo, DBL_MIN);
  return hi > 4.0 * floor ? std::sqrt(floor) * std::sqrt(hi) : 0.5 * (lo + hi);
}

// The x with I_x(a, b) = lower (equivalently 1 - I_x(a, b) = upper, where
// upper = 1 - lower; the smaller of the two is the exact target).
// REQUIRES: 0 < lower < 1 and the quantile is at most 1/2, so x carries full
// relative precision however small it is.
double QuantileBelowHalf(double a, double b, double lower, double upper) {
  constexpr int kMaxSteps = 200;
  constexpr double kRelativeTolerance = 1e-15;
  // x^a / (a B(a, b)) bounds I_x(a, b) from above when b >= 1 and from below
  // when b < 1, so its inverse bounds the quantile (widened for rounding).
  const double log_beta = LogGamma(a) + LogGamma(b) - LogGamma(a + b);
  const double tail = std::exp((std::log(lower * a) + log_beta) / a);
  double lo = 0.0;
  double hi = 0.5;
  if (b >= 1.0) {
    lo = std::min(tail * (1.0 - 1e-6), 0.5);
  } else {
    hi = std::min(tail * (1.0 + 1e-6), 0.5);
  }
  if (hi == 0.0) return 0.0;  // the quantile underflows
  double x = InitialGuess(a, b, lower, upper);
  if (!(x > lo && x < hi)) x = Midpoint(lo, hi);
  // Newton steps on log(tail / target), which is nearly linear in the power-
  // law and exponential tails: in log x for the lower tail, in x for the
  // upper.
  const bool use_lower = lower <= 0.5;
  const double target = use_lower ? lower : upper;
  for (int step = 0; step < kMaxSteps; ++step) {
    const double y = 1.0 - x;
    const BetaTails tails = IncompleteBeta(a, b, x, y);
    const double tail = use_lower ? tails.lower : tails.upper;
    if (tail == target) return x;
    const bool too_small = use_lower ? tail < target : tail > target;
    (too_small ? lo : hi) = x;
    const double density = std::exp(tails.log_power_terms) / (x * y);
    double next = Midpoint(lo, hi);
    if (std::isfinite(density) && density > 0.0 && tail > 0.0) {
      const double log_ratio = std::log(tail / target);
      const double newton =
          use_lower ? x * std::exp(-log_ratio * tail / (x * density))
                    : x + log_ratio * tail / density;
      if (std::fabs(newton - x) <= kRelativeTolerance * x) return newton;
      if (newton > lo && newton < hi) next = newton;
    }
    if (next <= lo || next >= hi) return x;  // the bracket is two doubles
    x = next;
  }
  return x;
}

}  // namespace

BetaTails IncompleteBeta(double a, double b, double x, double y) {
  const double log_power_terms = LogPowerTerms(a, b, x, y);
  const double power_terms = std::exp(log_power_terms);
  BetaTails tails;
  if (a >= 1.0 && b >= 1.0) {
    tails = DidonatoMorrisTails(a, b, x, y);
  } else if (b >= 1.0) {
    // I_x(a, b) = I_x(a + 1, b) + x^a y^b / (a B(a, b)) (DLMF 8.17.20).
    tails = DidonatoMorrisTails(a + 1.0, b, x, y);
    tails.lower += power_terms / a;
    tails.upper -= power_terms / a;
  } else if (a >= 1.0) {
    // I_x(a, b) = I_x(a, b + 1) - x^a y^b / (b B(a, b)) (DLMF 8.17.21).
    tails = DidonatoMorrisTails(a, b + 1.0, x, y);
    tails.lower -= power_terms / b;
    tails.upper += power_terms / b;
  } else if (x < (a + 1.0) / (a + b + 2.0)) {
    const double lower = power_terms * LentzFraction(a, b, x) / a;
    tails = {lower, 1.0 - lower, 0.0};
  } else {
    const double upper = power_terms * LentzFraction(b, a, y) / b;
    tails = {1.0 - upper, upper, 0.0};
  }
  tails.lower = std::clamp(tails.lower, 0.0, 1.0);
  tails.upper = std::clamp(tails.upper, 0.0, 1.0);
  tails.log_power_terms = log_power_terms;
  return tails;
}

BetaPoint InverseIncompleteBetaPoint(double a, double b, double lower,
                                     double upper) {
  if (std::isnan(lower) || std::isnan(upper)) {
    constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
    return {kNaN, kNaN};
  }
  if (lower <= 0.0) return {0.0, 1.0};
  if (upper <= 0.0) return {1.0, 0.0};
  // Solve for whichever of x and 1 - x is below 1/2: a tiny quantile found as
  // 1 - (something near 1) would keep only absolute precision.
  if (lower <= IncompleteBeta(a, b, 0.5, 0.5).lower) {
    const double x = QuantileBelowHalf(a, b, lower, upper);
    return {x, 1.0 - x};
  }
  const double y = QuantileBelowHalf(b, a, upper, lower);
  return {1.0 - y, y};
}

double InverseIncompleteBeta(double a, double b, double p) {
  if (std::isnan(p)) return p;
  if (p <= 0.0) return 0.0;
  if (p >= 1.0) return 1.0;
  return InverseIncompleteBetaPoint(a, b, p, 1.0 - p).x;
}

}  // namespace encore::bandits::internal
