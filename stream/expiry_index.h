// ExpiryIndex: one partition's users with pending impressions, ordered by
// the deadline of each one's oldest (state/MODEL.md, "Reward attribution"),
// whether the user is cached or not. The processor asks it which users a
// new watermark passes, loads them and resolves their impressions.
//
//   ExpiryIndex index;
//   index.Move("u1", /*from=*/-1, /*to=*/1000);   // first pending impression
//   while (std::optional<ExpiryIndex::Entry> due = index.FirstDue(2000)) {
//     ... resolve due->user's impressions, then Move() it to its next ...
//   }
//
// A user is in the index at most once: its deadline is what the caller
// last moved it to (the caller keeps it beside the user's state).
//
// Thread safety: not thread-safe (one per partition, on its worker).
#ifndef ENCORE_STREAM_EXPIRY_INDEX_H_
#define ENCORE_STREAM_EXPIRY_INDEX_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"

namespace encore {

class ExpiryIndex {
 public:
  struct Entry {
    int64_t deadline_ms;
    std::string user;
  };

  // Moves `user` from deadline `from` to deadline `to`; -1 = not indexed
  // (from -1: added; to -1: removed).
  void Move(const std::string& user, int64_t from, int64_t to);

  // The entry with the earliest deadline (ties: the smallest user id), if
  // that deadline is before `watermark_ms`.
  std::optional<Entry> FirstDue(int64_t watermark_ms) const;

  // Up to `limit` users whose deadline is before `watermark_ms`, in the
  // order FirstDue() would give them (for loading them together).
  std::vector<std::string> Due(int64_t watermark_ms, size_t limit) const;

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  // A B-tree: a move is an erase and an insert in a node of many entries,
  // not a heap node per user (the set changes with most impressions).
  absl::btree_set<std::pair<int64_t, std::string>> entries_;
};

}  // namespace encore

#endif  // ENCORE_STREAM_EXPIRY_INDEX_H_
