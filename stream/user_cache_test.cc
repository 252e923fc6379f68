#include "stream/user_cache.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "stream/cache_footprint.h"

namespace encore {
namespace {

std::optional<StoredUser> Stored(const std::string& id, int plays) {
  StoredUser s;
  s.state.user_id = id;
  s.state.plays = static_cast<uint64_t>(plays);
  s.hash = EntryHash{1, 2};
  return s;
}

size_t Footprint(const UserRecord& state) {
  return CachedUserFootprint(state, state.user_id.size());
}

TEST(UserCacheTest, AddedUsersAreCleanAndChargedTheirMeasuredSize) {
  UserCache cache({.max_users = 10, .max_bytes = 1 << 20});
  UserCache::Shard& shard = cache.AddShard(0);
  CachedUser& stored = cache.Add(shard, "u1", Stored("u1", 7));
  CachedUser& fresh = cache.Add(shard, "u2", std::nullopt);
  EXPECT_FALSE(stored.dirty);
  EXPECT_EQ(stored.state.plays, 7u);
  ASSERT_TRUE(stored.stored_hash.has_value());
  EXPECT_FALSE(fresh.stored_hash.has_value());
  EXPECT_EQ(stored.bytes, Footprint(stored.state));
  EXPECT_EQ(cache.users(), 2u);
  EXPECT_EQ(cache.bytes(), stored.bytes + fresh.bytes);
  EXPECT_EQ(cache.dirty_users(), 0u);
  EXPECT_EQ(shard.Find("u1"), &stored);
  EXPECT_EQ(shard.Find("nobody"), nullptr);
  EXPECT_TRUE(shard.Contains("u2"));
}

TEST(UserCacheTest, DirtyUsersAreChargedUntilMarkedCleanAtMeasuredSize) {
  UserCache cache({.max_users = 10, .max_bytes = 1 << 20});
  UserCache::Shard& shard = cache.AddShard(3);
  CachedUser& a = cache.Add(shard, "a", std::nullopt);
  CachedUser& b = cache.Add(shard, "b", Stored("b", 1));
  const size_t at_load = cache.bytes();
  cache.MarkDirty(shard, b);
  cache.MarkDirty(shard, a);
  cache.MarkDirty(shard, b);  // once only
  ASSERT_EQ(shard.dirty().size(), 2u);
  EXPECT_EQ(shard.dirty()[0], &b);  // in the order they became dirty
  EXPECT_EQ(cache.dirty_users(), 2u);
  cache.Charge(a, 100);
  cache.Charge(b, 50);
  EXPECT_EQ(cache.bytes(), at_load + 150);
  EXPECT_EQ(cache.dirty_bytes(), at_load + 150);

  // What the events did: a grew, b did not.
  a.state.user_id = "a";
  a.state.recent_event_ids.assign(100, 7);
  cache.MarkClean(shard);
  EXPECT_TRUE(shard.dirty().empty());
  EXPECT_FALSE(a.dirty);
  EXPECT_EQ(cache.dirty_users(), 0u);
  EXPECT_EQ(cache.dirty_bytes(), 0u);
  EXPECT_EQ(a.bytes, Footprint(a.state));
  EXPECT_EQ(b.bytes, Footprint(b.state));
  EXPECT_GE(a.bytes, Footprint(UserRecord()) + 800);
  EXPECT_EQ(cache.bytes(), a.bytes + b.bytes);
}

TEST(UserCacheTest, EvictionDropsOnlyCleanUsersDownToNinetyPercent) {
  UserCache cache({.max_users = 20, .max_bytes = 1 << 30});
  UserCache::Shard& s0 = cache.AddShard(0);
  UserCache::Shard& s1 = cache.AddShard(1);
  std::vector<CachedUser*> dirty;
  for (int i = 0; i < 30; ++i) {
    UserCache::Shard& s = i % 2 == 0 ? s0 : s1;
    CachedUser& u = cache.Add(s, "u" + std::to_string(i), std::nullopt);
    if (i % 3 == 0) {  // 10 dirty
      cache.MarkDirty(s, u);
      dirty.push_back(&u);
    }
  }
  const size_t dropped = cache.EvictIfNeeded();
  EXPECT_EQ(cache.users(), 18u);  // 90 % of 20
  EXPECT_EQ(cache.dirty_users(), 10u);
  EXPECT_EQ(s0.size() + s1.size(), 18u);
  EXPECT_GT(dropped, 0u);
  for (const CachedUser* u : dirty) EXPECT_TRUE(u->dirty);
  for (int i = 0; i < 30; i += 3) {
    const std::string id = "u" + std::to_string(i);
    EXPECT_TRUE((i % 2 == 0 ? s0 : s1).Contains(id)) << id;
  }
  size_t bytes = 0;
  for (UserCache::Shard* s : {&s0, &s1}) {
    for (int i = 0; i < 30; ++i) {
      if (const CachedUser* u = s->Find("u" + std::to_string(i))) {
        bytes += u->bytes;
      }
    }
  }
  EXPECT_EQ(cache.bytes(), bytes);
  EXPECT_EQ(cache.EvictIfNeeded(), 0u);  // within budget now
}

// The generation tells a holder of Find() results whether they may dangle:
// it moves when users can have gone, and only then.
TEST(UserCacheTest, GenerationMovesWhenUsersMayHaveGone) {
  UserCache cache({.max_users = 4, .max_bytes = 1 << 30});
  UserCache::Shard& s0 = cache.AddShard(0);
  const uint64_t start = cache.generation();
  for (int i = 0; i < 4; ++i) {
    CachedUser& u = cache.Add(s0, "u" + std::to_string(i), std::nullopt);
    cache.MarkDirty(s0, u);
    cache.Charge(u, 10);
  }
  cache.MarkClean(s0);
  EXPECT_EQ(cache.EvictIfNeeded(), 0u);  // at the budget, not over it
  EXPECT_EQ(cache.generation(), start);
  cache.Add(s0, "u4", std::nullopt);
  EXPECT_GT(cache.EvictIfNeeded(), 0u);
  const uint64_t after_eviction = cache.generation();
  EXPECT_NE(after_eviction, start);
  cache.AddShard(1);
  cache.RemoveShard(1);
  EXPECT_NE(cache.generation(), after_eviction);
}

TEST(UserCacheTest, NothingIsEvictedWhileTooLittleIsClean) {
  UserCache cache({.max_users = 10, .max_bytes = 1 << 30});
  UserCache::Shard& shard = cache.AddShard(0);
  for (int i = 0; i < 12; ++i) {
    CachedUser& u = cache.Add(shard, "u" + std::to_string(i), std::nullopt);
    cache.MarkDirty(shard, u);
  }
  EXPECT_TRUE(cache.DirtyDue());
  EXPECT_EQ(cache.EvictIfNeeded(), 0u);
  EXPECT_EQ(cache.users(), 12u);
}

TEST(UserCacheTest, TheBytesBudgetEvictsAndSaysWhenDirtyUsersAreDue) {
  const size_t one = CachedUserFootprint(UserRecord(), 2);
  UserCache cache({.max_users = 1000, .max_bytes = 10 * one});
  UserCache::Shard& shard = cache.AddShard(0);
  for (int i = 0; i < 12; ++i) {
    cache.Add(shard, "u" + std::to_string(i % 10) + std::to_string(i / 10),
              std::nullopt);
  }
  EXPECT_FALSE(cache.DirtyDue());
  cache.EvictIfNeeded();
  EXPECT_LE(cache.bytes(), 9 * one);
  CachedUser* u = shard.Find("u00");
  if (u == nullptr) u = &cache.Add(shard, "u00", std::nullopt);
  cache.MarkDirty(shard, *u);
  cache.Charge(*u, 4 * one);
  EXPECT_TRUE(cache.DirtyDue());  // half of the bytes budget is dirty
  EXPECT_FALSE(cache.DirtyFull());
  cache.Charge(*u, 5 * one);
  EXPECT_TRUE(cache.DirtyFull());
}

TEST(UserCacheTest, RemovingAShardWithdrawsItsUsers) {
  UserCache cache({.max_users = 10, .max_bytes = 1 << 20});
  UserCache::Shard& s0 = cache.AddShard(0);
  UserCache::Shard& s1 = cache.AddShard(1);
  CachedUser& kept = cache.Add(s0, "k", std::nullopt);
  CachedUser& gone = cache.Add(s1, "g", std::nullopt);
  cache.Add(s1, "h", std::nullopt);
  cache.MarkDirty(s1, gone);
  cache.Charge(gone, 10);
  cache.RemoveShard(1);
  EXPECT_EQ(cache.users(), 1u);
  EXPECT_EQ(cache.dirty_users(), 0u);
  EXPECT_EQ(cache.dirty_bytes(), 0u);
  EXPECT_EQ(cache.bytes(), kept.bytes);
  cache.RemoveShard(7);  // not there: nothing happens
  EXPECT_EQ(cache.users(), 1u);
  UserCache::Shard& again = cache.AddShard(1);
  EXPECT_EQ(again.size(), 0u);
}

}  // namespace
}  // namespace encore
