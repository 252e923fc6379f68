#include <google/protobuf/stubs/logging.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "state/status_macros.h"
#include "stream/cli/common.h"

ABSL_FLAG(std::string, brokers, "127.0.0.1:9092",
          "Kafka bootstrap servers, host:port[,host:port...].");
ABSL_FLAG(std::string, topic, "", "The events topic.");
ABSL_FLAG(std::string, snapshot_dir, "",
          "Directory where snapshots are published (LATEST + snap-*).");
ABSL_FLAG(std::vector<std::string>, kafka_config, {},
          "A librdkafka property key=value, passed through as given "
          "(security.protocol, sasl.*, ssl.*, ...); repeat the flag for more. "
          "Secret values are masked in logs.");
ABSL_FLAG(std::string, kafka_config_file, "",
          "A properties file (key=value lines) of librdkafka properties; "
          "--kafka-config values override it.");
ABSL_FLAG(
    std::string, checkpoint_store, "",
    "file:///shared/path or s3://bucket/prefix (AWS_* environment, README). "
    "run: every published snapshot's partition "
    "checkpoints are uploaded there (only files it lacks), and an "
    "assigned partition whose checkpoint there is ahead of the local "
    "state is restored from it (empty: the local state only). "
    "snapshot pull: where to pull from.");
ABSL_FLAG(std::string, log_format, "text", "Log format: text or json.");
ABSL_FLAG(uint64_t, seed, 1,
          "Seed: gen's event sequence, score's Thompson draws (same seed, "
          "same result).");
ABSL_FLAG(std::string, user, "", "The user_id to read or score.");
ABSL_FLAG(bool, verify, false,
          "read/score: check the snapshot's content digests before using it "
          "(falls back to an older snapshot if it is damaged).");
ABSL_FLAG(bool, json, false, "Print JSON instead of text.");
ABSL_FLAG(std::string, log_level, "info",
          "Log level: trace, debug, info, warn, error, critical, off.");

namespace encore::cli {

int UsageError(const std::string& command, const std::string& reason) {
  std::cerr << "encore " << command << ": " << reason << "\n";
  return 2;
}

int Failure(const std::string& command, const absl::Status& status) {
  std::cerr << "encore " << command << ": " << status.message() << "\n";
  return 1;
}

absl::Status CheckOneOf(const std::string& flag, const std::string& value,
                        const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("--", flag, " must be one of ",
                                                 absl::StrJoin(allowed, ", "),
                                                 " (got '", value, "')"));
}

absl::Status CheckAtLeast(const std::string& flag, double value, double min) {
  if (value >= min) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, " must be >= ", min, " (got ", value, ")"));
}

absl::Status CheckAbove(const std::string& flag, double value, double min) {
  if (value > min) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, " must be > ", min, " (got ", value, ")"));
}

namespace {
std::vector<std::string>& KafkaConfigArgs() {
  static auto* args = new std::vector<std::string>();
  return *args;
}
}  // namespace

absl::Status CheckListenAddress(const std::string& flag,
                                const std::string& value) {
  if (value.empty()) return absl::OkStatus();
  const size_t colon = value.rfind(':');
  int port = 0;
  if (colon != std::string::npos && colon > 0 &&
      absl::SimpleAtoi(value.substr(colon + 1), &port) && port > 0 &&
      port < 65536) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, " must be host:port, e.g. 127.0.0.1:9464 (got '",
                   value, "')"));
}

namespace {
std::set<std::string>& GivenFlags() {
  static auto* given = new std::set<std::string>();
  return *given;
}
}  // namespace

void RecordFlagGiven(const std::string& name) { GivenFlags().insert(name); }

bool FlagGiven(const std::string& name) { return GivenFlags().count(name) > 0; }

void AddKafkaConfigArg(std::string key_value) {
  KafkaConfigArgs().push_back(std::move(key_value));
}

absl::StatusOr<KafkaClientConfig> ClientConfigFromFlags() {
  KafkaClientConfig config;
  config.brokers = absl::GetFlag(FLAGS_brokers);
  if (config.brokers.empty()) {
    return absl::InvalidArgumentError("--brokers is required");
  }
  const std::string file = absl::GetFlag(FLAGS_kafka_config_file);
  if (!file.empty()) {
    absl::Status s = ReadPropertiesFile(file, &config.properties);
    if (!s.ok()) return s;
  }
  // From a --flagfile (absl splits those on commas), then the command line.
  absl::Status s = ParseKafkaProperties(absl::GetFlag(FLAGS_kafka_config),
                                        &config.properties);
  if (s.ok()) s = ParseKafkaProperties(KafkaConfigArgs(), &config.properties);
  if (!s.ok()) return s;
  return config;
}

std::string EffectiveConfiguration(
    const std::vector<std::string>& source_files) {
  std::vector<std::pair<std::string, std::string>> values;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    const std::string file(flag->Filename());
    bool wanted = absl::EndsWith(file, "common_flags.cc");
    for (const std::string& source : source_files) {
      wanted = wanted || absl::EndsWith(file, source);
    }
    if (!wanted) continue;
    if (name == "kafka_config") continue;
    values.emplace_back(std::string(name), flag->CurrentValue());
  }
  std::sort(values.begin(), values.end());
  std::string out;
  for (const auto& [name, value] : values) {
    absl::StrAppend(&out, out.empty() ? "" : " ", name, "=",
                    IsSecretProperty(name) ? "******" : value);
  }
  std::map<std::string, std::string> props;
  ParseKafkaProperties(absl::GetFlag(FLAGS_kafka_config), &props).IgnoreError();
  if (ParseKafkaProperties(KafkaConfigArgs(), &props).ok() && !props.empty()) {
    absl::StrAppend(&out, " kafka_config=[", MaskedProperties(props), "]");
  }
  return out;
}

namespace {

// %j: the log message as a JSON string body (quotes, backslashes and
// control characters escaped).
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    for (char c : msg.payload) {
      switch (c) {
        case '"':
          dest.append(std::string_view("\\\""));
          break;
        case '\\':
          dest.append(std::string_view("\\\\"));
          break;
        case '\n':
          dest.append(std::string_view("\\n"));
          break;
        case '\t':
          dest.append(std::string_view("\\t"));
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", c);
            dest.append(std::string_view(buf));
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

// protobuf reports undecodable input (e.g. invalid UTF-8 in a string field)
// through its own logger on stderr; hostile input would flood it. Those
// messages go through spdlog at debug level instead: the rejection itself is
// counted and dead-lettered.
void ProtobufLogToSpdlog(google::protobuf::LogLevel level, const char* file,
                         int line, const std::string& message) {
  spdlog::log(level >= google::protobuf::LOGLEVEL_FATAL
                  ? spdlog::level::critical
                  : spdlog::level::debug,
              "protobuf {}:{}: {}", file, line, message);
}

}  // namespace

absl::Status ConfigureLogging() {
  const std::string level = absl::GetFlag(FLAGS_log_level);
  const std::string format = absl::GetFlag(FLAGS_log_format);
  RETURN_IF_ERROR(CheckOneOf(
      "log-level", level,
      {"trace", "debug", "info", "warn", "error", "critical", "off"}));
  RETURN_IF_ERROR(CheckOneOf("log-format", format, {"text", "json"}));
  google::protobuf::SetLogHandler(&ProtobufLogToSpdlog);
  auto logger = spdlog::stderr_logger_mt("encore");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  if (format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<JsonEscapedMessage>('j').set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":"%j"})");
    spdlog::set_formatter(std::move(formatter));
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  }
  return absl::OkStatus();
}

}  // namespace encore::cli
