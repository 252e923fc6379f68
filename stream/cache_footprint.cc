#include "stream/cache_footprint.h"

namespace encore {

size_t CachedUserFootprint(size_t serialized_bytes, size_t id_bytes) {
  return 3 * serialized_bytes + kCacheEntryOverheadBytes + id_bytes;
}

size_t EventFootprint(size_t payload_bytes) { return 2 * payload_bytes + 64; }

}  // namespace encore
