#include "bandits/policy_value.h"

#include <cmath>

namespace encore::bandits {
namespace {

double Clip01(double x) { return std::fmin(std::fmax(x, 0.0), 1.0); }

}  // namespace

bool PolicyValueSums::Add(const LoggedRowValue& row) {
  if (!(row.propensity > 0.0 && row.propensity <= 1.0) ||
      !(row.target_prob >= 0.0 && row.target_prob <= 1.0) ||
      !std::isfinite(row.reward) || !std::isfinite(row.q_logged) ||
      !std::isfinite(row.q_target)) {
    return false;
  }
  const double rho = row.target_prob / row.propensity;
  const double r = row.reward;
  const double d = row.q_target + rho * (r - row.q_logged);
  n += 1;
  if (row.target_prob > 0) matched += 1;
  sum_rho += rho;
  sum_rho2 += rho * rho;
  sum_rho_r += rho * r;
  sum_rho2_r += rho * rho * r;
  sum_rho2_r2 += rho * rho * r * r;
  sum_dr += d;
  sum_dr2 += d * d;
  sum_q_target += row.q_target;
  sum_q_logged += row.q_logged;
  return true;
}

void PolicyValueSums::Merge(const PolicyValueSums& o) {
  n += o.n;
  matched += o.matched;
  sum_rho += o.sum_rho;
  sum_rho2 += o.sum_rho2;
  sum_rho_r += o.sum_rho_r;
  sum_rho2_r += o.sum_rho2_r;
  sum_rho2_r2 += o.sum_rho2_r2;
  sum_dr += o.sum_dr;
  sum_dr2 += o.sum_dr2;
  sum_q_target += o.sum_q_target;
  sum_q_logged += o.sum_q_logged;
}

PolicyValue EstimatePolicyValue(const PolicyValueSums& s, double z) {
  PolicyValue out;
  if (s.n == 0) return out;
  const double n = static_cast<double>(s.n);

  // IPS, and Agresti-Coull on its terms rho r.
  OffPolicyEstimate& ips = out.ips;
  ips.n = s.n;
  ips.value = s.sum_rho_r / n;
  ips.std_error =
      std::sqrt(std::fmax(s.sum_rho2_r2 / n - ips.value * ips.value, 0.0) / n);
  const double k = z * z / 2.0;
  // The pseudo-rows' term: the matched rows' root-mean-square rho (their
  // mean when rho is constant), which weighs the spread of the weights.
  const double t = s.matched > 0
                       ? std::sqrt(s.sum_rho2 / static_cast<double>(s.matched))
                       : n;
  const double n_adj = n + 2.0 * k;
  const double centre = (s.sum_rho_r + k * t) / n_adj;
  const double var_adj =
      std::fmax((s.sum_rho2_r2 + k * t * t) / n_adj - centre * centre, 0.0);
  const double half = z * std::sqrt(var_adj / n_adj);
  ips.low = Clip01(centre - half);
  ips.high = Clip01(centre + half);

  // SNIPS with Wilson at the effective sample size.
  OffPolicyEstimate& snips = out.snips;
  snips.n = s.matched;
  if (s.sum_rho > 0) {
    snips.value = s.sum_rho_r / s.sum_rho;
    const double v = snips.value;
    snips.std_error =
        std::sqrt(std::fmax(
            s.sum_rho2_r2 - 2 * v * s.sum_rho2_r + v * v * s.sum_rho2, 0.0)) /
        s.sum_rho;
    WilsonInterval(Clip01(v), s.sum_rho * s.sum_rho / s.sum_rho2, z, &snips.low,
                   &snips.high);
  }

  // DR: mean of its terms, Wald interval.
  OffPolicyEstimate& dr = out.dr;
  dr.n = s.n;
  dr.value = s.sum_dr / n;
  dr.std_error =
      std::sqrt(std::fmax(s.sum_dr2 / n - dr.value * dr.value, 0.0) / n);
  // Agresti-Coull in the DR terms' own scale: k pseudo-rows answered 1 and
  // k answered 0, at the rows' mean model values and the matched rows'
  // mean rho.
  const double qt = s.sum_q_target / n, ql = s.sum_q_logged / n;
  const double d1 = qt + t * (1.0 - ql), d0 = qt - t * ql;
  const double dr_centre = (s.sum_dr + k * (d1 + d0)) / n_adj;
  const double dr_var = std::fmax(
      (s.sum_dr2 + k * (d1 * d1 + d0 * d0)) / n_adj - dr_centre * dr_centre,
      0.0);
  const double half_dr = z * std::sqrt(dr_var / n_adj);
  dr.low = Clip01(dr_centre - half_dr);
  dr.high = Clip01(dr_centre + half_dr);
  return out;
}

}  // namespace encore::bandits
