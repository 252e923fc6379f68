// The process's malloc, as far as memory accounting cares: glibc's, or
// jemalloc when the binary links it (the encore binary does unless built
// with sanitizers: bench/results/miss-jemalloc.md). Which one is found at
// run time (jemalloc's mallctl is a weak reference), so a library, test or
// ranking service built without jemalloc keeps glibc's rules.
//
//   const size_t charged = MallocBytes(v.capacity() * sizeof(T));
//   ...evict...
//   ReleaseFreeMemory(/*keep_bytes=*/budget / 4);  // RSS follows it down
//
// Thread safety: every function may be called from any thread.
#ifndef ENCORE_STATE_ALLOCATOR_H_
#define ENCORE_STATE_ALLOCATOR_H_

#include <cstddef>
#include <optional>
#include <string>

namespace encore {

enum class Allocator { kGlibc, kJemalloc };

// The allocator malloc() resolves to in this process.
Allocator ProcessAllocator();

// For logs: "glibc malloc", or "jemalloc <version> (<its options>)".
std::string AllocatorDescription();

// What malloc(n) takes from the heap under the process's allocator (0 for
// n == 0): glibc adds an 8-byte header and rounds to 16-byte granules (32
// at least); jemalloc rounds to its size classes (8, 16, then four per
// doubling, at least 16 apart), with no header.
size_t MallocBytes(size_t n);
// Each allocator's rule, whichever one the process uses.
size_t GlibcMallocBytes(size_t n);
size_t JemallocMallocBytes(size_t n);

// Hands memory that was freed but kept by the allocator back to the
// system. glibc: malloc_trim. jemalloc: every free page if its arenas hold
// more than `keep_bytes` of them, else those their decay schedule says are
// due (freed pages fall due one decay time after a call or jemalloc's
// background thread first sees them; encore's binary runs that thread,
// with 1 s). Handing back pages that are soon needed again costs a page
// fault each: on the cache-miss path, purging at every call cost ~10 % CPU
// per event (bench/results/miss-jemalloc.md).
void ReleaseFreeMemory(size_t keep_bytes);

// Bytes of free pages jemalloc's arenas hold (dirty: not yet handed back),
// if the process uses jemalloc.
std::optional<size_t> JemallocDirtyBytes();

// Bytes the program has allocated and not freed (glibc: mallinfo2's
// in-use bytes; jemalloc: stats.allocated, after flushing the calling
// thread's cache of freed blocks), if the allocator reports it.
std::optional<size_t> HeapAllocatedBytes();

}  // namespace encore

#endif  // ENCORE_STATE_ALLOCATOR_H_
