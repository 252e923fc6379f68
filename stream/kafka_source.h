// KafkaSource: a consumer-group member over librdkafka, as a MessageSource.
#ifndef ENCORE_STREAM_KAFKA_SOURCE_H_
#define ENCORE_STREAM_KAFKA_SOURCE_H_

#include <functional>
#include <map>
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
  // librdkafka statistics every this many ms (0 = off); each assigned
  // partition's consumer lag is passed to on_consumer_lag, on the polling
  // thread.
  int statistics_interval_ms = 5000;
  std::function<void(int32_t partition, int64_t lag)> on_consumer_lag;
  // Called with the number of brokers librdkafka has a connection to, from
  // each statistics report, and with 0 when it reports all brokers down.
  std::function<void(int brokers_up)> on_brokers_up;
  // Assign mode (backfill): when non-empty, these partitions are assigned at
  // the given start offsets instead of subscribing with the group; the
  // listener's callbacks are not used, and reaching the end of a partition
  // is reported in order as a Message with partition_eof set.
  std::map<int32_t, int64_t> assignment;
};

// Subscribes to options.topic in options.group. Offsets are never
// auto-committed or auto-stored: the processor decides. `listener` is not
// owned and must outlive the source.
absl::StatusOr<std::unique_ptr<MessageSource>> NewKafkaSource(
    const KafkaSourceOptions& options, PartitionListener* listener);

}  // namespace encore

#endif  // ENCORE_STREAM_KAFKA_SOURCE_H_
