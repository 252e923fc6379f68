#include "stream/offset_continuity.h"

namespace encore {

void OffsetContinuity::Assigned(int32_t partition, int64_t start) {
  partitions_[partition] = Partition{.next = start >= 0 ? start : -1};
}

void OffsetContinuity::Revoked(int32_t partition) {
  partitions_.erase(partition);
}

OffsetContinuity::Verdict OffsetContinuity::Check(int32_t partition,
                                                  int64_t offset) {
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return kDeliver;
  Partition& p = it->second;
  if (p.next >= 0 && offset > p.next) {
    if (!p.sought && p.holes < kHolesTrusted) {
      p.sought = true;
      return kSeekBack;
    }
    ++p.holes;  // confirmed by the seek, or trusted
  }
  if (offset >= p.next) {  // always when the start is unknown (-1)
    p.next = offset + 1;
    p.sought = false;
  }
  return kDeliver;  // a re-delivery (offset < next) changes nothing
}

int64_t OffsetContinuity::expected(int32_t partition) const {
  auto it = partitions_.find(partition);
  return it == partitions_.end() ? -1 : it->second.next;
}

}  // namespace encore
