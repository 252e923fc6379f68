// Key encoding of a partition database (documented in state/FORMAT.md).
//
// One byte of key space tells what a key holds, so a bytewise-ordered scan
// sees the metadata first and then every user in user_id order:
//   "M"            -> PartitionMeta
//   "U" + user_id  -> UserState
#ifndef ENCORE_STATE_KEY_CODEC_H_
#define ENCORE_STATE_KEY_CODEC_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace encore {

inline constexpr char kMetaKey[] = "M";
inline constexpr char kUserKeyPrefix = 'U';

// The key of `user_id`'s state.
std::string UserKey(absl::string_view user_id);

// The user_id in a user key, or nullopt if `key` is not a user key.
std::optional<absl::string_view> ParseUserKey(absl::string_view key);

}  // namespace encore

#endif  // ENCORE_STATE_KEY_CODEC_H_
