#include "stream/kafka_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "state/status_macros.h"

namespace encore {

absl::Status FromKafka(rd_kafka_resp_err_t err, absl::string_view context) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  const std::string msg = absl::StrCat(context, ": ", rd_kafka_err2str(err));
  switch (err) {
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return absl::NotFoundError(msg);
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
      return absl::PermissionDeniedError(msg);
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__INVALID_TYPE:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
      return absl::InvalidArgumentError(msg);
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return absl::AlreadyExistsError(msg);
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__FENCED:
      return absl::InternalError(msg);
    default:
      return absl::UnavailableError(msg);
  }
}

namespace {

// The last connection failure logged per handle (by its unique name),
// written from librdkafka's threads.
std::mutex g_broker_errors_mu;
std::map<std::string, std::string>& BrokerErrors() {
  static auto* errors = new std::map<std::string, std::string>();
  return *errors;
}

// "[thrd:x]: text (after 0ms in state CONNECT, 3 identical error(s)
// suppressed)" -> "text (after 0ms in state CONNECT)": the same text
// whichever attempt it came from.
std::string BrokerFailureText(absl::string_view line) {
  if (absl::StartsWith(line, "[thrd:")) {
    const size_t end = line.find("]: ");
    if (end != absl::string_view::npos) line.remove_prefix(end + 3);
  }
  std::string text(line);
  const size_t comma = text.rfind(", ");
  if (comma != std::string::npos && absl::EndsWith(text, " suppressed)") &&
      text.find(" identical error(s)", comma) != std::string::npos) {
    text = text.substr(0, comma) + ")";
  }
  return text;
}

}  // namespace

void KafkaHandleDeleter::operator()(rd_kafka_t* rk) const {
  if (rk == nullptr) return;
  const std::string name = rd_kafka_name(rk);
  rd_kafka_destroy(rk);
  std::lock_guard<std::mutex> lock(g_broker_errors_mu);
  BrokerErrors().erase(name);
}

std::string LastBrokerError(const rd_kafka_t* rk) {
  std::lock_guard<std::mutex> lock(g_broker_errors_mu);
  auto it = BrokerErrors().find(rd_kafka_name(rk));
  return it == BrokerErrors().end() ? std::string() : it->second;
}

namespace {

// librdkafka's log lines go through spdlog, so they follow --log-format and
// --log-level like the rest (librdkafka never logs property values). A
// connection failure ("FAIL") is also kept as the handle's LastBrokerError.
void LogToSpdlog(const rd_kafka_t* rk, int level, const char* fac,
                 const char* buf) {
  if (rk != nullptr && level <= 4 && absl::string_view(fac) == "FAIL") {
    std::lock_guard<std::mutex> lock(g_broker_errors_mu);
    BrokerErrors()[rd_kafka_name(rk)] = BrokerFailureText(buf);
  }
  spdlog::level::level_enum l = spdlog::level::debug;
  if (level <= 3) {
    l = spdlog::level::err;
  } else if (level == 4) {
    l = spdlog::level::warn;
  } else if (level <= 6) {
    l = spdlog::level::info;
  }
  spdlog::log(l, "kafka {} {}: {}", rk ? rd_kafka_name(rk) : "-", fac, buf);
}

}  // namespace

absl::StatusOr<rd_kafka_conf_t*> BuildKafkaConf(
    const KafkaClientConfig& config,
    const std::map<std::string, std::string>& overrides) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, &LogToSpdlog);
  char err[512];
  auto set = [&](const std::string& k, const std::string& v) -> absl::Status {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      // The value is not echoed: it may be a secret.
      return absl::InvalidArgumentError(
          absl::StrCat("kafka property ", k, ": ", err));
    }
    return absl::OkStatus();
  };
  absl::Status s = set("bootstrap.servers", config.brokers);
  for (const auto& [k, v] : config.properties) {
    if (s.ok()) s = set(k, v);
  }
  for (const auto& [k, v] : overrides) {
    if (s.ok()) s = set(k, v);
  }
  if (!s.ok()) {
    rd_kafka_conf_destroy(conf);
    return s;
  }
  return conf;
}

absl::Status ParseKafkaProperties(const std::vector<std::string>& pairs,
                                  std::map<std::string, std::string>* out) {
  for (const std::string& pair : pairs) {
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka property '", pair.substr(0, pair.find('=')),
                       "' is not key=value"));
    }
    (*out)[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return absl::OkStatus();
}

bool IsSecretProperty(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  for (absl::string_view marker :
       {"password", "secret", "jaas", "key", "token", "credential"}) {
    if (absl::StrContains(lower, marker)) return true;
  }
  return false;
}

std::string MaskedProperties(const std::map<std::string, std::string>& props) {
  std::string out;
  for (const auto& [k, v] : props) {
    if (!out.empty()) out += " ";
    absl::StrAppend(&out, k, "=", IsSecretProperty(k) ? "******" : v);
  }
  return out;
}

absl::Status ReadPropertiesFile(const std::string& path,
                                std::map<std::string, std::string>* out) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError("cannot read " + path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    absl::string_view t = absl::StripAsciiWhitespace(line);
    if (t.empty() || t[0] == '#' || t[0] == '!') continue;
    const size_t eq = t.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", n, ": not key=value"));
    }
    (*out)[std::string(absl::StripAsciiWhitespace(t.substr(0, eq)))] =
        std::string(absl::StripAsciiWhitespace(t.substr(eq + 1)));
  }
  return absl::OkStatus();
}

