// UserCache: the write-back cache of one processor's user states, one shard
// per assigned partition, with the accounting its budgets need.
//
// A user is cached clean (as stored) or dirty (changed since its partition's
// last commit). Only clean users are evicted; dirty ones stay until the
// processor commits their partition and calls MarkClean(). Each user is
// charged the memory it takes (stream/cache_footprint.h), measured from its
// record when it is added and when it is committed, plus Charge()d
// estimates for the events applied in between.
//
//   UserCache cache({.max_users = 1000000, .max_bytes = 256 << 20});
//   UserCache::Shard& shard = cache.AddShard(3);
//   CachedUser* u = shard.Find(id);
//   if (u == nullptr) u = &cache.Add(shard, id, store->ReadUser(3, id));
//   ... apply an event to u->state ...
//   cache.MarkDirty(shard, *u);
//   cache.Charge(*u, EventFootprint(payload_bytes));
//   ... commit shard.dirty() to the store, then:
//   cache.MarkClean(shard);
//   cache.EvictIfNeeded();
//
// Thread safety: not thread-safe (one per processor, on its worker).
#ifndef ENCORE_STREAM_USER_CACHE_H_
#define ENCORE_STREAM_USER_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "state/state_store.h"
#include "state/user_record.h"

namespace encore {

struct CachedUser {
  UserRecord state;
  // The hash of the user's stored entry (the store updates the partition's
  // content digest with it); nullopt if not stored yet.
  std::optional<EntryHash> stored_hash;
  bool dirty = false;
  // The expiry deadline of the user's pending impressions (NextExpiry) as
  // stored (its "I" key) and as now (its entry in the partition's
  // ExpiryIndex); -1 = none. Kept by the processor.
  int64_t stored_expiry = -1;
  int64_t expiry = -1;
  // What the user is charged against the byte budget.
  size_t bytes = 0;
};

class UserCache {
 public:
  struct Budget {
    size_t max_users = 1'000'000;
    size_t max_bytes = size_t{256} << 20;
  };

  // One partition's cached users. Pointers to its users stay valid until
  // the user is evicted or the shard removed.
  class Shard {
   public:
    CachedUser* Find(absl::string_view user_id);
    bool Contains(absl::string_view user_id) const;
    // Starts fetching where Find(user_id) will look first, so that a Find
    // a few users later does not wait for memory there.
    void PrefetchSlot(absl::string_view user_id) const {
      users_.prefetch(user_id);
    }
    // The users changed since the last MarkClean(), in the order they
    // became dirty.
    const std::vector<CachedUser*>& dirty() const { return dirty_; }
    size_t size() const { return users_.size(); }

   private:
    friend class UserCache;
    // The id sits in the table's slot (inline when the string's own buffer
    // holds it), so that a lookup whose slot was prefetched compares it
    // without waiting for the user's block; each user is a block of its
    // own, so pointers to it stay valid across rehashes.
    absl::flat_hash_map<std::string, std::unique_ptr<CachedUser>> users_;
    std::vector<CachedUser*> dirty_;
  };

  explicit UserCache(Budget budget) : budget_(budget) {}
  UserCache(const UserCache&) = delete;
  UserCache& operator=(const UserCache&) = delete;

  // The (empty) shard of `partition`; the reference stays valid until
  // RemoveShard(partition). REQUIRES: no shard for `partition`.
  Shard& AddShard(int32_t partition);
  // Drops the shard with all its users, dirty or not.
  void RemoveShard(int32_t partition);

  // Caches `user_id` in `shard` with its stored state (an empty state if
  // none), clean, charged at its measured size.
  // REQUIRES: `user_id` is not cached in `shard`.
  CachedUser& Add(Shard& shard, absl::string_view user_id,
                  std::optional<StoredUser> stored);
  // Marks `user` (of `shard`) dirty; a no-op if it is.
  void MarkDirty(Shard& shard, CachedUser& user);
  // Charges a dirty `user` `bytes` more (an applied event's estimate) until
  // MarkClean() measures it again.
  void Charge(CachedUser& user, size_t bytes);
  // The shard's dirty users were stored: they become clean and are charged
  // at their measured size.
  void MarkClean(Shard& shard);

  // Drops clean users, in hash order, while either budget is exceeded,
  // until both are at 90 %. Does nothing while less than a tenth of the
  // exceeded budget is clean: too little would go, and the dirty users are
  // due for a commit (DirtyDue()). Returns the bytes it dropped.
  size_t EvictIfNeeded();

  // True when dirty users alone reach the users budget or half the bytes
  // budget: they should be committed so that they can be evicted.
  bool DirtyDue() const {
    return dirty_users_ >= budget_.max_users ||
           dirty_bytes_ >= budget_.max_bytes / 2;
  }
  // True when dirty users alone fill the bytes budget: a commit cannot wait
  // for the end of the batch.
  bool DirtyFull() const { return dirty_bytes_ >= budget_.max_bytes; }

  // Changes whenever a cached user may have gone (evicted, or its shard
  // removed): a Find() result kept from an earlier generation may dangle.
  uint64_t generation() const { return generation_; }

  const Budget& budget() const { return budget_; }
  size_t users() const { return users_; }
  size_t dirty_users() const { return dirty_users_; }
  size_t bytes() const { return bytes_; }
  size_t dirty_bytes() const { return dirty_bytes_; }

 private:
  const Budget budget_;
  std::map<int32_t, Shard> shards_;
  size_t users_ = 0;
  size_t dirty_users_ = 0;
  size_t bytes_ = 0;
  size_t dirty_bytes_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace encore

#endif  // ENCORE_STREAM_USER_CACHE_H_
