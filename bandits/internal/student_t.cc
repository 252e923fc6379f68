#include "bandits/internal/student_t.h"

#include <cmath>
#include <limits>

#include "bandits/internal/incomplete_beta.h"

namespace encore::bandits::internal {

double StudentTCdf(double df, double t) {
  if (std::isnan(t)) return t;
  if (t == 0.0) return 0.5;
  if (std::isinf(t)) return t > 0 ? 1.0 : 0.0;
  // x = df / (df + t^2) = 1 / (1 + r^2) with r = t / sqrt(df). Form the
  // smaller of x and y = 1 - x directly and the other as its complement, as
  // IncompleteBeta requires; 1 / r^2 rather than r^2 when |r| > 1 so a huge
  // t cannot overflow.
  const double r = std::fabs(t) / std::sqrt(df);
  double x;
  double y;
  if (r > 1.0) {
    const double inverse_square = 1.0 / (r * r);
    x = inverse_square / (1.0 + inverse_square);
    y = 1.0 - x;
  } else {
    const double square = r * r;
    y = square / (1.0 + square);
    x = 1.0 - y;
  }
  if (x <= 0.0) return t > 0 ? 1.0 : 0.0;  // |t| beyond ~1e154 * sqrt(df)
  const BetaTails tails = IncompleteBeta(0.5 * df, 0.5, x, y);
  // tails.lower = P[|T| > |t|], tails.upper = P[|T| <= |t|].
  return t < 0 ? 0.5 * tails.lower : 0.5 + 0.5 * tails.upper;
}

double StudentTQuantile(double df, double p) {
  if (std::isnan(p)) return p;
  if (p <= 0.0) return -std::numeric_limits<double>::infinity();
  if (p >= 1.0) return std::numeric_limits<double>::infinity();
  if (p == 0.5) return 0.0;
  // The two-sided tail 2 min(p, 1 - p) is exact (1 - p is exact for
  // p >= 1/2), and so is the central mass 1 - tail whenever it is the
  // smaller of the two; InverseIncompleteBetaPoint needs only the smaller
  // exact and returns both x and y = 1 - x with the smaller solved directly:
  // x when |t| > sqrt(df), y when |t| < sqrt(df).
  const double tail = 2.0 * (p < 0.5 ? p : 1.0 - p);
  const BetaPoint point =
      InverseIncompleteBetaPoint(0.5 * df, 0.5, tail, 1.0 - tail);
  // t^2 = df y / x.
  const double magnitude = std::sqrt(df) * std::sqrt(point.y / point.x);
  return p < 0.5 ? -magnitude : magnitude;
}

}  // namespace encore::bandits::internal
