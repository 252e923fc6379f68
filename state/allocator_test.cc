// Built twice: as allocator_test (glibc's malloc) and, when the encore
// binary uses jemalloc, as allocator_jemalloc_test linked with it. Each
// checks the accounting rules against the allocator it runs on.
#include "state/allocator.h"

#include <malloc.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

// jemalloc's, when linked (see allocator.cc).
extern "C" size_t nallocx(size_t size, int flags) __attribute__((weak));
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp,
                       void* newp, size_t newlen) __attribute__((weak));

namespace encore {
namespace {

bool Sanitized() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#else
  return false;
#endif
}

// Request sizes to check: every size up to 4 KiB, then a spread up to
// 8 MiB around each power of two.
std::vector<size_t> Sizes() {
  std::vector<size_t> sizes;
  for (size_t n = 1; n <= 4096; ++n) sizes.push_back(n);
  for (size_t p = 4096; p <= (size_t{8} << 20); p *= 2) {
    for (size_t d : {p / 8, p / 4, p / 3, p / 2}) {
      sizes.push_back(p + d - 1);
      sizes.push_back(p + d);
      sizes.push_back(p + d + 1);
    }
  }
  return sizes;
}

TEST(AllocatorTest, GlibcRule) {
  EXPECT_EQ(GlibcMallocBytes(0), 0u);
  EXPECT_EQ(GlibcMallocBytes(1), 32u);
  EXPECT_EQ(GlibcMallocBytes(24), 32u);
  EXPECT_EQ(GlibcMallocBytes(25), 48u);
  EXPECT_EQ(GlibcMallocBytes(100), 112u);
  EXPECT_EQ(GlibcMallocBytes(1000), 1008u);
}

TEST(AllocatorTest, JemallocRule) {
  // jemalloc 5's size classes: 8, 16, 32, 48, ..., 128, 160, 192, 224,
  // 256, 320, ..., four per doubling.
  EXPECT_EQ(JemallocMallocBytes(0), 0u);
  EXPECT_EQ(JemallocMallocBytes(1), 8u);
  EXPECT_EQ(JemallocMallocBytes(8), 8u);
  EXPECT_EQ(JemallocMallocBytes(9), 16u);
  EXPECT_EQ(JemallocMallocBytes(17), 32u);
  EXPECT_EQ(JemallocMallocBytes(33), 48u);
  EXPECT_EQ(JemallocMallocBytes(65), 80u);
  EXPECT_EQ(JemallocMallocBytes(128), 128u);
  EXPECT_EQ(JemallocMallocBytes(129), 160u);
  EXPECT_EQ(JemallocMallocBytes(257), 320u);
  EXPECT_EQ(JemallocMallocBytes(1000), 1024u);
  EXPECT_EQ(JemallocMallocBytes(4097), 5120u);
  EXPECT_EQ(JemallocMallocBytes(16385), 20480u);
}

TEST(AllocatorTest, MallocBytesFollowsTheProcessAllocator) {
  const bool je = ProcessAllocator() == Allocator::kJemalloc;
  EXPECT_EQ(je, mallctl != nullptr);
  for (size_t n : {0, 1, 17, 100, 129, 1000, 5000, 70000}) {
    EXPECT_EQ(MallocBytes(n), je ? JemallocMallocBytes(n) : GlibcMallocBytes(n))
        << n;
  }
  EXPECT_NE(AllocatorDescription().find(je ? "jemalloc 5" : "glibc"),
            std::string::npos)
      << AllocatorDescription();
}

TEST(AllocatorTest, RuleMatchesTheAllocatorInUse) {
  if (Sanitized()) GTEST_SKIP() << "the sanitizer's allocator is in use";
  if (ProcessAllocator() == Allocator::kJemalloc) {
    ASSERT_NE(nallocx, nullptr);
    for (size_t n : Sizes()) {
      ASSERT_EQ(JemallocMallocBytes(n), nallocx(n, 0)) << n;
    }
    return;
  }
  // glibc: a chunk is its usable size plus the 8-byte header, up to the
  // mmap threshold (128 KiB by default).
  for (size_t n : Sizes()) {
    if (n > 100'000) break;
    void* p = std::malloc(n);
    ASSERT_NE(p, nullptr);
    const size_t chunk = malloc_usable_size(p) + 8;
    std::free(p);
    ASSERT_EQ(GlibcMallocBytes(n), chunk) << n;
  }
}

TEST(AllocatorTest, HeapAllocatedBytesCountsAnAllocation) {
  if (Sanitized()) GTEST_SKIP() << "the sanitizer's allocator is in use";
  const std::optional<size_t> before = HeapAllocatedBytes();
  ASSERT_TRUE(before.has_value());
  constexpr size_t kBlock = 64 << 10;
  constexpr int kBlocks = 256;  // 16 MiB in blocks below glibc's mmap bound
  std::vector<char*> blocks;
  for (int i = 0; i < kBlocks; ++i) {
    blocks.push_back(static_cast<char*>(std::malloc(kBlock)));
    std::memset(blocks.back(), 1, kBlock);
  }
  const std::optional<size_t> after = HeapAllocatedBytes();
  for (char* b : blocks) std::free(b);
  ASSERT_TRUE(after.has_value());
  // Within 2 %: other threads' caches of freed blocks count until flushed.
  const size_t grown = *after - *before;
  EXPECT_GE(grown, kBlocks * kBlock * 49 / 50);
  EXPECT_LE(grown, kBlocks * kBlock * 51 / 50);
}

// jemalloc only: glibc's malloc_trim reports nothing to check against.
class ReleaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (ProcessAllocator() != Allocator::kJemalloc) {
      GTEST_SKIP() << "glibc: ReleaseFreeMemory is malloc_trim";
    }
    // Freed pages fall due 100 ms after jemalloc first sees them (this
    // process has no background thread to hand them back on its own);
    // arenas not yet in use refuse the setting and hold nothing.
    unsigned arenas = 0;
    size_t size = sizeof(arenas);
    ASSERT_EQ(mallctl("arenas.narenas", &arenas, &size, nullptr, 0), 0);
    for (unsigned i = 0; i < arenas; ++i) {
      ssize_t decay_ms = 100;
      const std::string name = "arena." + std::to_string(i) + ".dirty_decay_ms";
      mallctl(name.c_str(), nullptr, nullptr, &decay_ms, sizeof(decay_ms));
    }
  }

