#include "bandits/internal/incomplete_beta.h"

#include <cmath>

#include "bandits/internal/log_beta.h"
#include "gtest/gtest.h"

namespace encore::bandits::internal {
namespace {

// The small tail is computed directly, so it keeps its relative accuracy
// even on the side where the public I_x would return 1 - (nearly 1).
// References from mpmath at 40 digits.
TEST(IncompleteBetaTest, SmallTailsKeepRelativeAccuracy) {
  struct Case {
    double a, b, x, lower, upper;
  };
  const Case cases[] = {
      // a < 1: upper = upper(a + 1, b) - x^a y^b / (a B(a, b)).
      {0.5, 1e6, 2e-5, 0.99999999974608784216, 2.539121578350761633e-10},
      // b < 1: lower = lower(a, b + 1) - x^a y^b / (b B(a, b)).
      {1000, 0.01, 0.98, 8.333645596115584678e-13, 0.99999999999916663544},
      {1e5, 0.5, 0.9999, 7.7403696709464654978e-6, 0.99999225963032905353},
      {0.02, 0.03, 0.4, 0.59538523021991269842, 0.40461476978008730158},
      {3, 5, 1e-3, 3.4895125930015002177e-8, 0.99999996510487406998},
      {50, 60, 0.1, 7.8370811319700053551e-22, 1.0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.a << " " << c.b << " " << c.x);
    const BetaTails tails = IncompleteBeta(c.a, c.b, c.x, 1 - c.x);
    EXPECT_NEAR(tails.lower / c.lower, 1, 1e-12);
    EXPECT_NEAR(tails.upper / c.upper, 1, 1e-12);
  }
  // Beta(1, b): upper tail (1 - x)^b exactly.
  const double x = 1e-5;
  EXPECT_NEAR(
      IncompleteBeta(1, 1e6, x, 1 - x).upper / std::exp(1e6 * std::log1p(-x)),
      1, 1e-13);
}

TEST(IncompleteBetaTest, ReportsPowerTermsForTheDensity) {
  const BetaTails tails = IncompleteBeta(2, 3, 0.25, 0.75);
  EXPECT_DOUBLE_EQ(tails.log_power_terms, LogPowerTerms(2, 3, 0.25, 0.75));
  // Density of Beta(2, 3) is 12 x (1 - x)^2.
  EXPECT_NEAR(std::exp(tails.log_power_terms) / (0.25 * 0.75),
              12 * 0.25 * 0.75 * 0.75, 1e-14);
}

TEST(InverseIncompleteBetaTest, EdgesAndNaN) {
  EXPECT_EQ(InverseIncompleteBeta(2, 3, 0), 0);
  EXPECT_EQ(InverseIncompleteBeta(2, 3, 1), 1);
  EXPECT_TRUE(std::isnan(InverseIncompleteBeta(2, 3, std::nan(""))));
  // A quantile far in the upper tail but below 1/2 (Beta(0.5, 1e6) at
  // 1 - 2.5e-10, near x = 2e-5) meets its target tail to ~1e-12 relative.
  const double p = 1 - 2.5e-10;
  const double x = InverseIncompleteBeta(0.5, 1e6, p);
  EXPECT_NEAR(x / 2e-5, 1, 1e-3);
  EXPECT_NEAR(IncompleteBeta(0.5, 1e6, x, 1 - x).upper / (1 - p), 1, 1e-12);
}

// Beta(a, 1) has I_x = x^a, so the p-quantile is x = p^(1/a) and
// y = 1 - x = -expm1(log(p) / a) exactly. For a = 1e6 and p = 1/2, y ~ 7e-7:
// 1 - InverseIncompleteBeta would keep only ~1e-10 of it; the point keeps
// y to ~1e-13, from either tail as the exact target.
TEST(InverseIncompleteBetaPointTest, SmallComplementKeepsRelativeAccuracy) {
  for (const double p : {0.5, 0.9, 1e-3}) {
    const double y = -std::expm1(std::log(p) / 1e6);
    const BetaPoint point = InverseIncompleteBetaPoint(1e6, 1, p, 1 - p);
    EXPECT_NEAR(point.y / y, 1, 1e-13) << p;
    EXPECT_EQ(point.x, 1 - point.y) << p;
    EXPECT_EQ(point.x, InverseIncompleteBeta(1e6, 1, p)) << p;
  }
  // Solving for x when it is the small one: Beta(1, a) at upper tail u has
  // (1 - x)^a = u, x = -expm1(log(u) / a).
  const double x = -std::expm1(std::log(0.25) / 1e6);
  EXPECT_NEAR(InverseIncompleteBetaPoint(1, 1e6, 0.75, 0.25).x / x, 1, 1e-13);
}

TEST(InverseIncompleteBetaPointTest, EdgesAndNaN) {
  EXPECT_EQ(InverseIncompleteBetaPoint(2, 3, 0, 1).x, 0);
  EXPECT_EQ(InverseIncompleteBetaPoint(2, 3, 0, 1).y, 1);
  EXPECT_EQ(InverseIncompleteBetaPoint(2, 3, 1, 0).x, 1);
  EXPECT_EQ(InverseIncompleteBetaPoint(2, 3, 1, 0).y, 0);
  EXPECT_TRUE(std::isnan(InverseIncompleteBetaPoint(2, 3, std::nan(""), 0).x));
  EXPECT_TRUE(
      std::isnan(InverseIncompleteBetaPoint(2, 3, 0.5, std::nan("")).y));
}

}  // namespace
}  // namespace encore::bandits::internal
