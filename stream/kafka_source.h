// KafkaSource: a consumer-group member over librdkafka, as a MessageSource.
#ifndef ENCORE_STREAM_KAFKA_SOURCE_H_
#define ENCORE_STREAM_KAFKA_SOURCE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "stream/kafka_client.h"
#include "stream/message_source.h"

namespace encore {

struct KafkaSourceOptions {
  KafkaClientConfig client;
  std::string topic;
  std::string group;
  // Where to start a partition with no stored offset: "earliest" or "latest".
  std::string reset = "earliest";
};

// Subscribes to options.topic in options.group. Offsets are never
// auto-committed or auto-stored: the processor decides. `listener` is not
// owned and must outlive the source.
absl::StatusOr<std::unique_ptr<MessageSource>> NewKafkaSource(
    const KafkaSourceOptions& options, PartitionListener* listener);

}  // namespace encore

#endif  // ENCORE_STREAM_KAFKA_SOURCE_H_
