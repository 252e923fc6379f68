#include "state/sketches.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace encore {
namespace {

// ----- StableHash64 ----------------------------------------------------------

TEST(StableHash64Test, PinnedValues) {
  // Computed by an independent implementation of the definition in
  // sketches.h (FNV-1a 64, then the splitmix64 finalizer). These values are
  // stored in DistinctCounters: if this test fails, the hash changed and
  // every stored counter would be silently wrong.
  EXPECT_EQ(StableHash64(""), 0xf52a15e9a9b5e89bULL);
  EXPECT_EQ(StableHash64("a"), 0x02c0bdbf481420f8ULL);
  EXPECT_EQ(StableHash64("foobar"), 0x404da9e3b74078c2ULL);
  EXPECT_EQ(StableHash64("artist-42"), 0x4b61aff7132707acULL);
  EXPECT_EQ(StableHash64("encore"), 0xbf7c0672fc01cf5dULL);
  // Bytes, not characters: embedded NULs and high bytes count.
  EXPECT_NE(StableHash64(absl::string_view("a\0b", 3)), StableHash64("ab"));
  EXPECT_NE(StableHash64("\xff"), StableHash64("\x7f"));
}

TEST(StableHash64Test, BitsAreBalancedAndTopBitsUniform) {
  // HyperLogLog takes its register index from the top bits and its rank
  // from the rest, so every bit must be close to a fair coin even for
  // near-identical keys.
  constexpr int kKeys = 100'000;
  constexpr int kIndexBits = 10;
  std::vector<int> ones(64, 0);
  std::vector<int> buckets(1 << kIndexBits, 0);
  for (int i = 0; i < kKeys; ++i) {
    const uint64_t h = StableHash64("artist-" + std::to_string(i));
    for (int b = 0; b < 64; ++b) ones[b] += (h >> b) & 1;
    ++buckets[h >> (64 - kIndexBits)];
  }
  // sd of a bit's frequency is 0.5 / sqrt(1e5) = 0.0016; allow 6 sd.
  for (int b = 0; b < 64; ++b) {
    EXPECT_NEAR(ones[b] / double{kKeys}, 0.5, 0.01) << "bit " << b;
  }
  // Chi-square with 1023 degrees of freedom: mean 1023, sd 45; allow 6 sd.
  const double expected = double{kKeys} / buckets.size();
  double chi2 = 0;
  for (int c : buckets) chi2 += (c - expected) * (c - expected) / expected;
  EXPECT_LT(chi2, 1023 + 6 * 45);
}

}  // namespace
}  // namespace encore
