#include "bandits/beta.h"

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bandits/rng.h"
#include "gtest/gtest.h"

namespace encore::bandits {
namespace {

TEST(BetaTest, MeanAndVarianceClosedForms) {
  EXPECT_DOUBLE_EQ(Mean({2, 3}), 0.4);
  EXPECT_DOUBLE_EQ(Variance({2, 3}), 6.0 / (25.0 * 6.0));
  EXPECT_DOUBLE_EQ(Mean({}), 0.5);
  EXPECT_DOUBLE_EQ(Variance({}), 1.0 / 12);
  EXPECT_DOUBLE_EQ(Variance({0.5, 0.5}), 0.125);
}

TEST(IncompleteBetaTest, KnownValues) {
  EXPECT_NEAR(RegularizedIncompleteBeta(2, 3, 0.5), 0.6875, 1e-15);
  EXPECT_EQ(RegularizedIncompleteBeta(2, 3, 0.0), 0.0);
  EXPECT_EQ(RegularizedIncompleteBeta(2, 3, -1.0), 0.0);
  EXPECT_EQ(RegularizedIncompleteBeta(2, 3, 1.0), 1.0);
  EXPECT_EQ(RegularizedIncompleteBeta(2, 3, 2.0), 1.0);
  // Beta(1/2, 1/2) is the arcsine law: I_x = (2 / pi) asin(sqrt(x)).
  for (const double x : {1e-12, 0.01, 0.3, 0.5, 0.9, 0.999}) {
    EXPECT_NEAR(RegularizedIncompleteBeta(0.5, 0.5, x),
                2 / std::numbers::pi * std::asin(std::sqrt(x)), 1e-14)
        << x;
  }
}

// Reference values from 40-digit quadrature (mpmath).
TEST(IncompleteBetaTest, MatchesHighPrecisionReference) {
  struct Case {
    double a, b, x, lower;
  };
  const Case cases[] = {
      {0.5, 1000, 1e-4, 0.34524686910210087595},
      {10, 1000, 0.01, 0.55395772915449036723},
      {1000, 1000, 0.48, 0.036779483278639569417},
      {100, 300, 0.2, 0.0079945308668793384526},
      {100, 300, 0.3, 0.98740019697177373826},
      {0.01, 0.01, 0.3, 0.49582361360238203442},
      {1e4, 2e4, 0.33, 0.11020551912741971582},
      {5, 1e6, 3e-6, 0.18473851981081923518},
      {1e6, 3, 0.999999, 0.91969832701345202413},
      {1e6, 1e6, 0.4995, 0.078649577580901631498},
      {1e6, 1e6, 0.5012, 0.99965574866246719652},
  };
  for (const Case& c : cases) {
    EXPECT_NEAR(RegularizedIncompleteBeta(c.a, c.b, c.x), c.lower, 1e-13)
        << c.a << " " << c.b << " " << c.x;
  }
  // The small upper tail keeps its relative accuracy.
  EXPECT_NEAR(1 - RegularizedIncompleteBeta(1e6, 1e6, 0.5012) /
                      (1 - 0.00034425133753280347841),
              0, 1e-14);
  EXPECT_NEAR(RegularizedIncompleteBeta(1e6, 1e6, 1 - 0.5012) /
                  0.00034425133753280347841,
              1, 1e-10);
}

TEST(IncompleteBetaTest, ClosedFormsAndSymmetry) {
  for (const double x : {1e-9, 0.001, 0.1, 0.37, 0.5, 0.8, 0.999}) {
    EXPECT_NEAR(RegularizedIncompleteBeta(1, 1, x), x, 1e-14 * x) << x;
    for (const double a : {0.5, 2.0, 7.5, 1000.0}) {
      const double power = std::pow(x, a);
      EXPECT_NEAR(RegularizedIncompleteBeta(a, 1, x), power,
                  1e-13 * power + 1e-300)
          << a << " " << x;
      EXPECT_NEAR(RegularizedIncompleteBeta(1, a, x),
                  -std::expm1(a * std::log1p(-x)), 1e-14)
          << a << " " << x;
    }
  }
  // I_x(a, b) = 1 - I_{1-x}(b, a), at x whose complement is exact.
  for (const double x : {std::ldexp(1.0, -30), 0.125, 0.375, 0.5, 0.6875,
                         1 - std::ldexp(1.0, -20)}) {
    for (const double a : {0.5, 2.0, 7.5, 1000.0}) {
      for (const double b : {0.5, 3.0, 40.0}) {
        EXPECT_NEAR(RegularizedIncompleteBeta(a, b, x),
                    1 - RegularizedIncompleteBeta(b, a, 1 - x), 4e-16)
            << a << " " << b << " " << x;
      }
    }
  }
}

TEST(QuantileTest, KnownValues) {
  EXPECT_NEAR(Quantile({2, 3}, 0.5), 0.3857275681323895483, 1e-15);
  EXPECT_NEAR(Quantile({1000, 10}, 0.95), 0.99461342618263906683, 1e-15);
  EXPECT_NEAR(Quantile({2, 3}, 0.999), 0.93596186089716660917, 1e-15);
  EXPECT_NEAR(Quantile({30, 70}, 0.999999), 0.53438430687421575236, 1e-15);
  EXPECT_NEAR(Quantile({1e6, 1e6}, 0.975), 0.50069295166605054836, 1e-15);
  EXPECT_EQ(Quantile({1e6, 1e6}, 0.5), 0.5);
  EXPECT_EQ(Quantile({2, 3}, 0.0), 0.0);
  EXPECT_EQ(Quantile({2, 3}, -0.5), 0.0);
  EXPECT_EQ(Quantile({2, 3}, 1.0), 1.0);
  EXPECT_EQ(Quantile({2, 3}, 1.5), 1.0);
}

TEST(QuantileTest, IndependentClosedForms) {
  for (const double p : {1e-12, 1e-4, 0.05, 0.3, 0.5, 0.7, 0.95, 0.9999}) {
    EXPECT_NEAR(Quantile({1, 1}, p), p, 1e-15 * p) << p;
    for (const double a : {0.5, 2.0, 10.0, 1000.0, 1e6}) {
      const double power_quantile = std::pow(p, 1 / a);  // Beta(a, 1)
      EXPECT_NEAR(Quantile({a, 1}, p), power_quantile, 1e-13 * power_quantile)
          << a << " " << p;
      EXPECT_NEAR(Quantile({1, a}, p), -std::expm1(std::log1p(-p) / a), 1e-14)
          << a << " " << p;
    }
    const double arcsine = std::pow(std::sin(std::numbers::pi / 2 * p), 2);
    EXPECT_NEAR(Quantile({0.5, 0.5}, p), arcsine, 1e-13 * arcsine) << p;
  }
}

// I_{Q(p)}(a, b) == p up to the doubles next to Q(p): p lies between the
// CDF at the neighbours of Q(p), to a relative 1e-11 of the smaller tail.
// Upper tails are evaluated as I_{1-x}(b, a), exact when x >= 1/2; below 1/2,
// 1 - x rounds, so there only an absolute check is meaningful.
TEST(QuantileTest, RoundTripsThroughIncompleteBeta) {
  const double shapes[] = {0.01, 0.5, 1, 2, 10, 1000, 1e6};
  const double probabilities[] = {1e-10, 1e-3, 0.05,  0.25,     0.5,
                                  0.75,  0.95, 0.999, 1 - 1e-10};
  for (const double a : shapes) {
    for (const double b : shapes) {
      for (const double p : probabilities) {
        SCOPED_TRACE(testing::Message() << a << " " << b << " " << p);
        const double x = Quantile({a, b}, p);
        ASSERT_TRUE(x >= 0 && x <= 1) << x;
        const double below = std::nextafter(x, 0.0);
        const double above = std::nextafter(x, 1.0);
        auto lower = [&](double v) {
          return RegularizedIncompleteBeta(a, b, v);
        };
        auto upper = [&](double v) {
          return RegularizedIncompleteBeta(b, a, 1 - v);
        };
        if (p <= 0.5) {
          EXPECT_LE(lower(below), p * (1 + 1e-11));
          EXPECT_GE(lower(above), p * (1 - 1e-11));
        } else if (x >= 0.5) {
          EXPECT_LE(upper(above), (1 - p) * (1 + 1e-11));
          EXPECT_GE(upper(below), (1 - p) * (1 - 1e-11));
        } else {
          EXPECT_NEAR(lower(x), p, 5e-15);
        }
      }
    }
  }
}

TEST(QuantileTest, ExtremeLowerTail) {
  // I_x(2, 3) = 6 x^2 (1 - O(x)) near 0.
  EXPECT_NEAR(Quantile({2, 3}, 1e-300) / std::sqrt(1e-300 / 6), 1, 1e-12);
  EXPECT_EQ(Quantile({0.5, 0.5}, 1e-300), 0.0);  // ~2.5e-600 underflows
}

TEST(QuantileTest, MonotoneInP) {
  double previous = 0;
  for (int i = 1; i < 1000; ++i) {
    const double x = Quantile({3.5, 17}, i / 1000.0);
    EXPECT_GT(x, previous) << i;
    previous = x;
  }
}

constexpr int kDraws = 200'000;

// Sample moments of ThompsonSample, centred on the closed-form mean so that
// narrow posteriors do not cancel.
struct SampleMoments {
  double mean;
  double variance;
};

SampleMoments DrawMoments(const BetaPosterior& posterior, uint64_t seed) {
  Rng rng(seed);
  const double center = Mean(posterior);
  double sum = 0;
  double sum_sq = 0;
  for (int i = 0; i < kDraws; ++i) {
    const double d = ThompsonSample(posterior, rng) - center;
    sum += d;
    sum_sq += d * d;
  }
  return {center + sum / kDraws, (sum_sq - sum * sum / kDraws) / (kDraws - 1)};
}

// Within 4 standard errors; the sample variance's standard error is
// variance * sqrt((excess kurtosis + 2) / n). Seeded, so not flaky; a wrong
// gamma shape or scale moves these by tens of standard errors.
TEST(ThompsonSampleTest, MatchesPosteriorMoments) {
  const BetaPosterior posteriors[] = {
      {2, 3}, {0.5, 0.5}, {0.3, 5}, {200, 800}, {1e6, 1e6}};
  for (const BetaPosterior& posterior : posteriors) {
    SCOPED_TRACE(testing::Message()
                 << posterior.alpha << " " << posterior.beta);
    const double a = posterior.alpha;
    const double b = posterior.beta;
    const double variance = Variance(posterior);
    const double excess_kurtosis =
        6 * ((a - b) * (a - b) * (a + b + 1) - a * b * (a + b + 2)) /
        (a * b * (a + b + 2) * (a + b + 3));
    const SampleMoments m = DrawMoments(posterior, MixSeed(17, "moments"));
    EXPECT_NEAR(m.mean, Mean(posterior), 4 * std::sqrt(variance / kDraws));
    EXPECT_NEAR(m.variance, variance,
                4 * variance * std::sqrt((excess_kurtosis + 2) / kDraws));
  }
}

// The sampler and the quantile function agree: the fraction of draws below
// the q-quantile is q, within 4 binomial standard errors.
TEST(ThompsonSampleTest, EmpiricalCdfMatchesQuantiles) {
  const BetaPosterior posterior{2.5, 7};
  std::vector<double> draws(kDraws);
  Rng rng(99);
  for (double& d : draws) d = ThompsonSample(posterior, rng);
  for (const double q : {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99}) {
    const double x = Quantile(posterior, q);
    double below = 0;
    for (const double d : draws) below += d <= x;
    EXPECT_NEAR(below / kDraws, q, 4 * std::sqrt(q * (1 - q) / kDraws)) << q;
  }
}

TEST(ThompsonSampleTest, DeterministicGivenSeed) {
  Rng first(MixSeed(5,
                    "user\x1f"
                    "arm"));
  Rng second(MixSeed(5,
                     "user\x1f"
                     "arm"));
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(ThompsonSample({3, 4}, first), ThompsonSample({3, 4}, second));
  }
}

TEST(DecayFactorTest, HalvesPerHalfLife) {
  EXPECT_EQ(DecayFactor(1000, 1000), 0.5);
  EXPECT_EQ(DecayFactor(2000, 1000), 0.25);
  EXPECT_EQ(DecayFactor(0, 1000), 1.0);
  EXPECT_NEAR(DecayFactor(500, 1000), std::sqrt(0.5), 1e-16);
  EXPECT_NEAR(DecayFactor(300, 1000) * DecayFactor(700, 1000), 0.5, 1e-16);
  EXPECT_GE(DecayFactor(int64_t{1} << 62, 1), 0.0);  // underflows to 0
}

TEST(DecayFactorTest, NeverAmplifiesAndCanBeDisabled) {
  EXPECT_EQ(DecayFactor(-5000, 1000), 1.0);
  EXPECT_EQ(DecayFactor(5000, 0), 1.0);
  EXPECT_EQ(DecayFactor(5000, -1), 1.0);
}

TEST(ScoreMethodTest, ParsesExactNames) {
  for (const ScoreMethod method :
       {ScoreMethod::kMean, ScoreMethod::kThompson, ScoreMethod::kUcb}) {
    const absl::StatusOr<ScoreMethod> parsed =
        ParseScoreMethod(ScoreMethodName(method));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, method);
  }
  EXPECT_EQ(ScoreMethodName(ScoreMethod::kMean), "mean");
  EXPECT_EQ(ScoreMethodName(ScoreMethod::kThompson), "thompson");
  EXPECT_EQ(ScoreMethodName(ScoreMethod::kUcb), "ucb");
}

