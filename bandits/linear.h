// Bayesian linear regression over a context vector x (d <= 16 features) from
// additive sufficient statistics, for LinUCB and linear Thompson sampling.
//
// State is two sums that add across events, shards and time (decay scales
// both by the same factor):
//   xx = sum w x x^T, upper triangle packed row by row (PackedSize(d)
//        doubles: (0,0), (0,1), ..., (0,d-1), (1,1), ..., (d-1,d-1)),
//   xr = sum w r x (d doubles).
//
//   std::vector<double> xx(PackedSize(d)), xr(d);
//   absl::Status added = AddOuter(x, reward, weight,           // per event
//                                 absl::MakeSpan(xx), absl::MakeSpan(xr));
//   absl::StatusOr<LinearPosterior> posterior = FitLinear(d, xx, xr, 1.0);
//   double ucb = posterior->Ucb(x, 1.0);                        // LinUCB
//   double sample = posterior->ThompsonSample(x, 0.5, rng);     // linear TS
//
// The model: r = theta^T x + noise of variance v^2 / w (a weight scales an
// example's precision), with prior theta ~ N(0, v^2 / ridge I), so the
// posterior is N(A^-1 xr, v^2 A^-1) with A = ridge I + xx. FitLinear factors
// A = L L^T once (Cholesky); every query is then O(d^2) triangular solves,
// and no inverse is ever formed.
//
// Everything here is a pure function of its arguments (sampling also
// advances the caller's Rng); a LinearPosterior is immutable after
// FitLinear, so concurrent queries are safe given distinct Rngs.
#ifndef ENCORE_BANDITS_LINEAR_H_
#define ENCORE_BANDITS_LINEAR_H_

#include <array>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "bandits/rng.h"

namespace encore::bandits {

// The largest supported number of features. Fixed so that a posterior is a
// small value type with no heap allocation.
inline constexpr int kMaxLinearDim = 16;

// Returns the number of doubles in the packed upper triangle of a d x d
// symmetric matrix: d (d + 1) / 2.
constexpr int PackedSize(int d) { return d * (d + 1) / 2; }

// Adds weight * x x^T to `xx` (packed upper triangle) and weight * r * x to
// `xr`. Non-finite inputs are rejected rather than added because the sums
// persist: one NaN would poison every later fit.
// Returns InvalidArgument, leaving xx and xr untouched, when x is empty or
// longer than kMaxLinearDim, xx.size() != PackedSize(x.size()),
// xr.size() != x.size(), weight < 0, or any of x, r, weight is not finite.
absl::Status AddOuter(absl::Span<const double> x, double r, double weight,
                      absl::Span<double> xx, absl::Span<double> xr);

// The posterior of theta given the sums: mean theta = A^-1 xr and
// covariance proportional to A^-1, held as the Cholesky factor L of A.
// A copyable value; build one with FitLinear.
//
// Every query taking x returns NaN when x.size() != dim() (rather than read
// out of bounds).
class LinearPosterior {
 public:
  int dim() const { return dim_; }

  // The posterior mean of theta, dim() values.
  absl::Span<const double> theta() const {
    return absl::MakeConstSpan(theta_.data(), dim_);
  }

  // Returns theta^T x, the expected reward of context x.
  double Mean(absl::Span<const double> x) const;

  // Returns sqrt(x^T A^-1 x) = ||L^-1 x||, the posterior standard deviation
  // of theta^T x in units of the noise scale v.
  double Width(absl::Span<const double> x) const;

  // Returns Mean(x) + alpha * Width(x), the LinUCB score (Li et al. 2010);
  // alpha sets how optimistic exploration is (e.g. 1 to 2).
  double Ucb(absl::Span<const double> x, double alpha) const;

  // Returns x^T theta~ for one posterior draw theta~ = theta + v L^-T z,
  // z ~ N(0, I_d), so the result is N(theta^T x, v^2 x^T A^-1 x): linear
  // Thompson sampling with exploration scale v. Draws exactly dim() normals
  // (z_0 first), the same as SampleTheta, so with equal Rng states
  // ThompsonSample(x, v, rng) equals x^T SampleTheta(v, rng, ...).
  // Advances `rng`.
  double ThompsonSample(absl::Span<const double> x, double v, Rng& rng) const;

  // Writes one posterior draw theta + v L^-T z, z ~ N(0, I_d), to `out`:
  // score every arm's context against one draw when arms share a model.
  // Writes NaNs if out.size() != dim(). Advances `rng`.
  void SampleTheta(double v, Rng& rng, absl::Span<double> out) const;

 private:
  friend absl::StatusOr<LinearPosterior> FitLinear(int d,
                                                   absl::Span<const double> xx,
                                                   absl::Span<const double> xr,
                                                   double ridge);

  LinearPosterior() = default;

  // Solves L u = x in place (forward substitution).
  void SolveLower(std::array<double, kMaxLinearDim>& u) const;
  // Solves L^T y = z in place (back substitution).
  void SolveUpper(std::array<double, kMaxLinearDim>& y) const;

  int dim_ = 0;
  // L, lower triangle packed row by row: L(i, j), j <= i, at i (i + 1) / 2 + j.
  std::array<double, PackedSize(kMaxLinearDim)> cholesky_{};
  std::array<double, kMaxLinearDim> theta_{};
};

// Fits the posterior from the sums: A = ridge I + xx, its Cholesky factor L,
// and theta = A^-1 xr by two triangular solves. ridge > 0 keeps A positive
// definite however collinear (or absent) the data, as long as ridge is not
// lost in rounding next to xx's diagonal (ridge >> d * DBL_EPSILON * xx_ii);
// ridge = 0 is plain least squares and needs xx itself to be positive
// definite.
// Returns InvalidArgument when d is not in [1, kMaxLinearDim],
// xx.size() != PackedSize(d), xr.size() != d, ridge is negative or not
// finite, any sum is not finite, or A is not numerically positive definite
// (a pivot of the factorisation at or below d * DBL_EPSILON times its
// diagonal entry, i.e. A is singular to working precision: theta would have
// no correct digits).
absl::StatusOr<LinearPosterior> FitLinear(int d, absl::Span<const double> xx,
                                          absl::Span<const double> xr,
                                          double ridge);

}  // namespace encore::bandits

#endif  // ENCORE_BANDITS_LINEAR_H_
