#include "stream/expiry_index.h"

namespace encore {

void ExpiryIndex::Move(const std::string& user, int64_t from, int64_t to) {
  if (from == to) return;
  if (from >= 0) entries_.erase({from, user});
  if (to >= 0) entries_.emplace(to, user);
}

std::optional<ExpiryIndex::Entry> ExpiryIndex::FirstDue(
    int64_t watermark_ms) const {
  if (entries_.empty() || entries_.begin()->first >= watermark_ms) {
    return std::nullopt;
  }
  return Entry{entries_.begin()->first, entries_.begin()->second};
}

}  // namespace encore
