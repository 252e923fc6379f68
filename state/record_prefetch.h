// Prefetch hints for walking many users' records in a row (the commit's
// encoding, the cache's re-measuring after it). Users are scattered over
// the heap, and a walk over one first waits for its record, then for each
// of its arrays. A caller asks for a record a few users ahead, and for the
// start of its arrays (their pointers, in the record, fetched by then) a
// few users after that:
//
//   for (size_t j = 0; j < n; ++j) {
//     if (j + 8 < n) PrefetchRecord(*users[j + 8]);
//     if (j + 4 < n) PrefetchRecordArrays(*users[j + 4]);
//     ...walk *users[j]...
//   }
//
// Hints only: they change no result, and a null or empty array's pointer
// does not fault.
#ifndef ENCORE_STATE_RECORD_PREFETCH_H_
#define ENCORE_STATE_RECORD_PREFETCH_H_

#include <cstddef>

#include "state/user_record.h"

namespace encore {

// Every cache line of the `bytes` bytes at `object`.
inline void PrefetchBytes(const void* object, size_t bytes) {
  const char* p = static_cast<const char*>(object);
  for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch(p + b);
}

inline void PrefetchRecord(const UserRecord& user) {
  PrefetchBytes(&user, sizeof(UserRecord));
}

// The first line of each array a record's walk reads element by element.
inline void PrefetchRecordArrays(const UserRecord& user) {
  __builtin_prefetch(user.arms.data());
  __builtin_prefetch(user.top_artists.items.data());
  __builtin_prefetch(user.recent_plays.ring().data());
  __builtin_prefetch(user.pending.data());
}

}  // namespace encore

#endif  // ENCORE_STATE_RECORD_PREFETCH_H_
