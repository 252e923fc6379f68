#include "stream/cache_footprint.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "state/allocator.h"
#include "state/model.h"
#include "stream/event_generator.h"
#include "stream/user_cache.h"

namespace encore {
namespace {

// Built twice: as cache_footprint_test (glibc's malloc) and, when the
// encore binary uses jemalloc, as cache_footprint_jemalloc_test linked with
// it: the charges follow the allocator in use (state/allocator.h).

// Bytes malloc has handed out and not taken back.
size_t HeapInUse() { return HeapAllocatedBytes().value_or(0); }

bool HeapMeasurable() { return HeapAllocatedBytes().has_value(); }

// Generated users in a cache shard: what their charges add up to against
// what the heap grew by.
TEST(CacheFootprintTest, ChargesGeneratedUsersWhatTheyTake) {
  if (!HeapMeasurable()) GTEST_SKIP() << "heap not measurable here";
  ModelConfig config;
  EventGenerator gen(GeneratorOptions{.users = 5000, .seed = 3});
  std::vector<ListenEvent> events;
  for (int i = 0; i < 100'000; ++i) events.push_back(gen.Next());
  size_t charged_events = 0;
  for (const ListenEvent& e : events) {
    charged_events += EventFootprint(e.ByteSizeLong());
  }
  std::vector<CachedUser*> added;
  added.reserve(events.size());

  const size_t before = HeapInUse();
  auto cache = std::make_unique<UserCache>(UserCache::Budget{});
  UserCache::Shard& shard = cache->AddShard(0);
  for (const ListenEvent& e : events) {
    CachedUser* user = shard.Find(e.user_id());
    if (user == nullptr) {
      user = &cache->Add(shard, e.user_id(), std::nullopt);
      added.push_back(user);
    }
    ApplyEvent(config, e, &user->state);
  }
  const size_t heap = HeapInUse() - before;
  size_t charged = 0;
  size_t grown = 0;
  for (const CachedUser* user : added) {
    charged += CachedUserFootprint(user->state, user->state.user_id.size());
    grown += MemoryFootprint(user->state) - MemoryFootprint(UserRecord());
  }
  std::printf(
      "%zu users: heap %zu B, charged %zu B (%.3fx); records grew %.0f B per "
      "event, charged %.0f B per event\n",
      shard.size(), heap, charged, static_cast<double>(charged) / heap,
      static_cast<double>(grown) / events.size(),
      static_cast<double>(charged_events) / events.size());
  // What the records really take, with a little room (the table's spare
  // slots, an allocator rounding that differs).
  EXPECT_GE(charged, heap);
  EXPECT_LE(charged, heap + heap / 10);
  // Events on average: the per-event charge covers what the records grew by
  // (user creation included) between two measurements.
  EXPECT_GE(charged_events, grown);
}

TEST(CacheFootprintTest, ChargesTheAdversarialUserWhatItTakes) {
  if (!HeapMeasurable()) GTEST_SKIP() << "heap not measurable here";
  ModelConfig config;
  auto id = [](const char* kind, int i) {
    std::string out = absl::StrCat(kind, "-", i, "-");
    out.resize(256, 'x');
    return out;
  };
  const std::string user(256, 'u');
  std::vector<ListenEvent> events;
  for (int i = 0; i < 3000; ++i) {
    ListenEvent& e = events.emplace_back();
    e.set_user_id(user);
    e.set_event_id(id("e", i));
    e.set_event_time_ms(1'800'000'000'000 + i * 1000LL);
    e.set_request_id(id("r", i));
    e.set_arm_id(id("arm", i));
    if (i % 2 == 0) {
      e.set_kind(ListenEvent::IMPRESSION);
      e.set_propensity(0.5);
    } else {
      e.set_kind(ListenEvent::PLAY);
      e.set_track_id(id("t", i));
      e.set_artist_id(id("a", i));
      e.set_ms_played(1 + i);
      e.set_track_duration_ms(200'000);
    }
  }
  const size_t before = HeapInUse();
  auto s = std::make_unique<UserRecord>();
  for (size_t i = 0; i < events.size(); ++i) {
    ApplyEvent(config, events[i], s.get());
    if (i % 100 == 99)
      ExpireImpressions(config, events[i].event_time_ms(), s.get());
  }
  const size_t heap = HeapInUse() - before;
  // The record has a heap block of its own here (in the cache it is part of
  // the entry, charged by CachedUserFootprint).
  const size_t charged = MemoryFootprint(*s) - sizeof(UserRecord) +
                         MallocBytes(sizeof(UserRecord));
  std::printf("adversarial user: heap %zu B, charged %zu B\n", heap, charged);
  EXPECT_GE(charged, heap);
  EXPECT_LE(charged, heap + heap / 10);
  EXPECT_EQ(s->arms.size(), config.max_arms_per_user);
}

}  // namespace
}  // namespace encore
