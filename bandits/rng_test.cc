#include "bandits/rng.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace encore::bandits {
namespace {

constexpr int kDraws = 200'000;

struct Moments {
  double mean;
  double variance;
};

template <typename Draw>
Moments SampleMoments(Draw draw, int n = kDraws) {
  double sum = 0;
  double sum_sq = 0;
  for (int i = 0; i < n; ++i) {
    const double v = draw();
    sum += v;
    sum_sq += v * v;
  }
  const double mean = sum / n;
  return {mean, (sum_sq - n * mean * mean) / (n - 1)};
}

// Golden values from an independent implementation of SplitMix64-seeded
// xoshiro256**: they pin the stream so scores reproduce everywhere.
TEST(RngTest, MatchesReferenceStream) {
  Rng zero(0);
  EXPECT_EQ(zero.NextU64(), 0x99ec5f36cb75f2b4ULL);
  EXPECT_EQ(zero.NextU64(), 0xbf6e1f784956452aULL);
  EXPECT_EQ(zero.NextU64(), 0x1a5f849d4933e6e0ULL);
  EXPECT_EQ(zero.NextU64(), 0x6aa594f1262d2d2cULL);
  Rng answer(42);
  EXPECT_EQ(answer.NextU64(), 0x15780b2e0c2ec716ULL);
  EXPECT_EQ(answer.NextU64(), 0x6104d9866d113a7eULL);
}

TEST(RngTest, MixSeedIsPinned) {
  EXPECT_EQ(MixSeed(0, ""), 0xaebe53f85cdc3c4cULL);
  EXPECT_EQ(MixSeed(42,
                    "user1\x1f"
                    "arm7"),
            0x296dbed14a0e9f58ULL);
  EXPECT_EQ(MixSeed(7, "abc"), 0x6efe9c550aa57f0eULL);
}

TEST(RngTest, MixSeedSeparatesKeysAndSeeds) {
  EXPECT_NE(MixSeed(1,
                    "user\x1f"
                    "a"),
            MixSeed(1,
                    "user\x1f"
                    "b"));
  EXPECT_NE(MixSeed(1,
                    "user\x1f"
                    "a"),
            MixSeed(2,
                    "user\x1f"
                    "a"));
  EXPECT_NE(MixSeed(0, "ab"), MixSeed(0, "ba"));
}

TEST(RngTest, SameSeedSameSequence) {
  Rng first(12345);
  Rng second(12345);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(first.NextU64(), second.NextU64());
    ASSERT_EQ(first.Normal(), second.Normal());
    ASSERT_EQ(first.Gamma(0.3), second.Gamma(0.3));
    ASSERT_EQ(first.Beta(2.5, 7.0), second.Beta(2.5, 7.0));
  }
  Rng copy = first;
  for (int i = 0; i < 100; ++i) ASSERT_EQ(first.Uniform(), copy.Uniform());
}

TEST(RngTest, DifferentSeedsDiffer) {
  Rng first(1);
  Rng second(2);
  int equal = 0;
  for (int i = 0; i < 100; ++i) equal += first.NextU64() == second.NextU64();
  EXPECT_EQ(equal, 0);
}

TEST(RngTest, BitsToOpenUnitExcludesEndpoints) {
  EXPECT_EQ(BitsToOpenUnit(0), std::ldexp(1.0, -53));
  EXPECT_EQ(BitsToOpenUnit(~uint64_t{0}), 1.0 - std::ldexp(1.0, -53));
  EXPECT_LT(BitsToOpenUnit(~uint64_t{0}), 1.0);
  EXPECT_EQ(BitsToOpenUnit(uint64_t{1} << 63), 0.5 + std::ldexp(1.0, -53));
}

TEST(RngTest, UniformIsOpenAndCentered) {
  Rng rng(3);
  const Moments m = SampleMoments([&] {
    const double u = rng.Uniform();
    EXPECT_TRUE(u > 0.0 && u < 1.0) << u;
    return u;
  });
  EXPECT_NEAR(m.mean, 0.5, 4 * std::sqrt(1.0 / 12 / kDraws));
  EXPECT_NEAR(m.variance, 1.0 / 12, 4 * std::sqrt(1.0 / 180 / kDraws));
}

TEST(RngTest, NormalHasUnitMoments) {
  Rng rng(4);
  const Moments m = SampleMoments([&] { return rng.Normal(); });
  EXPECT_NEAR(m.mean, 0.0, 4 * std::sqrt(1.0 / kDraws));
  EXPECT_NEAR(m.variance, 1.0, 4 * std::sqrt(2.0 / kDraws));
}

// Gamma(k): mean k, variance k, and the sample variance has variance
// (mu4 - k^2) / n = (2 k^2 + 6 k) / n.
TEST(RngTest, GammaMoments) {
  for (const double shape : {0.3, 1.0, 5.0, 1000.0}) {
    Rng rng(5);
    const Moments m = SampleMoments([&] { return rng.Gamma(shape); });
    EXPECT_NEAR(m.mean, shape, 4 * std::sqrt(shape / kDraws)) << shape;
    EXPECT_NEAR(m.variance, shape,
                4 * std::sqrt((2 * shape * shape + 6 * shape) / kDraws))
        << shape;
  }
}

TEST(RngTest, TinyShapesStayFinite) {
  Rng rng(6);
  int below_half = 0;
  for (int i = 0; i < 10'000; ++i) {
    const double g = rng.Gamma(1e-3);
    ASSERT_TRUE(g >= 0.0 && std::isfinite(g)) << g;
    const double b = rng.Beta(1e-3, 1e-3);
    ASSERT_TRUE(b >= 0.0 && b <= 1.0) << b;
    below_half += b < 0.5;
  }
  EXPECT_NEAR(below_half, 5000, 200);  // symmetric: a fair coin, 4 sigma
}

}  // namespace
}  // namespace encore::bandits
