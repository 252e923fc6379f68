// EventProducer: produces ListenEvents keyed by user_id (for gen/produce).
#ifndef ENCORE_STREAM_EVENT_PRODUCER_H_
#define ENCORE_STREAM_EVENT_PRODUCER_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proto/event.pb.h"
#include "stream/kafka_client.h"

namespace encore {

class EventProducer {
 public:
  // Creates the topic with `partitions` partitions if it does not exist.
  static absl::StatusOr<std::unique_ptr<EventProducer>> Open(
      const KafkaClientConfig& client, const std::string& topic,
      int partitions);

  // Queues one event; waits while the local queue is full.
  absl::Status Send(const ListenEvent& event);
  // Queues raw bytes (for tests of bad input).
  absl::Status SendRaw(const std::string& key, const std::string& payload);
  // Waits for every queued event; DataLoss if any delivery failed.
  absl::Status Flush(int timeout_ms);
  uint64_t delivered() const { return delivered_.load(); }

 private:
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m,
                         void* opaque);
  std::string topic_;
  KafkaHandle rk_;
  std::string buffer_;
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> failed_{0};
};

}  // namespace encore

#endif  // ENCORE_STREAM_EVENT_PRODUCER_H_
