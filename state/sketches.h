// Bounded, deterministic per-user sketches stored in UserState. Starts with
// the stable string hash they are built on.
//
// The state is replayed and digested byte for byte, so nothing here depends
// on the process, the machine or the library version.
//
// StableHash64 is a pure function and thread-safe.
#ifndef ENCORE_STATE_SKETCHES_H_
#define ENCORE_STATE_SKETCHES_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace encore {

// A fixed 64-bit hash of the bytes of `s`: FNV-1a 64 (offset basis
// 0xcbf29ce484222325, prime 0x100000001b3) followed by the splitmix64
// finalizer (z ^= z >> 30; z *= 0xbf58476d1ce4e5b9; z ^= z >> 27;
// z *= 0x94d049bb133111eb; z ^= z >> 31). The finalizer spreads FNV's weak
// high bits so that every output bit is usable, as HyperLogLog needs.
// The values are stored (DistinctCounter), so this function must never
// change; sketches_test pins some of them.
uint64_t StableHash64(absl::string_view s);

}  // namespace encore

#endif  // ENCORE_STATE_SKETCHES_H_