KafkaClientConfig ProducerConfig(const KafkaClientConfig& given) {
  // librdkafka 2.0's consumer-only properties (CONFIGURATION.md, "C").
  static const std::set<std::string> kConsumerOnly = {
      "group.id",
      "group.instance.id",
      "partition.assignment.strategy",
      "session.timeout.ms",
      "heartbeat.interval.ms",
      "group.protocol.type",
      "coordinator.query.interval.ms",
      "max.poll.interval.ms",
      "enable.auto.commit",
      "auto.commit.interval.ms",
      "enable.auto.offset.store",
      "queued.min.messages",
      "queued.max.messages.kbytes",
      "fetch.wait.max.ms",
      "fetch.message.max.bytes",
      "max.partition.fetch.bytes",
      "fetch.max.bytes",
      "fetch.min.bytes",
      "fetch.error.backoff.ms",
      "offset.store.method",
      "isolation.level",
      "enable.partition.eof",
      "check.crcs",
      "auto.offset.reset",
      "auto.commit.enable",
      "consume.callback.max.messages"};
  KafkaClientConfig config = given;
  for (const std::string& key : kConsumerOnly) config.properties.erase(key);
  return config;
}

absl::StatusOr<KafkaHandle> NewAdminClient(const KafkaClientConfig& given) {
  const KafkaClientConfig config = ProducerConfig(given);
  ASSIGN_OR_RETURN(
      rd_kafka_conf_t * conf,
      BuildKafkaConf(config, {{"allow.auto.create.topics", "false"}}));
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("admin client: ", err));
  }
  return KafkaHandle(rk);
}

namespace {

// " (last broker error: ...)" or "".
std::string BrokerErrorSuffix(const rd_kafka_t* rk) {
  const std::string error = LastBrokerError(rk);
  return error.empty() ? "" : absl::StrCat(" (last broker error: ", error, ")");
}

}  // namespace

absl::Status CreateTopic(rd_kafka_t* rk, const std::string& topic,
                         int partitions, int replication, int timeout_ms,
                         const std::atomic<bool>* stop) {
  char err[512];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(
      topic.c_str(), partitions, replication, err, sizeof(err));
  if (nt == nullptr) return absl::InvalidArgumentError(err);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* opts =
      rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, err,
                                              sizeof(err));
  rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
  // Waited for in slices, so that a stop request (SIGTERM during start-up)
  // ends the wait at once.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(timeout_ms + 2000);
  rd_kafka_event_t* ev = nullptr;
  bool stopped = false;
  while (ev == nullptr) {
    if (stop != nullptr && stop->load()) {
      stopped = true;
      break;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    ev = rd_kafka_queue_poll(
        q, static_cast<int>(std::min<int64_t>(left.count(), 100)));
  }
  absl::Status status;
  if (stopped) {
    status = absl::CancelledError(
        absl::StrCat("create topic ", topic, ": stop requested"));
  } else if (ev == nullptr) {
    // librdkafka's admin result gives no reason here: the connection
    // failures it logged do.
    status = absl::DeadlineExceededError(
        absl::StrCat("create topic ", topic, ": no broker answered within ",
                     (timeout_ms + 2000) / 1000, " s", BrokerErrorSuffix(rk)));
  } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = FromKafka(rd_kafka_event_error(ev),
                       absl::StrCat("create topic ", topic, ": ",
                                    rd_kafka_event_error_string(ev)));
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(
            rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n; ++i) {
      rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR &&
          e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        status = FromKafka(e, "create topic " + topic);
      }
    }
  }
  if (ev != nullptr) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
  return status;
}

absl::StatusOr<std::vector<int32_t>> TopicPartitions(rd_kafka_t* rk,
                                                     const std::string& topic,
                                                     int timeout_ms) {
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, timeout_ms);
  rd_kafka_topic_destroy(t);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    absl::Status s = FromKafka(err, "metadata for " + topic);
    return absl::Status(s.code(),
                        absl::StrCat(s.message(), BrokerErrorSuffix(rk)));
  }
  std::vector<int32_t> ids;
  absl::Status status;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& mt = md->topics[i];
    if (topic != mt.topic) continue;
    if (mt.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      status = absl::NotFoundError("topic " + topic + " does not exist");
      break;
    }
    if (mt.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = FromKafka(mt.err, "metadata for " + topic);
      break;
    }
    for (int p = 0; p < mt.partition_cnt; ++p) {
      ids.push_back(mt.partitions[p].id);
    }
  }
  rd_kafka_metadata_destroy(md);
  RETURN_IF_ERROR(status);
  if (ids.empty()) {
    return absl::NotFoundError("topic " + topic + " does not exist");
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

absl::StatusOr<std::map<int32_t, int64_t>> EndOffsets(rd_kafka_t* rk,
                                                      const std::string& topic,
                                                      int timeout_ms) {
  ASSIGN_OR_RETURN(std::vector<int32_t> partitions,
                   TopicPartitions(rk, topic, timeout_ms));
  std::map<int32_t, int64_t> ends;
  for (int32_t p : partitions) {
    int64_t low = 0, high = 0;
    RETURN_IF_ERROR(
        FromKafka(rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low,
                                                   &high, timeout_ms),
                  absl::StrCat("watermarks of ", topic, "/", p)));
    ends[p] = high;
  }
  return ends;
}

}  // namespace encore
