#include "stream/topic_setup.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "state/status_macros.h"

namespace encore {
namespace {

constexpr int kMetadataTimeoutMs = 1000;

// Sleeps until `until`, in slices, unless `stop` becomes true.
void SleepUnlessStopped(std::chrono::steady_clock::time_point until,
                        const std::atomic<bool>& stop) {
  while (!stop.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        until - std::chrono::steady_clock::now(),
        std::chrono::milliseconds(100)));
  }
}

}  // namespace

absl::StatusOr<int32_t> PrepareTopics(
    const KafkaClientConfig& client, const TopicSetupOptions& options,
    const std::atomic<bool>& stop,
    const std::function<void(const std::string&)>& on_wait) {
  ASSIGN_OR_RETURN(KafkaHandle admin, NewAdminClient(client));
  const auto stopped = [&] {
    return absl::CancelledError("stop requested during start-up");
  };
  std::string waiting_for;  // the reason last reported
  int32_t partition_count = 0;
  while (true) {
    if (stop.load()) return stopped();
    const auto next = std::chrono::steady_clock::now() +
                      std::chrono::milliseconds(options.poll_interval_ms);
    // librdkafka's metadata call blocks while no broker is up: a short
    // one, so that a stop request is seen within a second.
    absl::StatusOr<std::vector<int32_t>> partitions =
        TopicPartitions(admin.get(), options.topic, kMetadataTimeoutMs);
    if (partitions.ok()) {
      partition_count = static_cast<int32_t>(partitions->size());
      break;
    }
    std::string reason;
    if (absl::IsNotFound(partitions.status())) {
      if (!options.wait_for_topic) {
        return absl::NotFoundError(
            absl::StrCat("topic ", options.topic, " does not exist on ",
                         client.brokers, " (misspelt --topic?)"));
      }
      reason = absl::StrCat("topic ", options.topic, " does not exist on ",
                            client.brokers,
                            " (misspelt --topic?): waiting for it to be "
                            "created; ",
                            options.dead_letter_topic, " is created only then");
    } else if (absl::IsUnavailable(partitions.status()) ||
               absl::IsDeadlineExceeded(partitions.status())) {
      reason = absl::StrCat("waiting for a Kafka broker to answer: ",
                            partitions.status().message());
    } else {
      return partitions.status();
    }
    if (reason != waiting_for) {
      spdlog::warn("{}", reason);
      waiting_for = reason;
      if (on_wait) on_wait(reason);
    }
    SleepUnlessStopped(next, stop);
  }
  if (!waiting_for.empty()) {
    spdlog::info("topic {} exists", options.topic);
    if (on_wait) on_wait("");
  }
  absl::Status created = CreateTopic(admin.get(), options.dead_letter_topic, -1,
                                     -1, options.create_timeout_ms, &stop);
  if (absl::IsCancelled(created)) return stopped();
  if (!created.ok()) {
    spdlog::warn("dead-letter topic {}: {}", options.dead_letter_topic,
                 created.ToString());
  }
  return partition_count;
}

}  // namespace encore
