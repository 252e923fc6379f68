#include "stream/user_cache.h"

#include <cassert>
#include <utility>

#include "state/record_prefetch.h"
#include "stream/cache_footprint.h"

namespace encore {

CachedUser* UserCache::Shard::Find(absl::string_view user_id) {
  auto it = users_.find(user_id);
  return it == users_.end() ? nullptr : it->second.get();
}

bool UserCache::Shard::Contains(absl::string_view user_id) const {
  return users_.contains(user_id);
}

UserCache::Shard& UserCache::AddShard(int32_t partition) {
  auto [it, added] = shards_.try_emplace(partition);
  assert(added);
  (void)added;
  return it->second;
}

void UserCache::RemoveShard(int32_t partition) {
  auto it = shards_.find(partition);
  if (it == shards_.end()) return;
  const Shard& shard = it->second;
  users_ -= shard.users_.size();
  dirty_users_ -= shard.dirty_.size();
  for (const auto& [user_id, user] : shard.users_) {
    bytes_ -= user->bytes;
    if (user->dirty) dirty_bytes_ -= user->bytes;
  }
  shards_.erase(it);
  ++generation_;
}

CachedUser& UserCache::Add(Shard& shard, absl::string_view user_id,
                           std::optional<StoredUser> stored) {
  auto [it, added] =
      shard.users_.try_emplace(user_id, std::make_unique<CachedUser>());
  assert(added);
  (void)added;
  CachedUser& user = *it->second;
  if (stored.has_value()) {
    user.state = std::move(stored->state);
    user.stored_hash = stored->hash;
  }
  user.bytes = CachedUserFootprint(user.state, user_id.size());
  ++users_;
  bytes_ += user.bytes;
  return user;
}

void UserCache::MarkDirty(Shard& shard, CachedUser& user) {
  if (user.dirty) return;
  user.dirty = true;
  shard.dirty_.push_back(&user);
  ++dirty_users_;
  dirty_bytes_ += user.bytes;
}

void UserCache::Charge(CachedUser& user, size_t bytes) {
  assert(user.dirty);
  user.bytes += bytes;
  bytes_ += bytes;
  dirty_bytes_ += bytes;
}

void UserCache::MarkClean(Shard& shard) {
  // The commit's walk over these users was a whole write batch ago: ask for
  // them again a few users ahead, as it did.
  constexpr size_t kRecordAhead = 8, kArraysAhead = 4;
  const size_t n = shard.dirty_.size();
  for (size_t j = 0; j < n; ++j) {
    if (j + kRecordAhead < n) {
      PrefetchBytes(shard.dirty_[j + kRecordAhead], sizeof(CachedUser));
    }
    if (j + kArraysAhead < n) {
      PrefetchRecordArrays(shard.dirty_[j + kArraysAhead]->state);
    }
    CachedUser* u = shard.dirty_[j];
    u->dirty = false;
    // The events' estimates give way to the record's measured size.
    const size_t bytes = CachedUserFootprint(u->state, u->state.user_id.size());
    dirty_bytes_ -= u->bytes;
    bytes_ = bytes_ - u->bytes + bytes;
    u->bytes = bytes;
  }
  dirty_users_ -= shard.dirty_.size();
  shard.dirty_.clear();
}

size_t UserCache::EvictIfNeeded() {
  const size_t max_users = budget_.max_users;
  const size_t max_bytes = budget_.max_bytes;
  const bool over_users =
      users_ > max_users && users_ - dirty_users_ >= max_users / 10;
  const bool over_bytes =
      bytes_ > max_bytes && bytes_ - dirty_bytes_ >= max_bytes / 10;
  if (!over_users && !over_bytes) return 0;
  ++generation_;
  const size_t target_users = max_users / 10 * 9;
  const size_t target_bytes = max_bytes / 10 * 9;
  size_t dropped = 0;
  for (auto& [partition, shard] : shards_) {
    for (auto it = shard.users_.begin();
         it != shard.users_.end() &&
         (users_ > target_users || bytes_ > target_bytes);) {
      if (it->second->dirty) {
        ++it;
        continue;
      }
      --users_;
      bytes_ -= it->second->bytes;
      dropped += it->second->bytes;
      shard.users_.erase(it++);
    }
  }
  return dropped;
}

}  // namespace encore
