#include "stream/cache_footprint.h"

#include <string>

#include "state/allocator.h"
#include "stream/user_cache.h"

namespace encore {
size_t CacheEntryOverheadBytes() {
  // The table's slot holds the id's string and a pointer to the user's own
  // block, plus a control byte; the table is between 7/16 (just grown) and
  // 7/8 full.
  constexpr size_t kSlot =
      (sizeof(std::string) + sizeof(void*) + 1) * 16 / 7 + 1;
  constexpr size_t kDirtyPointer = sizeof(CachedUser*);
  return MallocBytes(sizeof(CachedUser)) - sizeof(UserRecord) + kSlot +
         kDirtyPointer;
}

size_t CachedUserFootprint(const UserRecord& state, size_t id_bytes) {
  // The key is a copy of the id.
  return MemoryFootprint(state) + CacheEntryOverheadBytes() +
         StringHeapBytes(id_bytes);
}

size_t EventFootprint(size_t payload_bytes) { return 2 * payload_bytes + 64; }

}  // namespace encore
