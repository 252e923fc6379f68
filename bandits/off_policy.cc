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

OffPolicyEstimate Ips(const OffPolicySums& matched, uint64_t total_n,
                      double pi) {
  if (total_n == 0) return {};
  const double count = static_cast<double>(total_n);
  const double value = pi * matched.sum_wr / count;
  // Sample variance of the per-event terms (mean of squares less the
  // squared mean); clamped because rounding can take it just below 0 when
  // all terms are equal.
  const double variance =
      std::fmax(pi * pi * matched.sum_w2r2 / count - value * value, 0.0);
  return {value, std::sqrt(variance / count), total_n};
}

OffPolicyEstimate Snips(const OffPolicySums& matched) {
  if (!(matched.sum_w > 0.0)) return {};
  const double value = matched.sum_wr / matched.sum_w;
  // sum (w_i (r_i - value))^2 expanded into the sums; >= 0 up to rounding.
  const double scatter =
      std::fmax(matched.sum_w2r2 - 2.0 * value * matched.sum_w2r +
                    value * value * matched.sum_w2,
                0.0);
  return {value, std::sqrt(scatter) / matched.sum_w, matched.n};
}

}  // namespace encore::bandits
