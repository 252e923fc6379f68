#include "stream/cache_footprint.h"

#include <algorithm>
#include <string>
#include <utility>

#include "stream/user_cache.h"

namespace encore {
namespace {

// glibc's malloc on 64-bit: the request plus an 8-byte header, in 16-byte
// granules, at least 32 (as MemoryFootprint counts).
size_t MallocBytes(size_t n) {
  return std::max<size_t>(32, (n + 8 + 15) & ~size_t{15});
}

}  // namespace

size_t CacheEntryOverheadBytes() {
  // absl::node_hash_map allocates each (key, value) pair on its own; the
  // table holds a pointer and a control byte per slot, and is between 7/16
  // (just grown) and 7/8 full.
  constexpr size_t kSlot = (sizeof(void*) + 1) * 16 / 7 + 1;
  constexpr size_t kDirtyPointer = sizeof(CachedUser*);
  return MallocBytes(sizeof(std::pair<const std::string, CachedUser>)) -
         sizeof(UserRecord) + kSlot + kDirtyPointer;
}

size_t CachedUserFootprint(const UserRecord& state, size_t id_bytes) {
  // The key is a copy of the id: on the heap beyond the 15 characters a
  // string holds in itself.
  const size_t key_heap = id_bytes > 15 ? MallocBytes(id_bytes + 1) : 0;
  return MemoryFootprint(state) + CacheEntryOverheadBytes() + key_heap;
}

size_t EventFootprint(size_t payload_bytes) { return 2 * payload_bytes + 64; }

}  // namespace encore
