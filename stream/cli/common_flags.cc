#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "stream/cli/common.h"

ABSL_FLAG(std::string, brokers, "127.0.0.1:9092",
          "Kafka bootstrap servers, host:port[,host:port...].");
ABSL_FLAG(std::string, topic, "", "The events topic.");
ABSL_FLAG(std::string, snapshot_dir, "",
          "Directory where snapshots are published (LATEST + snap-*).");
ABSL_FLAG(std::vector<std::string>, kafka_config, {},
          "Extra librdkafka properties, key=value[,key=value...], passed "
          "through as given (security.protocol, sasl.*, ssl.*, ...).");
ABSL_FLAG(uint64_t, seed, 1,
          "Seed: gen's event sequence, score's Thompson draws (same seed, "
          "same result).");
ABSL_FLAG(std::string, user, "", "The user_id to read or score.");
ABSL_FLAG(bool, json, false, "Print JSON instead of text.");
ABSL_FLAG(std::string, log_level, "info",
          "Log level: trace, debug, info, warn, error, off.");

namespace encore::cli {

int UsageError(const std::string& command, const std::string& reason) {
  std::cerr << "encore " << command << ": " << reason << "\n";
  return 2;
}

int Failure(const std::string& command, const absl::Status& status) {
  std::cerr << "encore " << command << ": " << status.message() << "\n";
  return 1;
}

absl::StatusOr<KafkaClientConfig> ClientConfigFromFlags() {
  KafkaClientConfig config;
  config.brokers = absl::GetFlag(FLAGS_brokers);
  if (config.brokers.empty()) {
    return absl::InvalidArgumentError("--brokers is required");
  }
  absl::Status s = ParseKafkaProperties(absl::GetFlag(FLAGS_kafka_config),
                                        &config.properties);
  if (!s.ok()) return s;
  return config;
}

void ConfigureLogging() {
  auto logger = spdlog::stderr_logger_mt("encore");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(absl::GetFlag(FLAGS_log_level)));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
}

}  // namespace encore::cli
