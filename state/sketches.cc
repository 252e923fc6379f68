#include "state/sketches.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>

#include "absl/strings/string_view.h"
#include "bandits/beta.h"

namespace encore {
namespace {

using bandits::DecayFactor;

// ----- Space-Saving --------------------------------------------------------

using Items = std::vector<HeavyHitterRecord>;

// The position of `id` in the id-sorted items, or where it would go.
size_t LowerBound(const Items& items, absl::string_view id) {
  auto it = std::lower_bound(
      items.begin(), items.end(), id,
      [](const HeavyHitterRecord& h, absl::string_view x) { return h.id < x; });
  return static_cast<size_t>(it - items.begin());
}

// The index of the item with the smallest weight, ties: the smallest id.
// Items are sorted by id, so the first strict minimum is the one.
// REQUIRES: items is not empty.
size_t SmallestWeight(const Items& items) {
  size_t victim = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    if (items[i].weight < items[victim].weight) victim = i;
  }
  return victim;
}

// Moves the item at `from` to `to`, shifting the items in between by one.
void MoveItem(Items* items, size_t from, size_t to) {
  const auto at = [items](size_t i) {
    return items->begin() + static_cast<ptrdiff_t>(i);
  };
  if (from < to) std::rotate(at(from), at(from + 1), at(to + 1));
  if (from > to) std::rotate(at(to), at(from), at(from + 1));
}

// ----- HyperLogLog ---------------------------------------------------------

int ClampPrecision(int precision) {
  return std::clamp(precision, kMinDistinctPrecision, kMaxDistinctPrecision);
}

// Raises the register of `hash` to its rank. REQUIRES: registers->size() ==
// 2^precision.
void HllAdd(uint64_t hash, int precision, std::string* registers) {
  const size_t index = static_cast<size_t>(hash >> (64 - precision));
  const uint64_t rest = hash << precision;  // the remaining bits, left-aligned
  const int rank = rest == 0 ? 64 - precision + 1 : std::countl_zero(rest) + 1;
  char& reg = (*registers)[index];
  if (static_cast<unsigned char>(reg) < rank) reg = static_cast<char>(rank);
}

double HllAlpha(double m) {
  if (m == 16) return 0.673;
  if (m == 32) return 0.697;
  if (m == 64) return 0.709;
  return 0.7213 / (1.0 + 1.079 / m);
}

}  // namespace

uint64_t StableHash64(absl::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64 offset basis
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;  // FNV 64 prime
  }
  // splitmix64 finalizer.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

void SpaceSavingAdd(absl::string_view id, double weight, int64_t time_ms,
                    int64_t half_life_ms, size_t capacity,
                    TopItemsRecord* sketch) {
  if (!(weight > 0) || !std::isfinite(weight)) return;
  const int64_t ref = sketch->ref_time_ms;
  double added = weight;
  if (time_ms > ref) {
    const double f = DecayFactor(time_ms - ref, half_life_ms);
    for (HeavyHitterRecord& h : sketch->items) {
      h.weight *= f;
      h.error *= f;
    }
    sketch->total *= f;
    sketch->ref_time_ms = time_ms;
  } else {
    added *= DecayFactor(ref - time_ms, half_life_ms);
    if (!(added > 0)) return;  // decayed to nothing
  }
  sketch->total += added;

  Items& items = sketch->items;
  const size_t pos = LowerBound(items, id);
  if (pos < items.size() && items[pos].id == id) {
    items[pos].weight += added;
    return;
  }
  if (items.size() < std::max<size_t>(capacity, 1)) {
    HeavyHitterRecord& h =
        *items.emplace(items.begin() + static_cast<ptrdiff_t>(pos));
    h.id.assign(id.data(), id.size());
    h.weight = added;
    return;
  }
  // Full: the new id takes over the smallest counter.
  const size_t victim = SmallestWeight(items);
  HeavyHitterRecord& h = items[victim];
  const double min = h.weight;
  h.id.assign(id.data(), id.size());
  h.weight = min + added;
  h.error = min;
  // `pos` counted the victim if it sorts before the new id.
  MoveItem(&items, victim, victim < pos ? pos - 1 : pos);
}

