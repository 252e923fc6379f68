#include "bandits/off_policy.h"

#include <cmath>

namespace encore::bandits {

bool OffPolicySums::Add(double reward, double propensity) {
  // Written so that NaN fails the test.
  if (!(propensity > 0.0 && propensity <= 1.0) || !std::isfinite(reward)) {
    return false;
  }
  const double w = 1.0 / propensity;
  const double wr = w * reward;
  n += 1;
  sum_r += reward;
  sum_w += w;
  sum_wr += wr;
  sum_w2 += w * w;
  sum_w2r2 += wr * wr;
  sum_w2r += w * wr;
  return true;
}

void OffPolicySums::Merge(const OffPolicySums& other) {
  n += other.n;
  sum_r += other.sum_r;
  sum_w += other.sum_w;
  sum_wr += other.sum_wr;
  sum_w2 += other.sum_w2;
  sum_w2r2 += other.sum_w2r2;
  sum_w2r += other.sum_w2r;
}

namespace {

double Clip01(double x) { return std::fmin(std::fmax(x, 0.0), 1.0); }

}  // namespace

OffPolicyEstimate Ips(const OffPolicySums& matched, uint64_t total_n, double pi,
                      double z) {
  if (total_n == 0) return {};
  const double count = static_cast<double>(total_n);
  const double value = pi * matched.sum_wr / count;
  // Sample variance of the per-event terms (mean of squares less the
  // squared mean); clamped because rounding can take it just below 0 when
  // all terms are equal.
  const double variance =
      std::fmax(pi * pi * matched.sum_w2r2 / count - value * value, 0.0);
  OffPolicyEstimate out{value, std::sqrt(variance / count), total_n};
  // Agresti-Coull on the terms: k pseudo-events at the typical matched
  // term, k at 0.
  const double k = z * z / 2.0;
  // Root-mean-square weight of the matched events (their weight when it is
  // constant): weighs the spread of the weights.
  const double w_bar =
      matched.n > 0 ? std::sqrt(matched.sum_w2 / static_cast<double>(matched.n))
                    : count;
  const double t = pi * w_bar;
  const double n_adj = count + 2.0 * k;
  const double centre = (pi * matched.sum_wr + k * t) / n_adj;
  const double var_adj = std::fmax(
      (pi * pi * matched.sum_w2r2 + k * t * t) / n_adj - centre * centre, 0.0);
  const double half = z * std::sqrt(var_adj / n_adj);
  out.low = Clip01(centre - half);
  out.high = Clip01(centre + half);
  return out;
}

void WilsonInterval(double p_hat, double n, double z, double* low,
                    double* high) {
  const double z2 = z * z;
  const double denom = 1.0 + z2 / n;
  const double centre = (p_hat + z2 / (2.0 * n)) / denom;
  const double half = z *
                      std::sqrt(std::fmax(p_hat * (1.0 - p_hat), 0.0) / n +
                                z2 / (4.0 * n * n)) /
                      denom;
  *low = Clip01(centre - half);
  *high = Clip01(centre + half);
}

OffPolicyEstimate Snips(const OffPolicySums& matched, double z) {
  if (!(matched.sum_w > 0.0)) return {};
  const double value = matched.sum_wr / matched.sum_w;
  // sum (w_i (r_i - value))^2 expanded into the sums; >= 0 up to rounding.
  const double scatter =
      std::fmax(matched.sum_w2r2 - 2.0 * value * matched.sum_w2r +
                    value * value * matched.sum_w2,
                0.0);
  OffPolicyEstimate out{value, std::sqrt(scatter) / matched.sum_w, matched.n};
  const double n_eff = matched.sum_w * matched.sum_w / matched.sum_w2;
  WilsonInterval(Clip01(value), n_eff, z, &out.low, &out.high);
  return out;
}

}  // namespace encore::bandits
