#include "state/sketches.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "state/model.h"

namespace encore {
namespace {

// Portable randomness: std::mt19937_64's output is fixed by the standard,
// the std::*_distribution classes are not.
class Rand {
 public:
  explicit Rand(uint64_t seed) : gen_(seed) {}
  uint64_t Next() { return gen_(); }
  double Unit() { return static_cast<double>(gen_() >> 11) * 0x1p-53; }
  int64_t Below(int64_t n) { return static_cast<int64_t>(gen_() % n); }

 private:
  std::mt19937_64 gen_;
};

// A Zipf(s) sampler over ranks 0..n-1 by inverting the CDF.
class Zipf {
 public:
  Zipf(int n, double s) {
    double sum = 0;
    for (int r = 1; r <= n; ++r) cdf_.push_back(sum += std::pow(r, -s));
    for (double& c : cdf_) c /= sum;
  }
  int Sample(Rand& rand) const {
    const double u = rand.Unit();
    const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
    return std::min(static_cast<int>(it - cdf_.begin()),
                    static_cast<int>(cdf_.size()) - 1);
  }

 private:
  std::vector<double> cdf_;
};

struct Addition {
  std::string id;
  double weight;
  int64_t time_ms;
};

constexpr int64_t kT0 = 1'700'000'000'000;

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

// ----- Space-Saving ----------------------------------------------------------

void ExpectSortedById(const TopItems& sketch) {
  for (int i = 1; i < sketch.items_size(); ++i) {
    EXPECT_LT(sketch.items(i - 1).id(), sketch.items(i).id()) << i;
  }
}

TEST(SpaceSavingTest, ExactWithoutEvictionsMatchesDecayedAddInAnyOrder) {
  constexpr int64_t kHalfLife = kHourMs;
  constexpr int kIds = 25;
  Rand rand(1);
  std::vector<Addition> adds;
  for (int i = 0; i < 400; ++i) {
    adds.push_back({"id-" + std::to_string(rand.Below(kIds)),
                    1 + rand.Unit() * 100, kT0 + rand.Below(10 * kHourMs)});
  }
  // Expected: one DecayedAdd accumulator per id, read at the newest time.
  std::map<std::string, std::pair<int64_t, double>> exact;  // ref, value
  int64_t newest = 0;
  double exact_total = 0;
  int64_t total_ref = 0;
  for (const Addition& a : adds) {
    auto& [ref, value] = exact[a.id];
    DecayedAdd(a.weight, a.time_ms, kHalfLife, &ref, &value);
    DecayedAdd(a.weight, a.time_ms, kHalfLife, &total_ref, &exact_total);
    newest = std::max(newest, a.time_ms);
  }
  ASSERT_EQ(exact.size(), size_t{kIds});

  std::string first_ids;
  for (int order = 0; order < 6; ++order) {
    if (order > 0)
      std::shuffle(adds.begin(), adds.end(), std::mt19937_64(order));
    TopItems sketch;
    for (const Addition& a : adds) {
      SpaceSavingAdd(a.id, a.weight, a.time_ms, kHalfLife, kIds, &sketch);
    }
    EXPECT_EQ(sketch.ref_time_ms(), newest);
    EXPECT_NEAR(sketch.total(), exact_total, 1e-9 * exact_total);
    ASSERT_EQ(sketch.items_size(), kIds);
    ExpectSortedById(sketch);
    EXPECT_EQ(SpaceSavingMaxError(sketch), 0.0);
    std::string ids;
    for (const HeavyHitter& h : sketch.items()) {
      const auto& [ref, value] = exact.at(h.id());
      const double expected = DecayedValueAt(value, ref, newest, kHalfLife);
      EXPECT_NEAR(h.weight(), expected, 1e-9 * expected) << h.id();
      EXPECT_EQ(h.error(), 0.0);
      ids += h.id() + ",";
    }
    if (order == 0) first_ids = ids;
    EXPECT_EQ(ids, first_ids);  // same ids in the same (id) order
  }
}

TEST(SpaceSavingTest, ZipfStreamKeepsEveryGuarantee) {
  constexpr int kIds = 10'000;
  constexpr int kAdds = 200'000;
  constexpr size_t kCapacity = 40;
  constexpr int64_t kHalfLife = 7 * kDayMs;
  // Id order differs from rank order, so ties and sorting are exercised.
  std::vector<std::string> ids;
  for (int r = 0; r < kIds; ++r) {
    ids.push_back("id-" + std::to_string(r * 7919 % kIds));
  }
  const Zipf zipf(kIds, 1.1);
  Rand rand(42);
  std::vector<Addition> adds;
  int late = 0;
  for (int i = 0; i < kAdds; ++i) {
    // ~70 days of events 30 s apart with +-10 min of jitter; one in five
    // arrives up to 3 days late.
    int64_t t = kT0 + i * int64_t{30'000} + rand.Below(1'200'000) - 600'000;
    if (rand.Below(5) == 0) {
      t -= rand.Below(3 * kDayMs);
      ++late;
    }
    adds.push_back({ids[zipf.Sample(rand)], 1.0 + rand.Below(300'000), t});
  }
  ASSERT_GT(late, kAdds / 10);

  TopItems sketch;
  int64_t newest = 0;
  for (const Addition& a : adds) {
    SpaceSavingAdd(a.id, a.weight, a.time_ms, kHalfLife, kCapacity, &sketch);
    newest = std::max(newest, a.time_ms);
    ASSERT_LE(sketch.items_size(), static_cast<int>(kCapacity));
  }

  // Exact decayed weights, computed directly from the closed form.
  std::map<std::string, double> truth;
  double total = 0;
  for (const Addition& a : adds) {
    const double w =
        a.weight * std::exp2(-static_cast<double>(newest - a.time_ms) /
                             static_cast<double>(kHalfLife));
    truth[a.id] += w;
    total += w;
  }

  const double tol = 1e-9 * total;
  EXPECT_EQ(sketch.ref_time_ms(), newest);
  EXPECT_NEAR(sketch.total(), total, tol);
  ASSERT_EQ(sketch.items_size(), static_cast<int>(kCapacity));
  ExpectSortedById(sketch);

  const double max_error = SpaceSavingMaxError(sketch);
  double min_weight = sketch.items(0).weight();
  double sum = 0;
  std::set<std::string> stored;
  for (const HeavyHitter& h : sketch.items()) {
    min_weight = std::min(min_weight, h.weight());
    sum += h.weight();
    stored.insert(h.id());
    const double t = truth[h.id()];
    EXPECT_LE(t, h.weight() + tol) << h.id();              // true <= est
    EXPECT_LE(h.weight(), t + h.error() + tol) << h.id();  // est <= true + err
    EXPECT_LE(h.error(), max_error) << h.id();             // err <= E
  }
  EXPECT_GT(max_error, 0.0);  // evictions happened
  EXPECT_LE(max_error, min_weight);
  EXPECT_LE(min_weight, total / kCapacity + tol);
  EXPECT_NEAR(sum, total, tol);

  int heavy = 0;
  for (const auto& [id, t] : truth) {
    if (stored.count(id) == 0) {
      EXPECT_LE(t, max_error + tol) << id;  // absent: true <= E <= min
    }
    if (t > total / kCapacity) {
      ++heavy;
      EXPECT_EQ(stored.count(id), 1u) << id << " true " << t;
    }
  }
  EXPECT_GE(heavy, 3);  // the last guarantee was really exercised

  // The top list is ordered and reads the same counters.
  const std::vector<HeavyHitter> top =
      SpaceSavingTop(sketch, 10, newest, kHalfLife);
  ASSERT_EQ(top.size(), 10u);
  for (size_t i = 1; i < top.size(); ++i) {
    EXPECT_GE(top[i - 1].weight(), top[i].weight());
  }
  for (const HeavyHitter& h : top) {
    EXPECT_LE(truth[h.id()], h.weight() + tol);
    EXPECT_LE(h.weight(), truth[h.id()] + h.error() + tol);
  }

  // Items marked certain are truly among the top 20 (fewer than 20 ids
  // weigh more); some are marked, not all (the tail is within the error).
  const std::vector<HeavyHitter> top20 =
      SpaceSavingTop(sketch, 20, newest, kHalfLife);
  const std::vector<bool> certain = SpaceSavingCertain(sketch, 20);
  ASSERT_EQ(certain.size(), top20.size());
  int marked = 0;
  for (size_t i = 0; i < top20.size(); ++i) {
    if (!certain[i]) continue;
    ++marked;
    int heavier = 0;
    for (const auto& [id, t] : truth) heavier += t > truth[top20[i].id()] + tol;
    EXPECT_LT(heavier, 20) << top20[i].id();
  }
  EXPECT_GE(marked, 3);
  EXPECT_LT(marked, 20);
}

TEST(SpaceSavingTest, ExactSketchMarksAllButTies) {
  TopItems sketch;
  // Weights 5, 4, 3, 3 (no evictions: exact). Top 2: both certain; top 3:
  // the third ties with the fourth, so it is not.
  for (const auto& [id, w] : std::vector<std::pair<std::string, double>>{
           {"a", 5}, {"b", 4}, {"c", 3}, {"d", 3}}) {
    SpaceSavingAdd(id, w, kT0, 0, 10, &sketch);
  }
  EXPECT_EQ(SpaceSavingCertain(sketch, 2), (std::vector<bool>{true, true}));
  EXPECT_EQ(SpaceSavingCertain(sketch, 3),
            (std::vector<bool>{true, true, false}));
  EXPECT_EQ(SpaceSavingCertain(sketch, 10),
            (std::vector<bool>{true, true, true, true}));
}

TEST(SpaceSavingTest, SizeStaysBoundedWithAMillionDistinctIds) {
  constexpr size_t kCapacity = 64;
  TopItemsRecord record;  // the form the model updates
  for (int i = 0; i < 1'000'000; ++i) {
    SpaceSavingAdd("id-" + std::to_string(i), 1.0 + i % 7, kT0 + i, kDayMs,
                   kCapacity, &record);
    if (i % 1000 == 0) {
      ASSERT_LE(record.items.size(), kCapacity);
    }
  }
  TopItems sketch;
  ToProto(record, &sketch);
  EXPECT_EQ(sketch.items_size(), static_cast<int>(kCapacity));
  ExpectSortedById(sketch);
  // 64 counters of (id <= 9 bytes, two doubles): well under 4 KiB.
  EXPECT_LT(sketch.ByteSizeLong(), 4096u);
  EXPECT_LE(SpaceSavingMaxError(sketch), sketch.total() / kCapacity);
}

std::string BuildAndSerialize(int64_t half_life_ms) {
  const Zipf zipf(500, 1.0);
  Rand rand(7);
  TopItems sketch;
  for (int i = 0; i < 20'000; ++i) {
    const int64_t t = kT0 + i * int64_t{60'000} - rand.Below(kDayMs);
    SpaceSavingAdd("id-" + std::to_string(zipf.Sample(rand)),
                   1.0 + rand.Below(1000), t, half_life_ms, 16, &sketch);
  }
  return sketch.SerializeAsString();
}

TEST(SpaceSavingTest, SameInputGivesIdenticalBytes) {
  const std::string a = BuildAndSerialize(kDayMs);
  const std::string b = BuildAndSerialize(kDayMs);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
}

TEST(SpaceSavingTest, PinnedBytesForAnExactlyDecayedStream) {
  // Times are whole half-lives apart, so every decay factor is a power of
  // two and the bytes depend on the algorithm alone (not on libm): a change
  // to the eviction rule, tie-breaking or item order shows here.
  constexpr int64_t kH = 1000;
  TopItems sketch;
  const char* ids[] = {"d", "b", "a", "c", "b", "e", "a", "f", "b", "g"};
  const int64_t times[] = {0,    1000, 3000, 2000, 3000,
                           5000, 4000, 5000, 1000, 6000};
  for (int i = 0; i < 10; ++i) {
    SpaceSavingAdd(ids[i], 1 + i, times[i], kH, 3, &sketch);
  }
  // Worked by hand: d, then b, a fill the sketch; c (late, 2) takes d;
  // e takes c at 5000; a grows by a late 3.5; f takes b; b (4 half-lives
  // late: 9/16) takes a at 4.25; g takes b after one more halving.
  EXPECT_EQ(sketch.ref_time_ms(), 6000);
  EXPECT_EQ(sketch.total(), 20.359375);
  ASSERT_EQ(sketch.items_size(), 3) << sketch.DebugString();
  EXPECT_EQ(sketch.items(0).id(), "e");
  EXPECT_EQ(sketch.items(0).weight(), 3.265625);
  EXPECT_EQ(sketch.items(0).error(), 0.265625);
  EXPECT_EQ(sketch.items(1).id(), "f");
  EXPECT_EQ(sketch.items(1).weight(), 4.6875);
  EXPECT_EQ(sketch.items(1).error(), 0.6875);
  EXPECT_EQ(sketch.items(2).id(), "g");
  EXPECT_EQ(sketch.items(2).weight(), 12.40625);
  EXPECT_EQ(sketch.items(2).error(), 2.40625);
  EXPECT_EQ(SpaceSavingMaxError(sketch), 2.40625);
}

TEST(SpaceSavingTest, EvictsSmallestWeightTiesBySmallestId) {
  TopItems sketch;
  SpaceSavingAdd("m", 2, 0, 0, 3, &sketch);
  SpaceSavingAdd("c", 1, 0, 0, 3, &sketch);
  SpaceSavingAdd("k", 1, 0, 0, 3, &sketch);
  // Full; "c" and "k" tie at 1: "c" (smaller id) is replaced.
  SpaceSavingAdd("z", 0.5, 0, 0, 3, &sketch);
  ASSERT_EQ(sketch.items_size(), 3);
  EXPECT_EQ(sketch.items(0).id(), "k");
  EXPECT_EQ(sketch.items(1).id(), "m");
  EXPECT_EQ(sketch.items(2).id(), "z");
  EXPECT_EQ(sketch.items(2).weight(), 1.5);
  EXPECT_EQ(sketch.items(2).error(), 1.0);
  EXPECT_EQ(sketch.total(), 4.5);
  EXPECT_EQ(SpaceSavingMaxError(sketch), 1.0);
  // Now "k" (1) is the smallest; "a" sorts first after taking it over.
  SpaceSavingAdd("a", 3, 0, 0, 3, &sketch);
  EXPECT_EQ(sketch.items(0).id(), "a");
  EXPECT_EQ(sketch.items(0).weight(), 4.0);
  EXPECT_EQ(sketch.items(0).error(), 1.0);
  EXPECT_EQ(sketch.items(1).id(), "m");
  EXPECT_EQ(sketch.items(2).id(), "z");
  // A stored id just grows.
  SpaceSavingAdd("m", 1, 0, 0, 3, &sketch);
  EXPECT_EQ(sketch.items(1).weight(), 3.0);
  EXPECT_EQ(sketch.items(1).error(), 0.0);
}

TEST(SpaceSavingTest, NewerTimeDecaysEverythingAndLateTimeIsDecayedBack) {
  constexpr int64_t kH = kHourMs;
  TopItems sketch;
  SpaceSavingAdd("a", 8, kT0, kH, 2, &sketch);
  SpaceSavingAdd("b", 4, kT0, kH, 2, &sketch);
  SpaceSavingAdd("c", 2, kT0, kH, 2, &sketch);  // takes over "b": (6, err 4)
  SpaceSavingAdd("a", 1, kT0 + kH, kH, 2, &sketch);  // one half-life later
  EXPECT_EQ(sketch.ref_time_ms(), kT0 + kH);
  EXPECT_DOUBLE_EQ(sketch.items(0).weight(), 8 * 0.5 + 1);
  EXPECT_DOUBLE_EQ(sketch.items(1).weight(), 6 * 0.5);
  EXPECT_DOUBLE_EQ(sketch.items(1).error(), 4 * 0.5);
  EXPECT_DOUBLE_EQ(sketch.total(), 14 * 0.5 + 1);
  SpaceSavingAdd("c", 4, kT0 - kH, kH, 2, &sketch);  // two half-lives late
  EXPECT_EQ(sketch.ref_time_ms(), kT0 + kH);  // a late event does not move it
  EXPECT_DOUBLE_EQ(sketch.items(1).weight(), 3 + 1);
  EXPECT_DOUBLE_EQ(sketch.total(), 8 + 1);
}

TEST(SpaceSavingTest, IgnoresWeightsThatAreNotPositiveAndFinite) {
  TopItems sketch;
  SpaceSavingAdd("a", 1, kT0, kHourMs, 4, &sketch);
  const std::string before = sketch.SerializeAsString();
  for (double w : {0.0, -1.0, std::nan(""), HUGE_VAL}) {
    SpaceSavingAdd("b", w, kT0 + kHourMs, kHourMs, 4, &sketch);
  }
  EXPECT_EQ(sketch.SerializeAsString(), before);
}

TEST(SpaceSavingTest, TopIsLargestFirstTiesByIdDecayedToAsOf) {
  TopItems sketch;
  for (const char* id : {"d", "b", "c", "a"}) {
    SpaceSavingAdd(id, 2, kT0, kHourMs, 10, &sketch);
  }
  SpaceSavingAdd("c", 2, kT0, kHourMs, 10, &sketch);
  std::vector<HeavyHitter> top =
      SpaceSavingTop(sketch, 3, kT0 + kHourMs, kHourMs);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].id(), "c");
  EXPECT_DOUBLE_EQ(top[0].weight(), 2.0);  // 4, one half-life later
  EXPECT_EQ(top[1].id(), "a");             // ties at 2 -> 1: by id
  EXPECT_EQ(top[2].id(), "b");
  EXPECT_DOUBLE_EQ(top[2].weight(), 1.0);
  // Not decayed further back than ref; k beyond the size returns all.
  top = SpaceSavingTop(sketch, 99, kT0 - kDayMs, kHourMs);
  ASSERT_EQ(top.size(), 4u);
  EXPECT_DOUBLE_EQ(top[0].weight(), 4.0);
  EXPECT_EQ(top[3].id(), "d");
  EXPECT_TRUE(SpaceSavingTop(TopItems(), 5, kT0, kHourMs).empty());
}

// ----- Distinct counting -----------------------------------------------------

uint64_t Key(int i) { return StableHash64("artist-" + std::to_string(i)); }

TEST(DistinctTest, ExactUpToTheBoundThenHyperLogLog) {
  DistinctCounter c;
  for (int i = 0; i < 100; ++i) {
    DistinctAdd(Key(i), 100, 10, &c);
    DistinctAdd(Key(i / 2), 100, 10, &c);  // duplicates
  }
  EXPECT_TRUE(c.registers().empty());
  ASSERT_EQ(c.exact_size(), 100);
  EXPECT_TRUE(std::is_sorted(c.exact().begin(), c.exact().end()));
  EXPECT_EQ(std::adjacent_find(c.exact().begin(), c.exact().end()),
            c.exact().end());
  EXPECT_EQ(DistinctEstimate(c, 10), 100.0);

  DistinctAdd(Key(100), 100, 10, &c);  // the 101st distinct hash
  EXPECT_EQ(c.exact_size(), 0);
  EXPECT_EQ(c.registers().size(), 1024u);
  EXPECT_NEAR(DistinctEstimate(c, 10), 101, 101 * 0.1);
}

TEST(DistinctTest, EstimateWithinThreeStandardErrors) {
  constexpr int kPrecision = 10;
  const double bound = 3 * 1.04 / std::sqrt(1024.0);
  for (const std::string prefix : {"artist-", "track/"}) {
    DistinctCounter c;
    int n = 0;
    for (int target : {1'000, 10'000, 100'000, 1'000'000}) {
      for (; n < target; ++n) {
        DistinctAdd(StableHash64(prefix + std::to_string(n)), 256, kPrecision,
                    &c);
      }
      const double estimate = DistinctEstimate(c, kPrecision);
      EXPECT_NEAR(estimate / target, 1.0, bound)
          << prefix << " n=" << target << " estimate=" << estimate;
    }
  }
}

TEST(DistinctTest, ReAddingChangesNothing) {
  for (const size_t exact_max : {size_t{1000}, size_t{64}}) {  // exact, HLL
    DistinctCounter c;
    for (int i = 0; i < 500; ++i) DistinctAdd(Key(i), exact_max, 8, &c);
    const std::string once = c.SerializeAsString();
    for (int i = 499; i >= 0; --i) DistinctAdd(Key(i), exact_max, 8, &c);
    EXPECT_EQ(c.SerializeAsString(), once) << exact_max;
  }
}

TEST(DistinctTest, FinalBytesDoNotDependOnOrder) {
  std::vector<uint64_t> hashes;
  for (int i = 0; i < 5000; ++i) hashes.push_back(Key(i));
  for (const size_t exact_max : {size_t{10'000}, size_t{100}}) {
    std::string first;
    for (int order = 0; order < 4; ++order) {
      if (order > 0) {
        std::shuffle(hashes.begin(), hashes.end(), std::mt19937_64(order));
      }
      DistinctCounter c;
      for (uint64_t h : hashes) DistinctAdd(h, exact_max, 12, &c);
      if (order == 0) first = c.SerializeAsString();
      EXPECT_EQ(c.SerializeAsString(), first) << exact_max << " " << order;
    }
  }
}

TEST(DistinctTest, SizeIsBounded) {
  constexpr size_t kExactMax = 200;
  constexpr int kPrecision = 10;
  DistinctCounter c;
  for (int i = 0; i < 100'000; ++i) {
    DistinctAdd(Key(i), kExactMax, kPrecision, &c);
    ASSERT_LE(static_cast<size_t>(c.exact_size()), kExactMax);
    ASSERT_TRUE(c.registers().empty() || c.registers().size() == 1024u);
    ASSERT_TRUE(c.registers().empty() || c.exact_size() == 0);
  }
  EXPECT_LE(c.ByteSizeLong(), 1024u + 8);
}

TEST(DistinctTest, IndexAndRankFollowTheDocumentedLayout) {
  constexpr int kP = 4;  // 16 registers; index = top 4 bits
  DistinctCounter c;
  DistinctAdd(0, 0, kP, &c);  // exact_max 0: HyperLogLog at once
  ASSERT_EQ(c.registers().size(), 16u);
  EXPECT_EQ(c.registers()[0], 64 - kP + 1);  // remaining bits all zero
  DistinctAdd(uint64_t{3} << 60 | uint64_t{1} << 50, 0, kP, &c);
  EXPECT_EQ(c.registers()[3], 10);  // 9 leading zeros below the index
  DistinctAdd(uint64_t{3} << 60 | uint64_t{1} << 59, 0, kP, &c);
  EXPECT_EQ(c.registers()[3], 10);  // rank 1 does not lower it
  DistinctAdd(~uint64_t{0}, 0, kP, &c);
  EXPECT_EQ(c.registers()[15], 1);
}

TEST(DistinctTest, OtherPrecisionStartsOver) {
  DistinctCounter c;
  for (int i = 0; i < 1000; ++i) DistinctAdd(Key(i), 16, 8, &c);
  ASSERT_EQ(c.registers().size(), 256u);
  EXPECT_EQ(DistinctEstimate(c, 10), 0.0);  // read with another precision
  DistinctAdd(Key(0), 16, 10, &c);
  EXPECT_TRUE(c.registers().empty());
  EXPECT_EQ(DistinctEstimate(c, 10), 1.0);
}

}  // namespace
}  // namespace encore
