// The start-up of a stateful command on the broker (encore run, encore
// backfill): the events topic must exist before its dead-letter topic is
// created, so that a misspelt --topic leaves no `<topic>.dlq` behind, and
// every wait ends promptly on a stop request (a SIGTERM during start-up).
#ifndef ENCORE_STREAM_TOPIC_SETUP_H_
#define ENCORE_STREAM_TOPIC_SETUP_H_

#include <atomic>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "stream/kafka_client.h"

namespace encore {

struct TopicSetupOptions {
  std::string topic;              // the events topic, never created here
  std::string dead_letter_topic;  // created once `topic` exists
  // true: wait while `topic` does not exist (encore run may start before
  // its producers); false: NotFound at once.
  bool wait_for_topic = true;
  // Between two looks at the broker while waiting.
  int poll_interval_ms = 1000;
  // Timeout of the dead-letter topic's creation.
  int create_timeout_ms = 10000;
};

// Waits until a broker answers and says that options.topic exists, then
// creates options.dead_letter_topic with the broker's default partitions
// and replication. While waiting it logs a warning saying why, once per
// reason, and passes that reason to `on_wait` (if set; "" once the wait is
// over), for /readyz.
// OK (the events topic's partition count): the events topic exists; the
// dead-letter topic exists or could not be created (warned: ACLs may forbid
// it, its producer may still create it).
// Cancelled: `stop` became true first (seen within a second: each look at
// the broker waits at most 1 s, the rest is checked every 100 ms). NotFound:
// the events topic does not exist and wait_for_topic is false. Another error:
// what the broker answered (PermissionDenied for ACLs...), or InvalidArgument
// for `client`.
absl::StatusOr<int32_t> PrepareTopics(
    const KafkaClientConfig& client, const TopicSetupOptions& options,
    const std::atomic<bool>& stop,
    const std::function<void(const std::string&)>& on_wait = nullptr);

}  // namespace encore

#endif  // ENCORE_STREAM_TOPIC_SETUP_H_
