#include "state/allocator.h"

#include <malloc.h>
#include <sys/types.h>

#include <algorithm>
#include <bit>
#include <cstdint>

#include "absl/strings/str_cat.h"

// jemalloc's control interface, null unless the process links jemalloc
// (Debian's exports it unprefixed, as it does malloc).
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp,
                       void* newp, size_t newlen) __attribute__((weak));

namespace encore {
namespace {

// Every arena (jemalloc's MALLCTL_ARENAS_ALL is 4096) hands back the pages
// its decay schedule says are due, or all of its free pages.
constexpr const char* kDecayAllArenas = "arena.4096.decay";
constexpr const char* kPurgeAllArenas = "arena.4096.purge";

template <class T>
std::optional<T> Read(const char* name) {
  T value{};
  size_t size = sizeof(value);
  if (mallctl(name, &value, &size, nullptr, 0) != 0) return std::nullopt;
  return value;
}

// jemalloc's statistics are refreshed when the epoch is advanced.
bool RefreshStats() {
  uint64_t epoch = 1;
  size_t size = sizeof(epoch);
  return mallctl("epoch", &epoch, &size, &epoch, size) == 0;
}

}  // namespace

Allocator ProcessAllocator() {
  return mallctl != nullptr ? Allocator::kJemalloc : Allocator::kGlibc;
}

std::string AllocatorDescription() {
  if (ProcessAllocator() == Allocator::kGlibc) return "glibc malloc";
  const std::optional<const char*> version = Read<const char*>("version");
  const std::optional<bool> background = Read<bool>("opt.background_thread");
  const std::optional<ssize_t> dirty = Read<ssize_t>("opt.dirty_decay_ms");
  const std::optional<unsigned> arenas = Read<unsigned>("opt.narenas");
  return absl::StrCat("jemalloc ", version ? *version : "(version unknown)",
                      " (background_thread:",
                      background ? (*background ? "true" : "false") : "?",
                      ", dirty_decay_ms:", dirty ? absl::StrCat(*dirty) : "?",
                      ", narenas:", arenas ? absl::StrCat(*arenas) : "?", ")");
}

size_t GlibcMallocBytes(size_t n) {
  if (n == 0) return 0;
  return std::max<size_t>(32, (n + 8 + 15) & ~size_t{15});
}

size_t JemallocMallocBytes(size_t n) {
  if (n == 0) return 0;
  if (n <= 8) return 8;
  if (n <= 16) return 16;
  // Between 2^k (exclusive) and 2^(k+1) the classes are 2^(k-2) apart, and
  // at least the 16-byte quantum: 32, 48, 64, 80, ..., 128, 160, 192, ...
  const int k = std::bit_width(n - 1) - 1;
  const size_t spacing = std::max<size_t>(16, size_t{1} << (k - 2));
  return (n + spacing - 1) & ~(spacing - 1);
}

size_t MallocBytes(size_t n) {
  return mallctl != nullptr ? JemallocMallocBytes(n) : GlibcMallocBytes(n);
}

void ReleaseFreeMemory(size_t keep_bytes) {
  if (mallctl == nullptr) {
    malloc_trim(0);
    return;
  }
  const std::optional<size_t> dirty = JemallocDirtyBytes();
  mallctl(dirty.has_value() && *dirty > keep_bytes ? kPurgeAllArenas
                                                   : kDecayAllArenas,
          nullptr, nullptr, nullptr, 0);
}

std::optional<size_t> JemallocDirtyBytes() {
  if (mallctl == nullptr || !RefreshStats()) return std::nullopt;
  const std::optional<size_t> pages = Read<size_t>("stats.arenas.4096.pdirty");
  const std::optional<size_t> page = Read<size_t>("arenas.page");
  if (!pages.has_value() || !page.has_value()) return std::nullopt;
  return *pages * *page;
}

std::optional<size_t> HeapAllocatedBytes() {
#if defined(__SANITIZE_ADDRESS__)
  return std::nullopt;  // ASan's allocator reports to neither
#else
  if (mallctl == nullptr) return mallinfo2().uordblks;
  // Blocks freed into this thread's cache still count as allocated until
  // it is flushed.
  mallctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0);
  if (!RefreshStats()) return std::nullopt;
  return Read<size_t>("stats.allocated");
#endif
}

}  // namespace encore
