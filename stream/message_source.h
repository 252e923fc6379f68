// MessageSource: the seam between the processing loop and Kafka.
//
// The real source is a consumer-group member (KafkaSource); tests use a fake
// that serves scripted messages and rebalances. Partition assignment is
// reported to a PartitionListener from inside Poll(), on the polling thread.
#ifndef ENCORE_STREAM_MESSAGE_SOURCE_H_
#define ENCORE_STREAM_MESSAGE_SOURCE_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <numeric>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace encore {

// One consumed message. The views stay valid until the next Poll() call.
struct Message {
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;  // Kafka message timestamp; <= 0 if none
  absl::string_view key;
  absl::string_view payload;
  // Not a message: the source reached the end of the partition's log, at
  // `offset` (only in assign mode). Delivered in order with the messages.
  bool partition_eof = false;
};

// Start offset sentinel: no stored offset, use the configured reset point.
inline constexpr int64_t kResetOffset = -1;

class PartitionListener {
 public:
  virtual ~PartitionListener() = default;
  // `partitions` were assigned. Returns where to start each of them (the
  // stored next offset, or kResetOffset). An error is fatal for the source.
  virtual absl::StatusOr<std::map<int32_t, int64_t>> OnAssigned(
      const std::vector<int32_t>& partitions) = 0;
  // `partitions` are being revoked: everything applied from them must be
  // committed before returning. An error is fatal for the source.
  virtual absl::Status OnRevoked(const std::vector<int32_t>& partitions) = 0;
};

class MessageSource {
 public:
  virtual ~MessageSource() = default;

  // Waits up to timeout_ms for messages and appends up to `max` of them to
  // *out (cleared first). Rebalance callbacks run inside. An error status is
  // fatal (a listener failed, or the client hit a fatal error); transient
  // broker trouble is retried inside and only logged.
  virtual absl::Status Poll(int max, int timeout_ms,
                            std::vector<Message>* out) = 0;

  // Lanes, for a caller that hands each partition's messages to one of
  // several consumers: from now on the source keeps the messages of
  // partition p apart in lane lane_of(p) (0 <= lane < lanes; -1: no lane),
  // including partitions assigned later, so that PollLanes can take from
  // each lane at most what its consumer has room for, and a consumer that
  // is behind never holds up another's messages. lane_of is called on the
  // polling thread (inside Poll, after the listener's OnAssigned). A
  // source that cannot keep lanes apart ignores this.
  virtual void RouteLanes(int lanes, std::function<int(int32_t)> lane_of) {}

  // Poll, taking from lane i at most room[i] messages and at most `max` in
  // all; messages of partitions without a lane are not limited by room.
  // The default, for sources without lanes, is Poll of at most the rooms'
  // sum.
  virtual absl::Status PollLanes(int max, const std::vector<int>& room,
                                 int timeout_ms, std::vector<Message>* out) {
    // A failed consumer's room is INT_MAX: add in 64 bits.
    const int64_t sum = std::accumulate(room.begin(), room.end(), int64_t{0});
    return Poll(static_cast<int>(std::clamp<int64_t>(sum, 1, std::max(max, 1))),
                timeout_ms, out);
  }

  // Records, asynchronously and best effort, the offsets from which the group
  // would resume, for lag monitoring tools. The stored offsets are the truth.
  virtual void CommitOffsetsAsync(const std::map<int32_t, int64_t>& next) = 0;

  // Leaves the group: revokes every partition through the listener.
  virtual absl::Status Close() = 0;
};

}  // namespace encore

#endif  // ENCORE_STREAM_MESSAGE_SOURCE_H_
