// The Kafka implementation of DeadLetterSink (stream/dead_letter.h), kept
// apart so that the processing loop sees dead letters through the interface
// only, without librdkafka.
#ifndef ENCORE_STREAM_KAFKA_DEAD_LETTER_H_
#define ENCORE_STREAM_KAFKA_DEAD_LETTER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "stream/dead_letter.h"
#include "stream/kafka_client.h"

namespace encore {

// A sink producing to `topic` through its own idempotent producer. It does
// not create `topic` (PrepareTopics in stream/topic_setup.h does, once).
absl::StatusOr<std::unique_ptr<DeadLetterSink>> NewKafkaDeadLetterSink(
    const KafkaClientConfig& client, const std::string& topic);

}  // namespace encore

#endif  // ENCORE_STREAM_KAFKA_DEAD_LETTER_H_
