#include "tests/testing/replay_digest.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "prometheus/registry.h"
#include "state/clock.h"
#include "state/snapshot_publisher.h"
#include "state/snapshot_reader.h"
#include "state/state_store.h"
#include "state/status_macros.h"
#include "stream/engine.h"
#include "stream/metrics.h"
#include "tests/testing/fake_source.h"

namespace encore::testing {
namespace {

// The partition's first `count` messages, read from offset 0.
absl::StatusOr<std::vector<FakeRecord>> ReadPartition(
    const std::string& brokers, const std::string& topic, int32_t partition,
    int64_t count) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err,
                        sizeof(err)) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "group.id", "encore-replay-digest", err,
                        sizeof(err)) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "enable.auto.commit", "false", err,
                        sizeof(err)) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(err);
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (rk == nullptr) return absl::InternalError(err);
  std::unique_ptr<rd_kafka_t, void (*)(rd_kafka_t*)> owner(
      rk, [](rd_kafka_t* k) {
        rd_kafka_consumer_close(k);
        rd_kafka_destroy(k);
      });
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, topic.c_str(), partition)->offset =
      RD_KAFKA_OFFSET_BEGINNING;
  const rd_kafka_resp_err_t assigned = rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  if (assigned != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(rd_kafka_err2str(assigned));
  }
  std::vector<FakeRecord> records;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (static_cast<int64_t>(records.size()) < count &&
         std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 500);
    if (m == nullptr) continue;
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> held(
        m, rd_kafka_message_destroy);
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::InternalError(rd_kafka_message_errstr(m));
    }
    // FakeSource numbers a partition's records from 0.
    if (m->offset != static_cast<int64_t>(records.size())) {
      return absl::FailedPreconditionError(
          absl::StrCat(topic, " partition ", partition, ": offset ", m->offset,
                       " where ", records.size(), " was expected"));
    }
    records.push_back(
        {std::string(static_cast<const char*>(m->key), m->key_len),
         std::string(static_cast<const char*>(m->payload), m->len),
         rd_kafka_message_timestamp(m, nullptr)});
  }
  if (static_cast<int64_t>(records.size()) < count) {
    return absl::DeadlineExceededError(
        absl::StrCat("read ", records.size(), " of ", count, " messages of ",
                     topic, " partition ", partition));
  }
  return records;
}

}  // namespace

absl::StatusOr<std::map<int64_t, std::string>> ReplayDigests(
    const std::string& brokers, const std::string& topic, int32_t partition,
    const std::vector<int64_t>& offsets, const std::string& work_dir) {
  std::map<int64_t, std::string> digests;
  if (offsets.empty()) return digests;
  const int64_t last = *std::max_element(offsets.begin(), offsets.end());
  ASSIGN_OR_RETURN(std::vector<FakeRecord> records,
                   ReadPartition(brokers, topic, partition, last));
  for (const int64_t offset : offsets) {
    if (offset <= 0 || digests.contains(offset)) continue;
    const std::string dir = absl::StrCat(work_dir, "/", offset);
    std::map<int32_t, std::vector<FakeRecord>> log;
    log[partition].assign(records.begin(), records.begin() + offset);
    ASSIGN_OR_RETURN(std::unique_ptr<StateStore> store,
                     OpenRocksStateStore(dir + "/state", topic, {}));
    FakeClock clock(1'800'000'000'000);
    ASSIGN_OR_RETURN(std::unique_ptr<SnapshotPublisher> publisher,
                     SnapshotPublisher::Open({dir + "/snap", 1}, &clock));
    Metrics metrics(std::make_shared<prometheus::Registry>());
    RecordingDeadLetterSink dead_letters;
    EngineOptions options;
    options.processor.topic = topic;
    options.snapshot_interval_ms = int64_t{1} << 40;  // the final one only
    absl::Status run;
    {
      Engine engine(options, {{store.get(), &dead_letters}}, publisher.get(),
                    &clock, &metrics);
      std::atomic<bool> stop{false};
      FakeSource source(&log, &engine, &stop);
      run = engine.Run(source, stop);
    }
    RETURN_IF_ERROR(run);
    ASSIGN_OR_RETURN(SnapshotManifest manifest,
                     ReadLatestManifest(dir + "/snap"));
    for (const PartitionManifest& p : manifest.partitions()) {
      if (p.partition() == partition) digests[offset] = p.digest();
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return digests;
}

}  // namespace encore::testing
