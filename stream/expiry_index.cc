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

std::vector<std::string> ExpiryIndex::Due(int64_t watermark_ms,
                                          size_t limit) const {
  std::vector<std::string> due;
  for (auto it = entries_.begin();
       it != entries_.end() && it->first < watermark_ms && due.size() < limit;
       ++it) {
    due.push_back(it->second);
  }
  return due;
}

}  // namespace encore
