#include "bandits/internal/log_beta.h"

#include <math.h>

#include <algorithm>
#include <cmath>

namespace encore::bandits::internal {
namespace {

constexpr double kHalfLog2Pi = 0.918938533204672741780329736406;
// Arguments at or above this use Stirling's series directly; at 10 its
// truncation error is below 1e-16.
constexpr double kStirlingMin = 10.0;

// Delta(z) = log Gamma(z) - [(z - 1/2) log z - z + log(2 pi) / 2], the sum of
// B_2k / (2k (2k - 1) z^(2k - 1)). REQUIRES: z >= kStirlingMin.
double StirlingCorrection(double z) {
  const double r = 1.0 / z;
  const double r2 = r * r;
  return r * (1.0 / 12 +
              r2 * (-1.0 / 360 +
                    r2 * (1.0 / 1260 +
                          r2 * (-1.0 / 1680 +
                                r2 * (1.0 / 1188 +
                                      r2 * (-691.0 / 360360 + r2 / 156))))));
}

// log Gamma(big + small) - log Gamma(big) without forming either.
// REQUIRES: big >= kStirlingMin, small > 0.
double LogGammaRatio(double big, double small) {
  const double sum = big + small;
  return (big - 0.5) * std::log1p(small / big) + small * std::log(sum) - small +
         StirlingCorrection(sum) - StirlingCorrection(big);
}

// log(r) - u for r = 1 + u, where u (not r) is the accurate input; `log_r` is
// log(r) computed from the caller's exact operands.
double LogRatioMinusLinear(double u, double log_r) {
  return std::fabs(u) <= 0.5 ? Log1pMinusX(u) : log_r - u;
}

}  // namespace

double LogGamma(double z) {
  int sign;  // lgamma_r: std::lgamma would race on the global signgam
  return ::lgamma_r(z, &sign);
}

double Log1pMinusX(double u) {
  if (std::fabs(u) > 0.5) return std::log1p(u) - u;
  // log(1 + u) = 2 atanh(s) with s = u / (2 + u), and 2 s - u = -u^2 / (2 + u).
  const double s = u / (2.0 + u);
  const double s2 = s * s;
  double power = 2.0 * s * s2;  // 2 s^k for odd k >= 3
  double sum = 0.0;
  for (int k = 3; k < 100; k += 2) {
    const double term = power / k;
    sum += term;
    if (std::fabs(term) <= 1e-17 * std::fabs(sum)) break;
    power *= s2;
  }
  return -u * u / (2.0 + u) + sum;
}

double LogPowerTerms(double a, double b, double x, double y) {
  const double log_x = x <= 0.5 ? std::log(x) : std::log1p(-y);
  const double log_y = y <= 0.5 ? std::log(y) : std::log1p(-x);
  if (a < kStirlingMin && b < kStirlingMin) {
    return a * log_x + b * log_y + LogGamma(a + b) - LogGamma(a) - LogGamma(b);
  }
  if (a < kStirlingMin || b < kStirlingMin) {
    const double small = std::min(a, b);
    const double big = std::max(a, b);
    return a * log_x + b * log_y + LogGammaRatio(big, small) - LogGamma(small);
  }
  // Both large. With p = a / (a + b), q = b / (a + b) and d = x - p:
  // log B(a, b) = a log p + b log q - log(a q) / 2 + log(2 pi) / 2
  //               + Delta(a) + Delta(b) - Delta(a + b),
  // and a log(x / p) + b log(y / q) = a L(d / p) + b L(-d / q) with
  // L(u) = log(1 + u) - u, because the linear terms a d / p = b d / q cancel.
  const double total = a + b;
  const double p = a / total;
  const double q = b / total;
  const double d = x <= 0.5 ? x - p : q - y;
  const double u = d / p;
  const double w = -d / q;
  return a * LogRatioMinusLinear(u, log_x - std::log(p)) +
         b * LogRatioMinusLinear(w, log_y - std::log(q)) +
         0.5 * std::log(a * q) - kHalfLog2Pi - StirlingCorrection(a) -
         StirlingCorrection(b) + StirlingCorrection(total);
}

}  // namespace encore::bandits::internal
