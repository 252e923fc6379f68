// Cheap estimates of the write-back cache's memory, charged against its byte
// budget (--cache-max-mb) instead of walking protobuf objects per event.
//
// Calibration (generated users, Zipf activity, 400k events; heap measured
// with mallinfo2, so malloc's own overhead is included): a parsed UserState
// takes 2.5-2.8x its serialized size; protobuf's SpaceUsedLong() up to 3.1x
// for small users, whose fixed message objects dominate. The adversarial
// 64 KiB user of state/MODEL.md takes 1.3x (its 256-byte ids dominate). One
// event grows a user's state by 113 B on average (in memory, user creation
// included); single events reach 1.4 KiB when a repeated field's capacity
// doubles, and 2.8 KiB with 256-byte ids.
//
// Thread safety: pure functions.
#ifndef ENCORE_STREAM_CACHE_FOOTPRINT_H_
#define ENCORE_STREAM_CACHE_FOOTPRINT_H_

#include <cstddef>

namespace encore {

// Fixed bytes of one cache entry besides its state's serialized size: the
// hash-map node (key string, CachedUser with its UserState object), the
// slot, malloc headers and the message objects of an almost empty state.
inline constexpr size_t kCacheEntryOverheadBytes = 1024;

// Estimated heap bytes of a cached user whose state serializes to
// `serialized_bytes` and whose id is `id_bytes` long: 3 x serialized + the
// fixed overhead + the id. An upper bound of the measured figures above.
size_t CachedUserFootprint(size_t serialized_bytes, size_t id_bytes);

// What one applied event of `payload_bytes` adds to its user's charge until
// the next commit re-measures the user: 2 x payload + 64. Above the average
// growth (so the sum over many users is an over-estimate), not above every
// single event's (see above); the excess is bounded by the commit policy.
size_t EventFootprint(size_t payload_bytes);

}  // namespace encore

#endif  // ENCORE_STREAM_CACHE_FOOTPRINT_H_
