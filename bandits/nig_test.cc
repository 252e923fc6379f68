#include "bandits/nig.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "bandits/rng.h"
#include "gtest/gtest.h"

namespace encore::bandits {
namespace {

void ExpectPosteriorNear(const NigPosterior& actual,
                         const NigPosterior& expected, double relative) {
  EXPECT_NEAR(actual.mu, expected.mu, relative * std::fabs(expected.mu));
  EXPECT_NEAR(actual.kappa, expected.kappa, relative * expected.kappa);
  EXPECT_NEAR(actual.alpha, expected.alpha, relative * expected.alpha);
  EXPECT_NEAR(actual.beta, expected.beta, relative * expected.beta);
}

// By hand, default prior (mu0 0.5, kappa0 1, alpha0 1, beta0 0.05):
//   x = {0, 1}: w 2, s 1, q 1. kappa 3, mu 1.5 / 3 = 0.5, alpha 2,
//     beta 0.05 + (1 - 1/2) / 2 + 0 = 0.3.
//   x = {1, 1, 1}: w 3, s 3, q 3. kappa 4, mu 3.5 / 4 = 0.875, alpha 2.5,
//     beta 0.05 + 0 + 1 * 3 * 0.5^2 / (2 * 4) = 0.14375.
//   x = {0.2 weight 0.5, 0.8 weight 1.5}: w 2, s 1.3, q 0.98, mean 0.65.
//     kappa 3, mu 1.8 / 3 = 0.6, alpha 2, scatter
//     0.5 * 0.45^2 + 1.5 * 0.15^2 = 0.135,
//     beta 0.05 + 0.0675 + 1 * 2 * 0.15^2 / 6 = 0.125.
TEST(NigUpdateTest, HandComputedPosteriors) {
  ExpectPosteriorNear(NigUpdate({}, 2, 1, 1), {0.5, 3, 2, 0.3}, 1e-15);
  ExpectPosteriorNear(NigUpdate({}, 3, 3, 3), {0.875, 4, 2.5, 0.14375}, 1e-15);
  ExpectPosteriorNear(NigUpdate({}, 2, 1.3, 0.98), {0.6, 3, 2, 0.125}, 1e-14);
}

TEST(NigUpdateTest, NoEvidenceReturnsPrior) {
  const NigPrior prior{0.3, 2, 1.5, 0.1};
  for (const double w : {0.0, -1.0, std::nan("")}) {
    const NigPosterior posterior = NigUpdate(prior, w, 0.7, 0.4);
    EXPECT_EQ(posterior.mu, 0.3);
    EXPECT_EQ(posterior.kappa, 2);
    EXPECT_EQ(posterior.alpha, 1.5);
    EXPECT_EQ(posterior.beta, 0.1);
  }
}

// The textbook one-observation update (e.g. Murphy 2007, "Conjugate Bayesian
// analysis of the Gaussian distribution", eqs. 85-88 with n = 1), with the
// observation's likelihood raised to the power c (c = 1 is the textbook
// case; completing the square with c (x - mu)^2 in place of (x - mu)^2 gives
// the rest):
//   kappa' = kappa + c, mu' = (kappa mu + c x) / kappa',
//   alpha' = alpha + c / 2, beta' = beta + kappa c (x - mu)^2 / (2 kappa').
NigPosterior SequentialUpdate(NigPosterior p, double x, double c) {
  const double kappa = p.kappa + c;
  return {(p.kappa * p.mu + c * x) / kappa, kappa, p.alpha + c / 2,
          p.beta + p.kappa * c * (x - p.mu) * (x - p.mu) / (2 * kappa)};
}

struct Observation {
  double x;
  double weight;
};

NigPosterior Batched(const NigPrior& prior,
                     const std::vector<Observation>& data) {
  double w = 0, s = 0, q = 0;
  for (const Observation& o : data) {
    w += o.weight;
    s += o.weight * o.x;
    q += o.weight * o.x * o.x;
  }
  return NigUpdate(prior, w, s, q);
}

NigPosterior Sequential(const NigPrior& prior,
                        const std::vector<Observation>& data) {
  NigPosterior p{prior.mu0, prior.kappa0, prior.alpha0, prior.beta0};
  for (const Observation& o : data) p = SequentialUpdate(p, o.x, o.weight);
  return p;
}

// Integer weights are repeated observations: batching the sums must equal
// feeding the observations one at a time with weight 1.
TEST(NigUpdateTest, BatchedIntegerWeightsEqualSequentialUnitUpdates) {
  const std::vector<Observation> batched = {{0.2, 1}, {0.9, 3}, {0.55, 1},
                                            {1.0, 2}, {0.0, 1}, {0.37, 4}};
  std::vector<Observation> unit;
  for (const Observation& o : batched) {
    for (int i = 0; i < o.weight; ++i) unit.push_back({o.x, 1});
  }
  for (const NigPrior& prior :
       {NigPrior{}, NigPrior{0.1, 0.2, 3, 0.5}, NigPrior{0.9, 10, 0.5, 1e-3}}) {
    ExpectPosteriorNear(Batched(prior, batched), Sequential(prior, unit),
                        1e-13);
  }
}

TEST(NigUpdateTest, FractionalWeightsEqualSequentialWeightedUpdates) {
  const std::vector<Observation> data = {
      {0.8, 0.25}, {0.1, 0.9}, {0.65, 0.031}, {1.0, 0.5}, {0.4, 1.7}};
  ExpectPosteriorNear(Batched({}, data), Sequential({}, data), 1e-13);
}

// Weights are relative: doubling every weight is the same as seeing every
// observation twice.
TEST(NigUpdateTest, DoublingWeightsEqualsDuplicatingData) {
  const std::vector<Observation> data = {{0.3, 0.7}, {0.75, 1.2}, {0.5, 0.1}};
  std::vector<Observation> doubled, duplicated;
  for (const Observation& o : data) {
    doubled.push_back({o.x, 2 * o.weight});
    duplicated.push_back(o);
    duplicated.push_back(o);
  }
  ExpectPosteriorNear(Batched({}, doubled), Sequential({}, duplicated), 1e-13);
}

// Identical observations under decayed weights: q - s^2 / w is zero up to
// rounding and may come out negative; the clamp keeps beta at the exact
// beta0 + kappa0 w (x - mu0)^2 / (2 kappa).
TEST(NigUpdateTest, ScatterOfIdenticalObservationsIsClampedAtZero) {
  double w = 0, s = 0, q = 0;
  const double x = 0.7;
  for (int i = 0; i < 1000; ++i) {
    const double weight = std::exp2(-i / 37.0);
    w += weight;
    s += weight * x;
    q += weight * x * x;
  }
  const NigPosterior posterior = NigUpdate({}, w, s, q);
  const double kappa = 1 + w;
  const double expected_beta = 0.05 + w * 0.2 * 0.2 / (2 * kappa);
  EXPECT_GE(posterior.beta, expected_beta * (1 - 1e-14));
  EXPECT_NEAR(posterior.beta, expected_beta, 1e-13);
}

TEST(NigMarginalTest, StudentTParameters) {
  // x = {1, 1, 1} above: df 5, scale sqrt(0.14375 / (2.5 * 4)).
  const NigPosterior posterior = NigUpdate({}, 3, 3, 3);
  const StudentT marginal = NigMarginalOfMean(posterior);
  EXPECT_DOUBLE_EQ(NigMean(posterior), 0.875);
  EXPECT_DOUBLE_EQ(marginal.df, 5);
  EXPECT_DOUBLE_EQ(marginal.location, 0.875);
  EXPECT_DOUBLE_EQ(marginal.scale, std::sqrt(0.014375));
}

// mu + scale * t_q(df) with the tabulated t_{0.975, 5} = 2.5705818356363148
// (20 digits by quadrature, see internal/student_t_test.cc).
TEST(NigQuantileTest, LocationScaleOfTabulatedT) {
  const NigPosterior posterior = NigUpdate({}, 3, 3, 3);
  const double scale = std::sqrt(0.014375);
  EXPECT_NEAR(NigQuantile(posterior, 0.975),
              0.875 + 2.5705818356363147828 * scale, 1e-14);
  EXPECT_NEAR(NigQuantile(posterior, 0.025),
              0.875 - 2.5705818356363147828 * scale, 1e-14);
  EXPECT_EQ(NigQuantile(posterior, 0.5), 0.875);
  // The default prior alone: df 2, whose quantile is
  // (2q - 1) / sqrt(2 q (1 - q)), scale sqrt(0.05).
  const NigPosterior prior = NigUpdate({}, 0, 0, 0);
  EXPECT_NEAR(NigQuantile(prior, 0.9),
              0.5 + 0.8 / std::sqrt(2 * 0.9 * 0.1) * std::sqrt(0.05), 1e-14);
  EXPECT_EQ(NigQuantile(posterior, 0.0),
            -std::numeric_limits<double>::infinity());
  EXPECT_EQ(NigQuantile(posterior, 1.0),
            std::numeric_limits<double>::infinity());
}

TEST(NigQuantileTest, NarrowsWithEvidence) {
  double previous = std::numeric_limits<double>::infinity();
  for (const double w : {1.0, 10.0, 100.0, 1e4, 1e6}) {
    // Mean 0.4, per-observation variance 0.04.
    const double upper = NigQuantile(NigUpdate({}, w, 0.4 * w, 0.2 * w), 0.95);
    EXPECT_LT(upper, previous) << w;
    EXPECT_GT(upper, 0.4) << w;
    previous = upper;
  }
  EXPECT_NEAR(previous, 0.4, 1e-3);
}

constexpr int kDraws = 200'000;

// Sample mean and variance of NigThompsonSample against the Student-t
// marginal's exact moments: mean mu, variance scale^2 df / (df - 2), excess
// kurtosis 6 / (df - 4). Tolerances are 4 standard errors: sqrt(var / n) for
// the mean and var sqrt((excess kurtosis + 2) / n) for the variance, so a
// wrong Gamma shape or scale (e.g. chi2 with df = alpha instead of 2 alpha)
// fails by many standard errors. df must exceed 8 for the variance's own
// standard error to be finite; these have df >= 20.
TEST(NigThompsonSampleTest, MatchesMarginalMoments) {
  const NigPosterior posteriors[] = {
      NigUpdate({}, 20, 9, 5),       // df 22
      NigUpdate({}, 300, 210, 160),  // df 302
      {0.2, 0.5, 10, 0.3},           // df 20, wide
  };
  Rng rng(MixSeed(23, "nig-moments"));
  for (const NigPosterior& posterior : posteriors) {
    const StudentT marginal = NigMarginalOfMean(posterior);
    SCOPED_TRACE(testing::Message() << marginal.df);
    const double df = marginal.df;
    const double variance = marginal.scale * marginal.scale * df / (df - 2);
    const double excess_kurtosis = 6 / (df - 4);
    double sum = 0, sum_sq = 0;
    for (int i = 0; i < kDraws; ++i) {
      const double d = NigThompsonSample(posterior, rng) - posterior.mu;
      sum += d;
      sum_sq += d * d;
    }
    const double mean = posterior.mu + sum / kDraws;
    const double sample_variance = (sum_sq - sum * sum / kDraws) / (kDraws - 1);
    EXPECT_NEAR(mean, posterior.mu, 4 * std::sqrt(variance / kDraws));
    EXPECT_NEAR(sample_variance, variance,
                4 * variance * std::sqrt((excess_kurtosis + 2) / kDraws));
  }
}

// The sampler and NigQuantile describe the same distribution, including
// heavy-tailed ones without a variance (df = 2 is the default prior): the
// fraction of draws at or below the q-quantile is q within 4 binomial
// standard errors.
TEST(NigThompsonSampleTest, EmpiricalCdfMatchesQuantiles) {
  for (const NigPosterior& posterior :
       {NigUpdate({}, 0, 0, 0), NigUpdate({}, 5, 3.5, 2.7)}) {
    Rng rng(MixSeed(41, "nig-cdf"));
    std::vector<double> draws(kDraws);
    for (double& d : draws) d = NigThompsonSample(posterior, rng);
    for (const double q : {0.005, 0.05, 0.25, 0.5, 0.75, 0.95, 0.995}) {
      const double x = NigQuantile(posterior, q);
      double below = 0;
      for (const double d : draws) below += d <= x;
      EXPECT_NEAR(below / kDraws, q, 4 * std::sqrt(q * (1 - q) / kDraws))
          << posterior.alpha << " " << q;
    }
  }
}

TEST(NigThompsonSampleTest, DeterministicGivenSeed) {
  Rng first(7);
  Rng second(7);
  const NigPosterior posterior = NigUpdate({}, 4, 2, 1.2);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(NigThompsonSample(posterior, first),
              NigThompsonSample(posterior, second));
  }
}

}  // namespace
}  // namespace encore::bandits