void SpaceSavingAdd(absl::string_view id, double weight, int64_t time_ms,
                    int64_t half_life_ms, size_t capacity, TopItems* sketch) {
  TopItemsRecord record = FromProto(*sketch);
  SpaceSavingAdd(id, weight, time_ms, half_life_ms, capacity, &record);
  ToProto(record, sketch);
}

std::vector<HeavyHitter> SpaceSavingTop(const TopItems& sketch, size_t k,
                                        int64_t as_of_ms,
                                        int64_t half_life_ms) {
  std::vector<HeavyHitter> top(sketch.items().begin(), sketch.items().end());
  const auto larger = [](const HeavyHitter& a, const HeavyHitter& b) {
    if (a.weight() != b.weight()) return a.weight() > b.weight();
    return a.id() < b.id();
  };
  k = std::min(k, top.size());
  std::partial_sort(top.begin(), top.begin() + k, top.end(), larger);
  top.resize(k);
  const double f = DecayFactor(as_of_ms - sketch.ref_time_ms(), half_life_ms);
  for (HeavyHitter& h : top) {
    h.set_weight(h.weight() * f);
    h.set_error(h.error() * f);
  }
  return top;
}

std::vector<bool> SpaceSavingCertain(const TopItems& sketch, size_t k) {
  // SpaceSavingTop's order, then the (k+1)-th stored weight.
  std::vector<HeavyHitter> top =
      SpaceSavingTop(sketch, k + 1, sketch.ref_time_ms(), 0);
  double outside = SpaceSavingMaxError(sketch);
  if (top.size() > k) {
    outside = std::max(outside, top[k].weight());
    top.resize(k);
  }
  std::vector<bool> certain;
  certain.reserve(top.size());
  for (const HeavyHitter& h : top) {
    // An item tied with the best outsider is not certain (ties go either
    // way); with all weights exact, strictly above it is.
    certain.push_back(h.weight() - h.error() > outside ||
                      (outside == 0 && h.weight() > 0));
  }
  return certain;
}

double SpaceSavingMaxError(const TopItems& sketch) {
  double e = 0;
  for (const HeavyHitter& h : sketch.items()) e = std::max(e, h.error());
  return e;
}

void DistinctAdd(uint64_t hash, size_t exact_max, int precision,
                 DistinctRecord* counter) {
  precision = ClampPrecision(precision);
  const size_t m = size_t{1} << precision;
  std::string& registers = counter->registers;
  if (!registers.empty()) {
    if (registers.size() != m) {  // another precision: start over
      *counter = DistinctRecord();
    } else {
      HllAdd(hash, precision, &registers);
      return;
    }
  }

  std::vector<uint64_t>& exact = counter->exact;
  const auto it = std::lower_bound(exact.begin(), exact.end(), hash);
  if (it != exact.end() && *it == hash) return;
  if (exact.size() < exact_max) {
    exact.insert(it, hash);
    return;
  }
  registers.assign(m, '\0');
  for (const uint64_t h : exact) HllAdd(h, precision, &registers);
  HllAdd(hash, precision, &registers);
  exact.clear();
  exact.shrink_to_fit();
}

void DistinctAdd(uint64_t hash, size_t exact_max, int precision,
                 DistinctCounter* counter) {
  DistinctRecord record = FromProto(*counter);
  DistinctAdd(hash, exact_max, precision, &record);
  ToProto(record, counter);
}

double DistinctEstimate(const DistinctCounter& counter, int precision) {
  if (counter.registers().empty()) return counter.exact_size();
  precision = ClampPrecision(precision);
  const size_t m = size_t{1} << precision;
  if (counter.registers().size() != m) return 0;  // see DistinctAdd

  double sum = 0;  // in register order, so the rounding is fixed
  size_t zeros = 0;
  for (const char reg : counter.registers()) {
    const int rank = static_cast<unsigned char>(reg);
    sum += std::ldexp(1.0, -rank);
    if (rank == 0) ++zeros;
  }
  const double md = static_cast<double>(m);
  const double raw = HllAlpha(md) * md * md / sum;
  if (raw <= 2.5 * md && zeros > 0) {
    return md * std::log(md / static_cast<double>(zeros));  // linear counting
  }
  return raw;
}

}  // namespace encore
