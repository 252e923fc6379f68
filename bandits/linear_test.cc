#include "bandits/linear.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bandits/rng.h"
#include "gtest/gtest.h"

namespace encore::bandits {
namespace {

using Matrix = std::vector<std::vector<double>>;

LinearPosterior FitOrDie(int d, const std::vector<double>& xx,
                         const std::vector<double>& xr, double ridge) {
  absl::StatusOr<LinearPosterior> posterior = FitLinear(d, xx, xr, ridge);
  EXPECT_TRUE(posterior.ok()) << posterior.status();
  return *std::move(posterior);
}

TEST(AddOuterTest, AccumulatesPackedUpperTriangle) {
  std::vector<double> xx(PackedSize(3)), xr(3);
  ASSERT_TRUE(
      AddOuter({1, 2, 3}, 0.5, 2, absl::MakeSpan(xx), absl::MakeSpan(xr)).ok());
  // 2 * x x^T, rows (0,0..2), (1,1..2), (2,2): 2 * {1, 2, 3, 4, 6, 9}.
  EXPECT_EQ(xx, (std::vector<double>{2, 4, 6, 8, 12, 18}));
  EXPECT_EQ(xr, (std::vector<double>{1, 2, 3}));  // 2 * 0.5 * x
  ASSERT_TRUE(
      AddOuter({1, 0, -1}, 4, 1, absl::MakeSpan(xx), absl::MakeSpan(xr)).ok());
  EXPECT_EQ(xx, (std::vector<double>{3, 4, 5, 8, 12, 19}));
  EXPECT_EQ(xr, (std::vector<double>{5, 2, -1}));
  EXPECT_EQ(PackedSize(1), 1);
  EXPECT_EQ(PackedSize(16), 136);
}

TEST(AddOuterTest, RejectsBadInputWithoutAdding) {
  std::vector<double> xx(PackedSize(2), 1.0), xr(2, 1.0);
  const std::vector<double> xx_before = xx, xr_before = xr;
  auto add = [&](std::vector<double> x, double r, double weight) {
    return AddOuter(x, r, weight, absl::MakeSpan(xx), absl::MakeSpan(xr))
        .code();
  };
  EXPECT_EQ(add({1, 2, 3}, 1, 1), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(add({1}, 1, 1), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(add({}, 1, 1), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(add({1, std::nan("")}, 1, 1), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(add({1, 2}, INFINITY, 1), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(add({1, 2}, 1, -0.5), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(add({1, 2}, 1, std::nan("")), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(xx, xx_before);
  EXPECT_EQ(xr, xr_before);
  std::vector<double> big(kMaxLinearDim + 1, 1.0);
  std::vector<double> big_xx(PackedSize(kMaxLinearDim + 1)),
      big_xr(kMaxLinearDim + 1);
  EXPECT_EQ(AddOuter(big, 1, 1, absl::MakeSpan(big_xx), absl::MakeSpan(big_xr))
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(add({1, 2}, 1, 0), absl::StatusCode::kOk);  // weight 0: no-op
  EXPECT_EQ(xx, xx_before);
}

// A = 1 * I + [[3, 2], [2, 2]] = [[4, 2], [2, 3]], det 8,
// A^-1 = [[3, -2], [-2, 4]] / 8. xr = (1, 2):
// theta = ((3 - 4) / 8, (-2 + 8) / 8) = (-0.125, 0.75).
// x^T A^-1 x: (1, 0) 3/8, (0, 1) 4/8, (1, 1) (3 - 2 - 2 + 4) / 8 = 3/8,
// (1, -1) (3 + 2 + 2 + 4) / 8 = 11/8.
TEST(FitLinearTest, TwoByTwoByHand) {
  const LinearPosterior posterior = FitOrDie(2, {3, 2, 2}, {1, 2}, 1.0);
  ASSERT_EQ(posterior.dim(), 2);
  EXPECT_NEAR(posterior.theta()[0], -0.125, 1e-16);
  EXPECT_NEAR(posterior.theta()[1], 0.75, 1e-15);
  EXPECT_NEAR(posterior.Mean({1, 1}), 0.625, 1e-15);
  EXPECT_NEAR(posterior.Width({1, 0}), std::sqrt(3.0 / 8), 1e-15);
  EXPECT_NEAR(posterior.Width({0, 1}), std::sqrt(4.0 / 8), 1e-15);
  EXPECT_NEAR(posterior.Width({1, 1}), std::sqrt(3.0 / 8), 1e-15);
  EXPECT_NEAR(posterior.Width({1, -1}), std::sqrt(11.0 / 8), 1e-15);
  EXPECT_NEAR(posterior.Ucb({1, 1}, 2), 0.625 + 2 * std::sqrt(3.0 / 8), 1e-15);
  EXPECT_EQ(posterior.Width({0, 0}), 0);
}

// A = [[4, 2, 0], [2, 5, 1], [0, 1, 3]] (ridge 0), det 4 * 14 - 2 * 6 = 44,
// adjugate [[14, -6, 2], [-6, 12, -4], [2, -4, 16]] (A times it is 44 I).
// xr = (1, -1, 2): theta = (14 + 6 + 4, -6 - 12 - 8, 2 + 4 + 32) / 44
//   = (6/11, -13/22, 19/22).
// x = (2, 1, -1): theta^T x = 24/22 - 13/22 - 19/22 = -4/11;
//   x^T A^-1 x = (4 * 14 + 12 + 16 + 2 * (2 * -6 + -2 * 2 + -1 * -4)) / 44
//   = 60 / 44 = 15/11.
TEST(FitLinearTest, ThreeByThreeByHand) {
  const LinearPosterior posterior =
      FitOrDie(3, {4, 2, 0, 5, 1, 3}, {1, -1, 2}, 0.0);
  EXPECT_NEAR(posterior.theta()[0], 6.0 / 11, 1e-15);
  EXPECT_NEAR(posterior.theta()[1], -13.0 / 22, 1e-15);
  EXPECT_NEAR(posterior.theta()[2], 19.0 / 22, 1e-15);
  EXPECT_NEAR(posterior.Mean({2, 1, -1}), -4.0 / 11, 1e-15);
  EXPECT_NEAR(posterior.Width({2, 1, -1}), std::sqrt(15.0 / 11), 1e-15);
  EXPECT_NEAR(posterior.Width({1, 0, 0}), std::sqrt(14.0 / 44), 1e-15);
  EXPECT_NEAR(posterior.Width({0, 1, 0}), std::sqrt(12.0 / 44), 1e-15);
  EXPECT_NEAR(posterior.Width({0, 0, 1}), std::sqrt(16.0 / 44), 1e-15);
}

// Independent reference: Gaussian elimination with partial pivoting on the
// full matrix, solving for several right-hand sides at once (the identity
// gives the inverse). Not the code under test: no packing, no Cholesky.
Matrix Solve(Matrix a, Matrix b) {
  const int n = static_cast<int>(a.size());
  const int m = static_cast<int>(b[0].size());
  for (int col = 0; col < n; ++col) {
    int pivot = col;
    for (int row = col + 1; row < n; ++row) {
      if (std::fabs(a[row][col]) > std::fabs(a[pivot][col])) pivot = row;
    }
    std::swap(a[col], a[pivot]);
    std::swap(b[col], b[pivot]);
    for (int row = col + 1; row < n; ++row) {
      const double f = a[row][col] / a[col][col];
      for (int k = col; k < n; ++k) a[row][k] -= f * a[col][k];
      for (int k = 0; k < m; ++k) b[row][k] -= f * b[col][k];
    }
  }
  Matrix x(n, std::vector<double>(m));
  for (int k = 0; k < m; ++k) {
    for (int row = n - 1; row >= 0; --row) {
      double sum = b[row][k];
      for (int j = row + 1; j < n; ++j) sum -= a[row][j] * x[j][k];
      x[row][k] = sum / a[row][row];
    }
  }
  return x;
}

struct Example {
  std::vector<double> x;
  double r;
  double weight;
};

// A small weighted ridge regression: 12 examples, 4 features (an intercept
// and three deterministic, correlated features), ridge 0.5.
TEST(FitLinearTest, MatchesRidgeRegressionByGaussianElimination) {
  constexpr int kD = 4;
  constexpr double kRidge = 0.5;
  std::vector<Example> data;
  for (int i = 0; i < 12; ++i) {
    const double a = std::sin(1.3 * i), b = std::cos(0.7 * i + 0.2);
    data.push_back({{1, a, b, 0.6 * a - 0.3 * b + 0.1 * std::sin(5.0 * i)},
                    0.3 + 0.5 * a - 0.2 * b + 0.05 * std::cos(11.0 * i),
                    0.25 + 0.1 * (i % 5)});
  }
  std::vector<double> xx(PackedSize(kD)), xr(kD);
  // Reference normal equations (ridge I + X^T W X) theta = X^T W r, full.
  Matrix a(kD, std::vector<double>(kD, 0.0));
  Matrix rhs(kD, std::vector<double>(kD + 1, 0.0));  // [X^T W r | I]
  for (const Example& e : data) {
    ASSERT_TRUE(
        AddOuter(e.x, e.r, e.weight, absl::MakeSpan(xx), absl::MakeSpan(xr))
            .ok());
    for (int i = 0; i < kD; ++i) {
      for (int j = 0; j < kD; ++j) a[i][j] += e.weight * e.x[i] * e.x[j];
      rhs[i][0] += e.weight * e.r * e.x[i];
    }
  }
  for (int i = 0; i < kD; ++i) {
    a[i][i] += kRidge;
    rhs[i][i + 1] = 1;
  }
  const Matrix solution = Solve(a, rhs);  // column 0 theta, then A^-1

  const LinearPosterior posterior = FitOrDie(kD, xx, xr, kRidge);
  for (int i = 0; i < kD; ++i) {
    EXPECT_NEAR(posterior.theta()[i], solution[i][0], 1e-13) << i;
  }
  const std::vector<double> queries[] = {
      {1, 0, 0, 0}, {0, 0, 0, 1}, {1, 0.5, -0.5, 0.2}, {1, -2, 3, 1}};
  for (const std::vector<double>& x : queries) {
    double mean = 0, quadratic = 0;
    for (int i = 0; i < kD; ++i) {
      mean += solution[i][0] * x[i];
      for (int j = 0; j < kD; ++j)
        quadratic += x[i] * solution[i][j + 1] * x[j];
    }
    EXPECT_NEAR(posterior.Mean(x), mean, 1e-13);
    EXPECT_NEAR(posterior.Width(x), std::sqrt(quadratic),
                1e-13 * std::sqrt(quadratic));
  }
}

// Two identical features x = (a, a): X^T X = S [[1, 1], [1, 1]] is singular,
// so least squares (ridge 0) must be refused, while any ridge l > 0 gives
// A = l I + S [[1, 1], [1, 1]] with eigenvectors (1, 1) (eigenvalue l + 2S)
// and (1, -1) (eigenvalue l). With xr = R (1, 1):
//   theta = R / (l + 2S) (1, 1), Width(1, 1) = sqrt(2 / (l + 2S)),
//   Width(1, -1) = sqrt(2 / l).
// Here S = sum a^2 = 385 (a = 1..10) and l = 1e-3, so cond(A) ~ 8e5 and
// ~cond * DBL_EPSILON ~ 2e-10 relative error is the most to expect.
TEST(FitLinearTest, RidgeKeepsDuplicatedFeaturesSolvableAndAccurate) {
  std::vector<double> xx(PackedSize(2)), xr(2);
  double s = 0, r_sum = 0;
  for (int a = 1; a <= 10; ++a) {
    const double r = 0.1 * (a % 3);
    ASSERT_TRUE(AddOuter({1.0 * a, 1.0 * a}, r, 1, absl::MakeSpan(xx),
                         absl::MakeSpan(xr))
                    .ok());
    s += a * a;
    r_sum += r * a;
  }
  EXPECT_EQ(FitLinear(2, xx, xr, 0.0).status().code(),
            absl::StatusCode::kInvalidArgument);

  const double l = 1e-3;
  const LinearPosterior posterior = FitOrDie(2, xx, xr, l);
  const double theta = r_sum / (l + 2 * s);
  EXPECT_NEAR(posterior.theta()[0], theta, 1e-9 * theta);
  EXPECT_NEAR(posterior.theta()[1], theta, 1e-9 * theta);
  EXPECT_NEAR(posterior.Width({1, 1}), std::sqrt(2 / (l + 2 * s)),
              1e-9 * std::sqrt(2 / (l + 2 * s)));
  EXPECT_NEAR(posterior.Width({1, -1}), std::sqrt(2 / l),
              1e-9 * std::sqrt(2 / l));
}

// Near-collinear features x = (a, a + d) with tiny d: the reference is the
// closed-form 2 x 2 inverse evaluated in long double.
TEST(FitLinearTest, NearCollinearFeaturesWithRidge) {
  std::vector<double> xx(PackedSize(2)), xr(2);
  long double s00 = 0, s01 = 0, s11 = 0, r0 = 0, r1 = 0;
  for (int i = 1; i <= 20; ++i) {
    const double a = 0.05 * i;
    const double x1 = a + 1e-6 * std::sin(3.0 * i);
    const double r = 0.4 * a + 0.1 * std::cos(2.0 * i);
    ASSERT_TRUE(
        AddOuter({a, x1}, r, 1, absl::MakeSpan(xx), absl::MakeSpan(xr)).ok());
    s00 += static_cast<long double>(a) * a;
    s01 += static_cast<long double>(a) * x1;
    s11 += static_cast<long double>(x1) * x1;
    r0 += static_cast<long double>(r) * a;
    r1 += static_cast<long double>(r) * x1;
  }
  const double l = 1e-4;
  s00 += l;
  s11 += l;
  const long double det = s00 * s11 - s01 * s01;
  const long double theta0 = (s11 * r0 - s01 * r1) / det;
  const long double theta1 = (s00 * r1 - s01 * r0) / det;
  // cond(A) ~ 2 * 14.35 / 1e-4 ~ 3e5: allow 1e-9 relative.
  const LinearPosterior posterior = FitOrDie(2, xx, xr, l);
  EXPECT_NEAR(posterior.theta()[0], static_cast<double>(theta0),
              1e-9 * std::fabs(static_cast<double>(theta0)));
  EXPECT_NEAR(posterior.theta()[1], static_cast<double>(theta1),
              1e-9 * std::fabs(static_cast<double>(theta1)));
  // (1, -1) A^-1 (1, -1)^T = (s11 + s00 + 2 s01) / det.
  const double width =
      static_cast<double>(std::sqrt((s00 + s11 + 2 * s01) / det));
  EXPECT_NEAR(posterior.Width({1, -1}), width, 1e-9 * width);
}

TEST(FitLinearTest, RejectsIndefiniteAndMalformedInput) {
  auto code = [](int d, std::vector<double> xx, std::vector<double> xr,
                 double ridge) {
    return FitLinear(d, xx, xr, ridge).status().code();
  };
  constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
  // [[1, 2], [2, 1]] has eigenvalues 3 and -1.
  EXPECT_EQ(code(2, {1, 2, 1}, {0, 0}, 0), kInvalid);
  EXPECT_EQ(code(2, {1, 2, 1}, {0, 0}, 0.5), kInvalid);
  EXPECT_EQ(code(2, {1, 2, 1}, {0, 0}, 1.5), absl::StatusCode::kOk);
  EXPECT_EQ(code(2, {0, 0, 0}, {0, 0}, 0), kInvalid);  // no data, no ridge
  EXPECT_EQ(code(2, {0, 0, 0}, {0, 0}, 1), absl::StatusCode::kOk);
  EXPECT_EQ(code(2, {-1, 0, 1}, {0, 0}, 0), kInvalid);    // negative diagonal
  EXPECT_EQ(code(3, {1, 0, 1}, {0, 0, 0}, 1), kInvalid);  // xx too short
  EXPECT_EQ(code(2, {1, 0, 1}, {0, 0, 0}, 1), kInvalid);  // xr too long
  EXPECT_EQ(code(0, {}, {}, 1), kInvalid);
  EXPECT_EQ(code(kMaxLinearDim + 1,
                 std::vector<double>(PackedSize(kMaxLinearDim + 1)),
                 std::vector<double>(kMaxLinearDim + 1), 1),
            kInvalid);
  EXPECT_EQ(code(2, {1, 0, 1}, {0, 0}, -1), kInvalid);
  EXPECT_EQ(code(2, {1, 0, 1}, {0, 0}, std::nan("")), kInvalid);
  EXPECT_EQ(code(2, {1, std::nan(""), 1}, {0, 0}, 1), kInvalid);
  EXPECT_EQ(code(2, {1, 0, 1}, {INFINITY, 0}, 1), kInvalid);
}

TEST(FitLinearTest, FullSizeIdentity) {
  // ridge 2, no data: A = 2 I, theta = xr / 2, Width(e_i) = sqrt(1/2).
  std::vector<double> xr(kMaxLinearDim);
  for (int i = 0; i < kMaxLinearDim; ++i) xr[i] = i;
  const LinearPosterior posterior = FitOrDie(
      kMaxLinearDim, std::vector<double>(PackedSize(kMaxLinearDim)), xr, 2.0);
  std::vector<double> e(kMaxLinearDim, 0.0);
  e[kMaxLinearDim - 1] = 1;
  EXPECT_DOUBLE_EQ(posterior.Mean(e), (kMaxLinearDim - 1) / 2.0);
  EXPECT_DOUBLE_EQ(posterior.Width(e), std::sqrt(0.5));
}

TEST(LinearPosteriorTest, WrongSizedQueriesReturnNaN) {
  const LinearPosterior posterior = FitOrDie(2, {3, 2, 2}, {1, 2}, 1.0);
  Rng rng(3);
  EXPECT_TRUE(std::isnan(posterior.Mean({1, 2, 3})));
  EXPECT_TRUE(std::isnan(posterior.Width({1})));
  EXPECT_TRUE(std::isnan(posterior.Ucb({1}, 1)));
  EXPECT_TRUE(std::isnan(posterior.ThompsonSample({1, 2, 3}, 1, rng)));
  std::vector<double> out(3);
  posterior.SampleTheta(1, rng, absl::MakeSpan(out));
  EXPECT_TRUE(std::isnan(out[0]));
}

constexpr int kDraws = 200'000;

// ThompsonSample over many seeded draws against its exact distribution
// N(theta^T x, v^2 x^T A^-1 x), using the 3 x 3 case solved by hand above:
// x = (2, 1, -1) has mean -4/11 and x^T A^-1 x = 15/11; x = (1, 1, 1) has
// theta^T x = (12 - 13 + 19) / 22 = 9/11 and x^T A^-1 x = (sum of the
// adjugate's entries) / 44 = 26/44. Tolerances are 4 standard errors:
// sqrt(var / n) for the mean, var sqrt(2 / n) for the variance (normal).
TEST(LinearThompsonSampleTest, MatchesPosteriorMoments) {
  const LinearPosterior posterior =
      FitOrDie(3, {4, 2, 0, 5, 1, 3}, {1, -1, 2}, 0.0);
  struct Case {
    std::vector<double> x;
    double mean, quadratic;
  };
  const Case cases[] = {{{2, 1, -1}, -4.0 / 11, 15.0 / 11},
                        {{1, 1, 1}, 9.0 / 11, 26.0 / 44},
                        {{0, 0, 1}, 19.0 / 22, 16.0 / 44}};
  const double v = 0.3;
  Rng rng(MixSeed(11, "linear-moments"));
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message()
                 << c.x[0] << " " << c.x[1] << " " << c.x[2]);
    const double variance = v * v * c.quadratic;
    double sum = 0, sum_sq = 0;
    for (int i = 0; i < kDraws; ++i) {
      const double d = posterior.ThompsonSample(c.x, v, rng) - c.mean;
      sum += d;
      sum_sq += d * d;
    }
    const double sample_variance = (sum_sq - sum * sum / kDraws) / (kDraws - 1);
    EXPECT_NEAR(c.mean + sum / kDraws, c.mean,
                4 * std::sqrt(variance / kDraws));
    EXPECT_NEAR(sample_variance, variance,
                4 * variance * std::sqrt(2.0 / kDraws));
  }
}

// The covariance of SampleTheta draws is v^2 A^-1 entry by entry (hand
// inverse above: off-diagonals -6/44, 2/44, -4/44). The standard error of
// a sample covariance of normals is sqrt((s_ii s_jj + s_ij^2) / n).
TEST(LinearThompsonSampleTest, SampleThetaCovarianceIsScaledInverse) {
  const LinearPosterior posterior =
      FitOrDie(3, {4, 2, 0, 5, 1, 3}, {1, -1, 2}, 0.0);
  const double v = 2;
  const double inverse[3][3] = {{14, -6, 2}, {-6, 12, -4}, {2, -4, 16}};
  const double theta[3] = {6.0 / 11, -13.0 / 22, 19.0 / 22};
  double cross[3][3] = {};
  Rng rng(MixSeed(12, "linear-covariance"));
  std::vector<double> draw(3);
  for (int n = 0; n < kDraws; ++n) {
    posterior.SampleTheta(v, rng, absl::MakeSpan(draw));
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) {
        cross[i][j] += (draw[i] - theta[i]) * (draw[j] - theta[j]);
      }
    }
  }
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      const double expected = v * v * inverse[i][j] / 44;
      const double sii = v * v * inverse[i][i] / 44;
      const double sjj = v * v * inverse[j][j] / 44;
      EXPECT_NEAR(cross[i][j] / kDraws, expected,
                  4 * std::sqrt((sii * sjj + expected * expected) / kDraws))
          << i << " " << j;
    }
  }
}

TEST(LinearThompsonSampleTest, ScoresOneThetaDrawAndIsDeterministic) {
  const LinearPosterior posterior =
      FitOrDie(3, {4, 2, 0, 5, 1, 3}, {1, -1, 2}, 0.0);
  const std::vector<double> x = {0.5, -2, 1};
  Rng first(MixSeed(9,
                    "user\x1f"
                    "arm"));
  Rng second = first;
  for (int i = 0; i < 50; ++i) {
    std::vector<double> draw(3);
    posterior.SampleTheta(0.7, second, absl::MakeSpan(draw));
    const double expected = draw[0] * x[0] + draw[1] * x[1] + draw[2] * x[2];
    EXPECT_NEAR(posterior.ThompsonSample(x, 0.7, first), expected, 1e-15);
  }
  EXPECT_EQ(first.NextU64(), second.NextU64());
  // v = 0 is the posterior mean.
  Rng rng(1);
  EXPECT_DOUBLE_EQ(posterior.ThompsonSample(x, 0, rng), posterior.Mean(x));
}

}  // namespace
}  // namespace encore::bandits
