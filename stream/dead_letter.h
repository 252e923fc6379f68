// DeadLetterSink: where rejected messages go, with their origin and reason.
//
// Kafka record format (stream/VALIDATION.md): the original key and payload
// bytes, unchanged, with headers encore.origin.topic, encore.origin.partition,
// encore.origin.offset, encore.reason (a RejectReason name) and
// encore.detail (stream/kafka_dead_letter.h writes them). Delivery is
// at-least-once: the processor flushes the sink
// before each state commit, so a record is never lost behind a committed
// offset, but a crash may send it again.
#ifndef ENCORE_STREAM_DEAD_LETTER_H_
#define ENCORE_STREAM_DEAD_LETTER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "stream/message_source.h"
#include "stream/validation.h"

namespace encore {

class DeadLetterSink {
 public:
  virtual ~DeadLetterSink() = default;
  // Queues `message` (from `origin_topic`) for the dead-letter topic.
  // Unavailable if it could not even be queued (local queue full for long).
  virtual absl::Status Send(const std::string& origin_topic,
                            const Message& message, const Verdict& verdict) = 0;
  // Waits until everything queued so far is delivered or has failed.
  // Unavailable if deliveries are still outstanding after timeout_ms.
  virtual absl::Status Flush(int timeout_ms) = 0;
  // Records that failed delivery for good so far.
  virtual uint64_t failures() const = 0;
};

}  // namespace encore

#endif  // ENCORE_STREAM_DEAD_LETTER_H_
