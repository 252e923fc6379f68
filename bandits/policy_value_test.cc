#include "bandits/policy_value.h"

#include <cmath>
#include <vector>

#include "bandits/rng.h"
#include "gtest/gtest.h"

namespace encore::bandits {
namespace {

// Three hand-computed rows: (p, r, pi, q_logged, q_target)
//   (0.5, 1, 0.2, 0.4, 0.3): rho 0.4, d = 0.3 + 0.4 * 0.6 = 0.54
//   (0.25, 0, 1.0, 0.1, 0.2): rho 4,  d = 0.2 + 4 * -0.1 = -0.2
//   (0.8, 1, 0.0, 0.7, 0.5): rho 0,   d = 0.5
TEST(PolicyValueTest, HandComputedRows) {
  PolicyValueSums sums;
  ASSERT_TRUE(sums.Add({0.5, 1, 0.2, 0.4, 0.3}));
  ASSERT_TRUE(sums.Add({0.25, 0, 1.0, 0.1, 0.2}));
  ASSERT_TRUE(sums.Add({0.8, 1, 0.0, 0.7, 0.5}));
  const PolicyValue v = EstimatePolicyValue(sums);
  EXPECT_NEAR(v.ips.value, 0.4 / 3, 1e-12);
  EXPECT_NEAR(v.snips.value, 0.4 / 4.4, 1e-12);
  EXPECT_NEAR(v.dr.value, (0.54 - 0.2 + 0.5) / 3, 1e-12);
  EXPECT_EQ(sums.matched, 2u);
  for (const OffPolicyEstimate* e : {&v.ips, &v.snips, &v.dr}) {
    EXPECT_LE(e->low, e->value);
    EXPECT_GE(e->high, e->value);
    EXPECT_GT(e->high, e->low);
  }
}

TEST(PolicyValueTest, ConstantTargetEqualsIpsAndSnips) {
  Rng rng(MixSeed(5, "policy-value"));
  PolicyValueSums sums;
  OffPolicySums all;
  for (int i = 0; i < 500; ++i) {
    const double p = 0.1 + 0.8 * rng.Uniform();
    const double r = rng.Uniform() < 0.3 ? 1.0 : 0.0;
    ASSERT_TRUE(sums.Add({p, r, 0.25, 0.3, 0.3}));
    ASSERT_TRUE(all.Add(r, p));
  }
  const PolicyValue v = EstimatePolicyValue(sums);
  const OffPolicyEstimate ips = Ips(all, all.n, 0.25);
  const OffPolicyEstimate snips = Snips(all);
  EXPECT_NEAR(v.ips.value, ips.value, 1e-12);
  EXPECT_NEAR(v.ips.std_error, ips.std_error, 1e-12);
  EXPECT_NEAR(v.ips.low, ips.low, 1e-12);
  EXPECT_NEAR(v.ips.high, ips.high, 1e-12);
  EXPECT_NEAR(v.snips.value, snips.value, 1e-12);
  EXPECT_NEAR(v.snips.low, snips.low, 1e-12);
  EXPECT_NEAR(v.snips.high, snips.high, 1e-12);
}

// With a perfect reward model DR has no variance from the rewards' noise
// beyond q, and with q = 0 it is IPS.
TEST(PolicyValueTest, DrReducesToIpsWithAZeroModel) {
  PolicyValueSums sums;
  sums.Add({0.5, 1, 0.3, 0, 0});
  sums.Add({0.2, 0, 0.6, 0, 0});
  sums.Add({0.4, 1, 0.1, 0, 0});
  const PolicyValue v = EstimatePolicyValue(sums);
  EXPECT_NEAR(v.dr.value, v.ips.value, 1e-12);
  EXPECT_NEAR(v.dr.std_error, v.ips.std_error, 1e-12);
}

TEST(PolicyValueTest, InvalidRowsAreRefusedAndEmptyGivesZeros) {
  PolicyValueSums sums;
  EXPECT_FALSE(sums.Add({0, 1, 0.5, 0, 0}));
  EXPECT_FALSE(sums.Add({0.5, 1, 1.5, 0, 0}));
  EXPECT_FALSE(sums.Add({0.5, NAN, 0.5, 0, 0}));
  EXPECT_EQ(sums.n, 0u);
  const PolicyValue v = EstimatePolicyValue(sums);
  EXPECT_EQ(v.ips.value, 0);
  EXPECT_EQ(v.dr.high, 1);
}

}  // namespace
}  // namespace encore::bandits
