// Key encoding of a partition database (documented in state/FORMAT.md).
//
// One byte of key space tells what a key holds; a bytewise-ordered scan
// sees each kind together, in this order:
//   "A" + arm_id                          -> ArmAggregate
//   "I" + 8-byte deadline + user_id       -> "" (pending-impression expiry)
//   "M"                                   -> PartitionMeta
//   "U" + user_id                         -> UserState
// The expiry index has one key per user with pending impressions: the
// deadline is the event time after which the oldest one expires, encoded
// big-endian with the sign bit flipped so keys sort by deadline.
#ifndef ENCORE_STATE_KEY_CODEC_H_
#define ENCORE_STATE_KEY_CODEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace encore {

inline constexpr char kMetaKey[] = "M";
inline constexpr char kUserKeyPrefix = 'U';
inline constexpr char kAggregateKeyPrefix = 'A';
inline constexpr char kExpiryKeyPrefix = 'I';

// The key of `user_id`'s state.
std::string UserKey(absl::string_view user_id);

// The user_id in a user key, or nullopt if `key` is not a user key.
std::optional<absl::string_view> ParseUserKey(absl::string_view key);

// The key of arm `arm_id`'s per-partition aggregate.
std::string AggregateKey(absl::string_view arm_id);

// The expiry-index key of `user_id` whose oldest pending impression expires
// after `deadline_ms`.
std::string ExpiryKey(int64_t deadline_ms, absl::string_view user_id);

struct ExpiryEntry {
  int64_t deadline_ms;
  std::string user_id;
};
// The parts of an expiry key, or nullopt if `key` is not one.
std::optional<ExpiryEntry> ParseExpiryKey(absl::string_view key);

}  // namespace encore

#endif  // ENCORE_STATE_KEY_CODEC_H_
