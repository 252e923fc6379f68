// What the write-back cache charges against its byte budget (--cache-max-mb)
// for each cached user: the memory its UserRecord really takes
// (MemoryFootprint, state/user_record.h) plus the cache entry around it,
// measured when the user is loaded and at every commit; in between, a cheap
// estimate per applied event instead of walking the record per event.
//
// Calibration (cache_footprint_test, heap measured with mallinfo2): the
// charge of generated users is within a few percent above the heap they
// take. One event grows a record by ~60 B on average (user creation
// included); single events reach a few KiB when a vector's capacity doubles
// (the arms' at 64 arms), and more with 256-byte ids.
//
// Thread safety: pure functions.
#ifndef ENCORE_STREAM_CACHE_FOOTPRINT_H_
#define ENCORE_STREAM_CACHE_FOOTPRINT_H_

#include <cstddef>

#include "state/user_record.h"

namespace encore {

// Bytes of one cache entry besides its record: the table's slot (the id's
// string and a pointer) and control byte, the user's block beyond its
// record, rounded as malloc rounds it, and the dirty list's pointer.
size_t CacheEntryOverheadBytes();

// What a cached user costs: MemoryFootprint(state) + the entry's overhead +
// the heap of a `id_bytes` long key.
size_t CachedUserFootprint(const UserRecord& state, size_t id_bytes);

// What one applied event of `payload_bytes` adds to its user's charge until
// the next commit measures the user again: 2 x payload + 64. Above the
// average growth (so the sum over many users is an over-estimate), not
// above every single event's (see above); the excess is bounded by the
// commit policy.
size_t EventFootprint(size_t payload_bytes);

}  // namespace encore

#endif  // ENCORE_STREAM_CACHE_FOOTPRINT_H_