TEST(ScoreMethodTest, RejectsOtherNames) {
  for (const std::string_view name : {"", "Mean", "ucb ", "greedy", "ts"}) {
    const absl::StatusOr<ScoreMethod> parsed = ParseScoreMethod(name);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << name;
  }
}

TEST(ScoreTest, DispatchesAndOnlyThompsonDrawsRandomness) {
  const BetaPosterior posterior{3, 9};
  Rng rng(7);
  const Rng untouched = rng;
  EXPECT_EQ(Score(posterior, ScoreMethod::kMean, rng, 0.95), Mean(posterior));
  EXPECT_EQ(Score(posterior, ScoreMethod::kUcb, rng, 0.95),
            Quantile(posterior, 0.95));
  Rng copy = untouched;
  EXPECT_EQ(rng.NextU64(), copy.NextU64());  // mean and ucb drew nothing

  Rng thompson = untouched;
  Rng expected = untouched;
  EXPECT_EQ(Score(posterior, ScoreMethod::kThompson, thompson, 0.95),
            ThompsonSample(posterior, expected));
  EXPECT_EQ(thompson.NextU64(), expected.NextU64());
}

TEST(ScoreTest, UcbIsOptimisticAndShrinksWithEvidence) {
  Rng rng(1);
  const double few = Score({3, 7}, ScoreMethod::kUcb, rng, 0.95);
  const double many = Score({300, 700}, ScoreMethod::kUcb, rng, 0.95);
  EXPECT_GT(few, many);
  EXPECT_GT(many, 0.3);
}

}  // namespace
}  // namespace encore::bandits
