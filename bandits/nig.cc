#include "bandits/nig.h"

#include <cmath>

#include "bandits/internal/student_t.h"

namespace encore::bandits {

NigPosterior NigUpdate(const NigPrior& prior, double w, double s, double q) {
  if (!(w > 0.0)) {
    return {prior.mu0, prior.kappa0, prior.alpha0, prior.beta0};
  }
  const double kappa = prior.kappa0 + w;
  const double mean = s / w;
  // sum w_i (x_i - mean)^2 from the raw sums; negative only by rounding.
  const double scatter = std::fmax(q - s * mean, 0.0);
  const double shift = mean - prior.mu0;
  return {
      .mu = (prior.kappa0 * prior.mu0 + s) / kappa,
      .kappa = kappa,
      .alpha = prior.alpha0 + 0.5 * w,
      .beta = prior.beta0 + 0.5 * scatter +
              prior.kappa0 * w * shift * shift / (2.0 * kappa),
  };
}

double NigMean(const NigPosterior& posterior) { return posterior.mu; }

StudentT NigMarginalOfMean(const NigPosterior& posterior) {
  return {
      .df = 2.0 * posterior.alpha,
      .location = posterior.mu,
      .scale = std::sqrt(posterior.beta / (posterior.alpha * posterior.kappa)),
  };
}

double NigThompsonSample(const NigPosterior& posterior, Rng& rng) {
  const StudentT marginal = NigMarginalOfMean(posterior);
  const double z = rng.Normal();
  const double gamma = rng.Gamma(posterior.alpha);
  return marginal.location +
         marginal.scale * z / std::sqrt(gamma / posterior.alpha);
}

double NigQuantile(const NigPosterior& posterior, double q) {
  const StudentT marginal = NigMarginalOfMean(posterior);
  return marginal.location +
         marginal.scale * internal::StudentTQuantile(marginal.df, q);
}

}  // namespace encore::bandits
