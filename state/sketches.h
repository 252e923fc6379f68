// Bounded, deterministic per-user sketches stored in UserState: a stable
// string hash, decayed Space-Saving heavy hitters (TopItems) and a distinct
// counter that is exact up to a bound and HyperLogLog beyond (DistinctCounter).
//
// The state is replayed and digested byte for byte, so nothing here depends
// on the process, the machine or the library version: the hash is a fixed
// function, repeated fields are kept in a documented order and every tie is
// broken explicitly.
//
//   TopItems top;
//   SpaceSavingAdd(artist_id, ms_played, event_time_ms, kDayMs,
//                  /*capacity=*/40, &top);
//   std::vector<HeavyHitter> best = SpaceSavingTop(top, 10, now_ms, kDayMs);
//
//   DistinctCounter artists;
//   DistinctAdd(StableHash64(artist_id), /*exact_max=*/128,
//               /*precision=*/10, &artists);
//   double n = DistinctEstimate(artists, /*precision=*/10);
//
// None of these functions is thread-safe for a given sketch; distinct
// sketches may be used from different threads.
#ifndef ENCORE_STATE_SKETCHES_H_
#define ENCORE_STATE_SKETCHES_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "proto/user_state.pb.h"
#include "state/user_record.h"

namespace encore {

// A fixed 64-bit hash of the bytes of `s`: FNV-1a 64 (offset basis
// 0xcbf29ce484222325, prime 0x100000001b3) followed by the splitmix64
// finalizer (z ^= z >> 30; z *= 0xbf58476d1ce4e5b9; z ^= z >> 27;
// z *= 0x94d049bb133111eb; z ^= z >> 31). The finalizer spreads FNV's weak
// high bits so that every output bit is usable, as HyperLogLog needs.
// The values are stored (DistinctCounter), so this function must never
// change; sketches_test pins some of them.
uint64_t StableHash64(absl::string_view s);

// ---------------------------------------------------------------------------
// Decayed Space-Saving heavy hitters (Metwally, Agrawal, El Abbadi 2005).
//
// A TopItems keeps at most `capacity` counters. Every weight, error and the
// total are decayed values as of sketch.ref_time_ms (a moving landmark, see
// DecayedAdd in state/model.h): the true decayed weight of an id is
// sum_i w_i * 2^(-(ref - t_i)/h) over its additions, and `total` is that sum
// over all additions.
//
// Guarantees. Decay multiplies every counter, every error and the total by
// the same factor, and a late addition is one addition of its decayed
// weight, so Space-Saving's invariants, which are homogeneous in the
// weights, hold at every moment. With E = SpaceSavingMaxError(sketch) and
// c = capacity, in exact arithmetic (floating point adds relative rounding
// of order 1e-15 per operation):
//   - for every stored item: true <= weight <= true + error <= true + E;
//   - 0 <= E <= the smallest stored weight and E <= total / c: E > 0 only
//     after an eviction, which leaves the sketch full, and a full sketch's
//     smallest weight is at most its average total / c;
//   - an id that is not stored has true weight <= E: when an id is evicted
//     its true weight is at most its counter, which becomes the error of the
//     id taking over; an error never exceeds its counter, so the bound is
//     passed on by every later eviction;
//   - hence every id with true weight > E, in particular every id with true
//     weight > total / c, is stored;
//   - the sum of the stored weights equals total.
// While no item has been evicted the weights are exact and the sketch does
// not depend on the order of the additions (up to rounding); after evictions
// the stored ids depend on the order; the guarantees hold in every order.
//
// Item order: `items` is sorted by id, ascending (bytewise), ids unique.
// Sorting by id rather than by weight keeps the serialized sketch stable
// while weights change, makes lookups a binary search, and gives a
// canonical form: the same counters always serialize to the same bytes.

// Adds `weight` for `id` observed at `time_ms` to `sketch`, keeping at most
// `capacity` items. A sketch that already holds more (written with a larger
// capacity) keeps its size: dropping counters would break the guarantees.
// If time_ms > sketch->ref_time_ms, every weight, error and the total are
// first multiplied by DecayFactor(time_ms - ref, half_life_ms) and ref moves
// to time_ms; otherwise the weight added is weight * DecayFactor(ref -
// time_ms, half_life_ms). Then total grows by the weight added and: an id
// already stored gets it added to its weight; a new id is inserted with
// error 0 if fewer than `capacity` items are stored; otherwise it replaces
// the item with the smallest weight (ties: the smallest id) and takes over
// its counter: (id, min + added, error = min).
// half_life_ms <= 0 means no decay. A weight that is not finite and > 0,
// or that decays to 0, leaves the sketch unchanged. A fresh sketch has
// ref_time_ms 0, so times are expected to be >= 0 (epoch milliseconds).
// REQUIRES: capacity >= 1 (0 is treated as 1).
void SpaceSavingAdd(absl::string_view id, double weight, int64_t time_ms,
                    int64_t half_life_ms, size_t capacity,
                    TopItemsRecord* sketch);
// The same on the stored form (converts both ways: for tests and tools).
void SpaceSavingAdd(absl::string_view id, double weight, int64_t time_ms,
                    int64_t half_life_ms, size_t capacity, TopItems* sketch);

// The min(k, items) items with the largest weights, largest first (ties: the
// smallest id), with weight and error decayed from ref_time_ms to as_of_ms
// (not decayed further if as_of_ms <= ref_time_ms). Each weight
// overestimates the id's true decayed weight by at most its error.
std::vector<HeavyHitter> SpaceSavingTop(const TopItems& sketch, size_t k,
                                        int64_t as_of_ms, int64_t half_life_ms);

// For each item SpaceSavingTop(sketch, k, ...) returns, in the same order,
// whether it is certainly among the true top k: its guaranteed weight
// (weight - error, a lower bound of its true weight) is at least the
// largest weight any id outside those items may have, i.e. the (k+1)-th
// largest stored weight and E (for ids not stored). Decay scales all of
// them alike, so the answer does not depend on the time read at. While the
// sketch is exact every returned item is certain, except ones tied with the
// (k+1)-th.
std::vector<bool> SpaceSavingCertain(const TopItems& sketch, size_t k);

// E, the guaranteed bound on any overestimate, as of sketch.ref_time_ms: the
// largest stored error. See the guarantees above: every stored weight is at
// most E above the true weight, every id not stored has true weight <= E,
// and E <= min(smallest stored weight, total / capacity); 0 before the
// first eviction. Decays like the weights.
double SpaceSavingMaxError(const TopItems& sketch);

// ---------------------------------------------------------------------------
// Distinct counting: exact, then HyperLogLog (Flajolet, Fusy, Gandouet,
// Meunier 2007).
//
// While `registers` is empty the counter is exact: `exact` holds the
// distinct 64-bit hashes seen, sorted ascending, at most exact_max of them
// (8 bytes each). When a new hash would make it exceed exact_max, the counter
// becomes a HyperLogLog sketch of m = 2^precision one-byte registers (m
// bytes, whatever the cardinality): the exact hashes and the new one are
// folded in and `exact` is cleared. A hash h goes to register
// h >> (64 - precision) and raises it to rank = 1 + the number of leading
// zeros of the remaining 64 - precision bits (64 - precision + 1 if they are
// all zero). Registers keep maxima, so the final bytes do not depend on the
// order of the additions and re-adding a hash changes nothing.
// The estimate's relative standard error is about 1.04 / sqrt(m): 3.25% at
// precision 10 (1 KiB), 1.63% at 12 (4 KiB).
// Hashes must be well mixed in all 64 bits (StableHash64 is).

inline constexpr int kMinDistinctPrecision = 4;
inline constexpr int kMaxDistinctPrecision = 18;

// Adds `hash` to `counter`. REQUIRES: kMinDistinctPrecision <= precision <=
// kMaxDistinctPrecision (clamped into that range otherwise), and the same
// exact_max and precision on every call for one counter (they are model
// configuration). A counter whose registers are not 2^precision bytes,
// written with another precision, starts over as an empty counter, as state
// written with other half-lives does (see state/model.cc).
void DistinctAdd(uint64_t hash, size_t exact_max, int precision,
                 DistinctRecord* counter);
// The same on the stored form (converts both ways: for tests and tools).
void DistinctAdd(uint64_t hash, size_t exact_max, int precision,
                 DistinctCounter* counter);

// The number of distinct hashes added: exact while the counter is exact,
// else the HyperLogLog estimate E = alpha_m * m^2 / sum_j 2^-M[j] with
// alpha_16 = 0.673, alpha_32 = 0.697, alpha_64 = 0.709 and
// alpha_m = 0.7213 / (1 + 1.079 / m) for m >= 128; if E <= 2.5 m and V > 0
// registers are zero, linear counting m * ln(m / V) instead. With 64-bit
// hashes no large-range correction is needed. A counter whose registers are
// not 2^precision bytes is treated as empty (0), consistently with
// DistinctAdd. precision is clamped as in DistinctAdd.
double DistinctEstimate(const DistinctCounter& counter, int precision);

}  // namespace encore

#endif  // ENCORE_STATE_SKETCHES_H_
