#include "bandits/internal/student_t.h"

#include <cmath>
#include <limits>
#include <numbers>

#include "gtest/gtest.h"

namespace encore::bandits::internal {
namespace {

constexpr double kPi = std::numbers::pi;

// Closed forms of the CDF: df = 1 (Cauchy) 1/2 + atan(t) / pi; df = 2
// 1/2 + t / (2 sqrt(2 + t^2)); df = 3 1/2 + (t / (sqrt3 (1 + t^2 / 3)) +
// atan(t / sqrt3)) / pi.
TEST(StudentTCdfTest, ClosedForms) {
  for (const double t : {-1e6, -30.0, -2.0, -0.5, -1e-8, 1e-8, 0.3, 1.0, 4.0,
                         250.0}) {
    SCOPED_TRACE(t);
    EXPECT_NEAR(StudentTCdf(1, t), 0.5 + std::atan(t) / kPi, 1e-15);
    EXPECT_NEAR(StudentTCdf(2, t), 0.5 + t / (2 * std::sqrt(2 + t * t)),
                1e-15);
    const double r = t / std::sqrt(3.0);
    EXPECT_NEAR(StudentTCdf(3, t),
                0.5 + (r / (1 + r * r) + std::atan(r)) / kPi, 1e-15);
  }
  // The lower tail keeps relative accuracy: Cauchy's is atan(1/|t|) / pi.
  EXPECT_NEAR(StudentTCdf(1, -1e12) / (std::atan(1e-12) / kPi), 1, 1e-13);
  EXPECT_EQ(StudentTCdf(5, 0), 0.5);
  EXPECT_EQ(StudentTCdf(5, -std::numeric_limits<double>::infinity()), 0.0);
  EXPECT_EQ(StudentTCdf(5, std::numeric_limits<double>::infinity()), 1.0);
  EXPECT_EQ(StudentTCdf(5, 1e300), 1.0);  // t^2 would overflow
  EXPECT_TRUE(std::isnan(StudentTCdf(5, std::nan(""))));
}

// References: the density integrated by 40-digit quadrature (mpmath.quad),
// which agrees with mpmath.betainc to every printed digit. The tolerance is
// the incomplete beta's documented ~1e-13 relative accuracy (it reaches
// 8e-14 at df = 1000, where I_x(500, 1/2) amplifies rounding in x by 500).
TEST(StudentTCdfTest, MatchesQuadrature) {
  struct Case {
    double df, t, cdf;
  };
  const Case cases[] = {
      {3, -2.0, 0.069662984279421588424},
      {7.5, -0.3, 0.38616132928438904731},
      {50, 1.7, 0.9523277853182979202},
      {2, -40.0, 0.00031220733609237031875},
      {1e3, -5.0, 3.3836281823243151909e-7},
      {0.5, -3.0, 0.1836540779929717241},
      {4, 0.001, 0.50037499992187502052},
  };
  for (const Case& c : cases) {
    EXPECT_NEAR(StudentTCdf(c.df, c.t), c.cdf, 2e-13 * c.cdf)
        << c.df << " " << c.t;
  }
}

// Tabulated two-sided critical values (e.g. t_{0.975, 1} = 12.7062,
// t_{0.975, 5} = 2.5706, t_{0.975, 30} = 2.0423), here to 20 digits from
// root-finding on the quadrature CDF above.
TEST(StudentTQuantileTest, TabulatedValues) {
  struct Case {
    double df, p, t;
  };
  const Case cases[] = {
      {1, 0.975, 12.706204736174693314},
      {5, 0.975, 2.5705818356363147828},
      {30, 0.975, 2.0422724563012378878},
      {10, 0.95, 1.8124611228116758693},
      {10, 0.995, 3.1692726726169507118},
      {3, 0.9, 1.6377443536962103222},
      {2.5, 0.99, 5.3531111730308722866},
      {0.5, 0.9, 10.270324410234510724},
      {0.2, 0.05, -24026.514988395390874},
      {1e6, 0.975, 1.9599663568141066553},
      {2e7, 0.975, 1.9599641031536224268},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.df << " " << c.p);
    EXPECT_NEAR(StudentTQuantile(c.df, c.p), c.t, 1e-13 * std::fabs(c.t));
    // Symmetry: t_{1-p} = -t_p (1 - p is exact here).
    EXPECT_NEAR(StudentTQuantile(c.df, 1 - c.p), -c.t, 1e-13 * std::fabs(c.t));
  }
  EXPECT_EQ(StudentTQuantile(5, 0.5), 0.0);
  EXPECT_EQ(StudentTQuantile(5, 0.0), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(StudentTQuantile(5, 1.0), std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(StudentTQuantile(5, std::nan(""))));
}

// Far tails and the centre, where recovering a small quantity as 1 - (near
// 1) would lose digits. Same 40-digit references.
TEST(StudentTQuantileTest, FarTailsAndCentreKeepRelativeAccuracy) {
  struct Case {
    double df, p, t;
  };
  const Case cases[] = {
      {3, 1e-20, -4795275.7204689731896},
      {7, 1e-300, -1.4457941326481904259e+43},
      {60, 1e-100, -342.08434110315609192},
      {1, 1e-100, -3.1830988618379066517e+99},  // -1 / (pi p)
      {1e6, 1e-10, -6.3614068488767426196},
      {2e7, 1e-12, -7.0344882644112574812},
      {2, 0.5 + 0x1p-30, 2.6341780319308769913e-9},
      {40, 0.5 - 0x1p-40, -2.2940567943482142824e-12},
      {1e6, 0.5 + 0x1p-20, 2.3905076039224003418e-6},
      {1e6, 0.5 - 0x1p-50, -2.226333696320768045e-15},
  };
  for (const Case& c : cases) {
    EXPECT_NEAR(StudentTQuantile(c.df, c.p), c.t, 1e-13 * std::fabs(c.t))
        << c.df << " " << c.p;
  }
}

// Closed-form quantiles: df = 1 tan(pi (p - 1/2)), written as
// -+1 / tan(pi min(p, 1 - p)) so that the reference itself stays exact near
// p = 0 and 1; df = 2
// (2p - 1) / sqrt(2 p (1 - p)); df = 4 sign(p - 1/2) 2 sqrt(q - 1) with
// a = 4 p (1 - p), q = cos(acos(sqrt(a)) / 3) / sqrt(a).
TEST(StudentTQuantileTest, ClosedForms) {
  for (const double p : {1e-9, 0.001, 0.05, 0.2, 0.45, 0.55, 0.8, 0.95, 0.999,
                         1 - 1e-9}) {
    SCOPED_TRACE(p);
    const double cauchy =
        (p < 0.5 ? -1 : 1) / std::tan(kPi * std::fmin(p, 1 - p));
    EXPECT_NEAR(StudentTQuantile(1, p), cauchy, 1e-12 * std::fabs(cauchy));
    const double two = (2 * p - 1) / std::sqrt(2 * p * (1 - p));
    EXPECT_NEAR(StudentTQuantile(2, p), two, 1e-12 * std::fabs(two));
    const double a = 4 * p * (1 - p);
    const double q = std::cos(std::acos(std::sqrt(a)) / 3) / std::sqrt(a);
    const double four = (p < 0.5 ? -2 : 2) * std::sqrt(q - 1);
    EXPECT_NEAR(StudentTQuantile(4, p), four, 1e-10 * std::fabs(four));
  }
}

TEST(StudentTQuantileTest, RoundTripsThroughCdf) {
  for (const double df : {0.3, 1.0, 2.0, 4.5, 17.0, 200.0, 1e5}) {
    for (const double p : {1e-12, 1e-4, 0.01, 0.2, 0.4999, 0.5001, 0.7}) {
      const double t = StudentTQuantile(df, p);
      EXPECT_NEAR(StudentTCdf(df, t), p, 1e-12 * p) << df << " " << p;
    }
  }
}

}  // namespace
}  // namespace encore::bandits::internal
