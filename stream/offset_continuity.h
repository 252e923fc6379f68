// OffsetContinuity: notices a consumer that jumps over a partition's
// offsets, so that the source can fetch the skipped messages again.
//
// A partition's messages arrive in offset order from where it was assigned.
// librdkafka 2.0.2 was seen to break that: right after a cooperative
// rebalance revoked other partitions, the partitions a member kept went on
// a few hundred offsets past the last message delivered (as if the
// messages fetched before the rebalance were dropped and the fetch
// position not moved back; the cause is not known), and the state silently
// missed them (tests/handover_test.cc, the scale-out case, once in 75 runs
// here). On a jump the source drops the message and seeks back to the expected
// offset once. A log with a real hole there (compaction, transaction markers,
// aborted transactions) jumps again after the seek, and that message is taken;
// after kHolesTrusted such holes in one assignment the partition's jumps are
// taken at once.
//
//   OffsetContinuity continuity;
//   continuity.Assigned(3, 1200);
//   if (continuity.Check(3, m->offset) == OffsetContinuity::kSeekBack) {
//     // drop the partition's messages served so far, then
//     Seek(3, continuity.expected(3));
//   }
//
// Thread safety: not thread-safe.
#ifndef ENCORE_STREAM_OFFSET_CONTINUITY_H_
#define ENCORE_STREAM_OFFSET_CONTINUITY_H_

#include <cstdint>

#include "absl/container/flat_hash_map.h"

namespace encore {

class OffsetContinuity {
 public:
  static constexpr int kHolesTrusted = 3;

  enum Verdict {
    kDeliver,   // in order, a re-delivery, or a hole confirmed by a seek
    kSeekBack,  // a jump: drop it and seek back to expected()
  };

  // `partition` starts at `start`; < 0: wherever its first message is.
  void Assigned(int32_t partition, int64_t start);
  void Revoked(int32_t partition);

  // The next message served of `partition`, in the order served. A
  // partition not assigned is delivered (its owner ignores it).
  Verdict Check(int32_t partition, int64_t offset);

  // The offset the partition's next message should have; -1 if unknown.
  int64_t expected(int32_t partition) const;

 private:
  struct Partition {
    int64_t next = -1;
    bool sought = false;  // sought back to `next`, no message since
    int holes = 0;        // holes a seek confirmed
  };
  absl::flat_hash_map<int32_t, Partition> partitions_;
};

}  // namespace encore

#endif  // ENCORE_STREAM_OFFSET_CONTINUITY_H_
