// Thin RAII and error helpers over librdkafka's C API, shared by the
// consumer, the producers and the admin calls. The one place that turns
// rd_kafka_resp_err_t into absl::Status.
#ifndef ENCORE_STREAM_KAFKA_CLIENT_H_
#define ENCORE_STREAM_KAFKA_CLIENT_H_

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace encore {

// Transport and broker-side hiccups (timeouts, transport, leader moves,
// not-coordinator...) -> Unavailable; unknown topic -> NotFound;
// authentication/authorization -> PermissionDenied; invalid
// configuration/arguments -> InvalidArgument; the rest -> Internal.
absl::Status FromKafka(rd_kafka_resp_err_t err, absl::string_view context);

struct KafkaHandleDeleter {
  void operator()(rd_kafka_t* rk) const;
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaHandleDeleter>;

// Client settings: bootstrap servers plus any librdkafka property
// (security.protocol, sasl.*, ssl.*, ...) passed through as given.
struct KafkaClientConfig {
  std::string brokers;
  std::map<std::string, std::string> properties;
};

// Builds an rd_kafka_conf_t from `config` and `overrides` (applied last).
// InvalidArgument naming the property librdkafka refused.
absl::StatusOr<rd_kafka_conf_t*> BuildKafkaConf(
    const KafkaClientConfig& config,
    const std::map<std::string, std::string>& overrides);

// Parses "key=value" pairs into properties. InvalidArgument on a pair
// without '='.
absl::Status ParseKafkaProperties(const std::vector<std::string>& pairs,
                                  std::map<std::string, std::string>* out);

// True for property names whose values are secrets (passwords, keys, JAAS
// configs, tokens...): never log those values.
bool IsSecretProperty(absl::string_view name);

// "k1=v1 k2=****** ..." with secret values masked, for logs.
std::string MaskedProperties(const std::map<std::string, std::string>& props);

// Reads a Java-style properties file: key=value lines, '#' or '!' comments,
// blank lines ignored. InvalidArgument names the bad line.
absl::Status ReadPropertiesFile(const std::string& path,
                                std::map<std::string, std::string>* out);

// A handle for metadata, offset and admin requests (TopicPartitions,
// EndOffsets, CreateTopic): a producer that never asks the broker to
// auto-create a topic it only looks up, so a misspelt --topic is reported
// as missing instead of being created. Takes ProducerConfig(config).
absl::StatusOr<KafkaHandle> NewAdminClient(const KafkaClientConfig& config);

// The last broker connection failure librdkafka logged for `rk` ("host:port/
// bootstrap: Failed to resolve ...", "... Connection refused"), or "" if
// none: the reason to give when no broker answers. Thread-safe. Only for
// handles whose configuration came from BuildKafkaConf.
std::string LastBrokerError(const rd_kafka_t* rk);

// `config` without librdkafka's consumer-only properties (group.instance.id,
// session.timeout.ms...): one --kafka-config serves the consumer and the
// producers, and librdkafka would warn about each at every start.
KafkaClientConfig ProducerConfig(const KafkaClientConfig& config);

// Creates `topic` with `partitions` partitions (replication factor 1 unless
// `replication` says otherwise; -1: the broker's defaults). OK if it already
// exists. DeadlineExceeded (with LastBrokerError) if no broker answered
// within timeout_ms + 2 s; Cancelled as soon as `*stop` (if given) is true,
// checked every 100 ms.
absl::Status CreateTopic(rd_kafka_t* rk, const std::string& topic,
                         int partitions, int replication, int timeout_ms,
                         const std::atomic<bool>* stop = nullptr);

// The partition ids of `topic`. NotFound ("topic T does not exist") if the
// broker does not know the topic; Unavailable if no broker answered within
// timeout_ms (with LastBrokerError).
absl::StatusOr<std::vector<int32_t>> TopicPartitions(rd_kafka_t* rk,
                                                     const std::string& topic,
                                                     int timeout_ms);

// The high watermark (next offset to be written) of each partition.
absl::StatusOr<std::map<int32_t, int64_t>> EndOffsets(rd_kafka_t* rk,
                                                      const std::string& topic,
                                                      int timeout_ms);

}  // namespace encore

#endif  // ENCORE_STREAM_KAFKA_CLIENT_H_
