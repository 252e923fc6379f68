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

std::string AggregateKey(absl::string_view arm_id) {
  std::string key(1, kAggregateKeyPrefix);
  key.append(arm_id.data(), arm_id.size());
  return key;
}

std::string ExpiryKey(int64_t deadline_ms, absl::string_view user_id) {
  std::string key(1, kExpiryKeyPrefix);
  const uint64_t ordered =
      static_cast<uint64_t>(deadline_ms) ^ (uint64_t{1} << 63);
  for (int shift = 56; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((ordered >> shift) & 0xff));
  }
  key.append(user_id.data(), user_id.size());
  return key;
}

std::optional<ExpiryEntry> ParseExpiryKey(absl::string_view key) {
  if (key.size() < 9 || key[0] != kExpiryKeyPrefix) return std::nullopt;
  uint64_t ordered = 0;
  for (int i = 1; i <= 8; ++i) {
    ordered = (ordered << 8) | static_cast<unsigned char>(key[i]);
  }
  return ExpiryEntry{static_cast<int64_t>(ordered ^ (uint64_t{1} << 63)),
                     std::string(key.substr(9))};
}

}  // namespace encore
