// Bounded, deterministic per-user sketches stored in UserState: a stable
// string hash and decayed Space-Saving heavy hitters (TopItems).
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
// None of these functions is thread-safe for a given sketch; distinct
// sketches may be used from different threads.
#ifndef ENCORE_STATE_SKETCHES_H_
#define ENCORE_STATE_SKETCHES_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "proto/user_state.pb.h"

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
                    int64_t half_life_ms, size_t capacity, TopItems* sketch);

// The min(k, items) items with the largest weights, largest first (ties: the
// smallest id), with weight and error decayed from ref_time_ms to as_of_ms
// (not decayed further if as_of_ms <= ref_time_ms). Each weight
// overestimates the id's true decayed weight by at most its error.
std::vector<HeavyHitter> SpaceSavingTop(const TopItems& sketch, size_t k,
                                        int64_t as_of_ms, int64_t half_life_ms);

// E, the guaranteed bound on any overestimate, as of sketch.ref_time_ms: the
// largest stored error. See the guarantees above: every stored weight is at
// most E above the true weight, every id not stored has true weight <= E,
// and E <= min(smallest stored weight, total / capacity); 0 before the
// first eviction. Decays like the weights.
double SpaceSavingMaxError(const TopItems& sketch);

}  // namespace encore

#endif  // ENCORE_STATE_SKETCHES_H_
