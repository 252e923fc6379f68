#include "bandits/linear.h"

#include <cfloat>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace encore::bandits {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Index of (i, j), i <= j, in the row-by-row packed upper triangle of a
// d x d matrix: rows 0..i-1 hold d + (d - 1) + ... + (d - i + 1) entries.
int UpperIndex(int d, int i, int j) { return i * (2 * d - i + 1) / 2 + j - i; }

// Index of (i, j), j <= i, in the row-by-row packed lower triangle.
int LowerIndex(int i, int j) { return i * (i + 1) / 2 + j; }

bool AllFinite(absl::Span<const double> values) {
  for (const double v : values) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

}  // namespace

absl::Status AddOuter(absl::Span<const double> x, double r, double weight,
                      absl::Span<double> xx, absl::Span<double> xr) {
  const int d = static_cast<int>(x.size());
  if (d < 1 || d > kMaxLinearDim) {
    return absl::InvalidArgumentError(absl::StrCat(
        "context has ", x.size(), " features; want 1 to ", kMaxLinearDim));
  }
  if (xx.size() != static_cast<size_t>(PackedSize(d)) ||
      xr.size() != x.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sums have sizes ", xx.size(), " and ", xr.size(), "; want ",
        PackedSize(d), " and ", d, " for ", d, " features"));
  }
  if (!std::isfinite(r) || !std::isfinite(weight) || weight < 0 ||
      !AllFinite(x)) {
    return absl::InvalidArgumentError(
        absl::StrCat("reward ", r, ", weight ", weight,
                     " or a feature is not finite, or the weight is negative"));
  }
  int k = 0;
  for (int i = 0; i < d; ++i) {
    const double wx = weight * x[i];
    for (int j = i; j < d; ++j) xx[k++] += wx * x[j];
    xr[i] += wx * r;
  }
  return absl::OkStatus();
}

absl::StatusOr<LinearPosterior> FitLinear(int d, absl::Span<const double> xx,
                                          absl::Span<const double> xr,
                                          double ridge) {
  if (d < 1 || d > kMaxLinearDim) {
    return absl::InvalidArgumentError(
        absl::StrCat("dimension ", d, "; want 1 to ", kMaxLinearDim));
  }
  if (xx.size() != static_cast<size_t>(PackedSize(d)) ||
      xr.size() != static_cast<size_t>(d)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sums have sizes ", xx.size(), " and ", xr.size(),
                     "; want ", PackedSize(d), " and ", d));
  }
  if (!std::isfinite(ridge) || ridge < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ridge ", ridge, " is negative or not finite"));
  }
  if (!AllFinite(xx) || !AllFinite(xr)) {
    return absl::InvalidArgumentError("sufficient statistics are not finite");
  }

  LinearPosterior posterior;
  posterior.dim_ = d;
  std::array<double, PackedSize(kMaxLinearDim)>& l = posterior.cholesky_;
  // Cholesky-Banachiewicz, row by row: L(i, j) = (A(j, i) - sum_{k<j}
  // L(i, k) L(j, k)) / L(j, j), and L(i, i) = sqrt of the same remainder.
  for (int i = 0; i < d; ++i) {
    for (int j = 0; j <= i; ++j) {
      double sum = xx[UpperIndex(d, j, i)];
      if (i == j) sum += ridge;
      for (int k = 0; k < j; ++k)
        sum -= l[LowerIndex(i, k)] * l[LowerIndex(j, k)];
      if (i != j) {
        l[LowerIndex(i, j)] = sum / l[LowerIndex(j, j)];
        continue;
      }
      // The pivot is the diagonal entry less what earlier rows explain. At
      // or below d * eps of the entry it is rounding noise: A is singular
      // to working precision (or indefinite, if negative).
      const double diagonal = xx[UpperIndex(d, i, i)] + ridge;
      if (!(sum > d * DBL_EPSILON * diagonal)) {
        return absl::InvalidArgumentError(
            absl::StrCat("ridge * I + xx is not positive definite: pivot ", i,
                         " is ", sum, " for diagonal entry ", diagonal));
      }
      l[LowerIndex(i, i)] = std::sqrt(sum);
    }
  }

  // theta = L^-T L^-1 xr.
  std::array<double, kMaxLinearDim>& theta = posterior.theta_;
  for (int i = 0; i < d; ++i) theta[i] = xr[i];
  posterior.SolveLower(theta);
  posterior.SolveUpper(theta);
  return posterior;
}

void LinearPosterior::SolveLower(std::array<double, kMaxLinearDim>& u) const {
  for (int i = 0; i < dim_; ++i) {
    double sum = u[i];
    for (int k = 0; k < i; ++k) sum -= cholesky_[LowerIndex(i, k)] * u[k];
    u[i] = sum / cholesky_[LowerIndex(i, i)];
  }
}

void LinearPosterior::SolveUpper(std::array<double, kMaxLinearDim>& y) const {
  for (int i = dim_ - 1; i >= 0; --i) {
    double sum = y[i];
    for (int k = i + 1; k < dim_; ++k)
      sum -= cholesky_[LowerIndex(k, i)] * y[k];
    y[i] = sum / cholesky_[LowerIndex(i, i)];
  }
}

double LinearPosterior::Mean(absl::Span<const double> x) const {
  if (x.size() != static_cast<size_t>(dim_)) return kNaN;
  double sum = 0;
  for (int i = 0; i < dim_; ++i) sum += theta_[i] * x[i];
  return sum;
}

double LinearPosterior::Width(absl::Span<const double> x) const {
  if (x.size() != static_cast<size_t>(dim_)) return kNaN;
  std::array<double, kMaxLinearDim> u;
  for (int i = 0; i < dim_; ++i) u[i] = x[i];
  SolveLower(u);
  double sum_sq = 0;
  for (int i = 0; i < dim_; ++i) sum_sq += u[i] * u[i];
  return std::sqrt(sum_sq);
}

double LinearPosterior::Ucb(absl::Span<const double> x, double alpha) const {
  return Mean(x) + alpha * Width(x);
}

void LinearPosterior::SampleTheta(double v, Rng& rng,
                                  absl::Span<double> out) const {
  if (out.size() != static_cast<size_t>(dim_)) {
    for (double& o : out) o = kNaN;
    return;
  }
  // L^-T z has covariance L^-T L^-1 = (L L^T)^-1 = A^-1.
  std::array<double, kMaxLinearDim> y;
  for (int i = 0; i < dim_; ++i) y[i] = rng.Normal();
  SolveUpper(y);
  for (int i = 0; i < dim_; ++i) out[i] = theta_[i] + v * y[i];
}

double LinearPosterior::ThompsonSample(absl::Span<const double> x, double v,
                                       Rng& rng) const {
  if (x.size() != static_cast<size_t>(dim_)) return kNaN;
  std::array<double, kMaxLinearDim> sample;
  SampleTheta(v, rng, absl::MakeSpan(sample.data(), dim_));
  double sum = 0;
  for (int i = 0; i < dim_; ++i) sum += sample[i] * x[i];
  return sum;
}

}  // namespace encore::bandits
