#include "state/key_codec.h"

#include "absl/strings/string_view.h"

namespace encore {

std::string UserKey(absl::string_view user_id) {
  std::string key;
  key.reserve(user_id.size() + 1);
  key.push_back(kUserKeyPrefix);
  key.append(user_id.data(), user_id.size());
  return key;
}

std::optional<absl::string_view> ParseUserKey(absl::string_view key) {
  if (key.empty() || key[0] != kUserKeyPrefix) return std::nullopt;
  return key.substr(1);
}

}  // namespace encore