  // Allocates, touches and frees 32 MiB.
  static void Churn() {
    std::vector<char*> blocks;
    for (int i = 0; i < 4096; ++i) {
      blocks.push_back(static_cast<char*>(std::malloc(8192)));
      std::memset(blocks.back(), 1, 8192);
    }
    for (char* b : blocks) std::free(b);
    mallctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0);
  }

  static size_t Dirty() { return JemallocDirtyBytes().value_or(0); }
};

TEST_F(ReleaseTest, HandsBackEverythingAboveWhatItMayKeep) {
  Churn();
  ASSERT_GT(Dirty(), size_t{4} << 20);
  ReleaseFreeMemory(/*keep_bytes=*/1 << 20);
  EXPECT_EQ(Dirty(), 0u);
}

TEST_F(ReleaseTest, BelowWhatItMayKeepHandsBackWhatIsDue) {
  Churn();
  const size_t freed = Dirty();
  ASSERT_GT(freed, size_t{4} << 20);
  // The pages stay until a call sees them and, one decay time later, a
  // call finds them due. Nothing else here hands them back (no background
  // thread, no allocations). Bounded: 2 s.
  ReleaseFreeMemory(/*keep_bytes=*/size_t{1} << 40);
  EXPECT_GT(Dirty(), freed / 2);
  for (int i = 0; i < 10 && Dirty() >= (size_t{256} << 10); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ReleaseFreeMemory(size_t{1} << 40);
  }
  EXPECT_LT(Dirty(), size_t{256} << 10);
}

}  // namespace
}  // namespace encore
