// encore gen: produce synthetic listening events.
#include <chrono>
#include <iostream>
#include <thread>

#include "absl/strings/str_format.h"
#include "stream/cli/common.h"
#include "stream/event_generator.h"
#include "stream/event_producer.h"
#include "stream/validation.h"

ABSL_FLAG(uint64_t, users, 10000,
          "Distinct users (Zipf-distributed activity).");
ABSL_FLAG(uint64_t, events, 100000, "Events to produce.");
ABSL_FLAG(double, rate, 0, "Events per second; 0 = as fast as possible.");
ABSL_FLAG(int, partitions, 4, "Partitions if the topic has to be created.");
ABSL_FLAG(int, arm_count, 8, "Number of arms (home shelves).");
ABSL_FLAG(double, user_zipf, 1.1,
          "Zipf exponent of user activity; lower spreads events over more "
          "distinct users (0 = uniform).");
ABSL_FLAG(int64_t, start_time_ms, 1793491200000,
          "Event time of the first event (default 2026-11-01T00:00Z).");
ABSL_FLAG(bool, realtime, false,
          "Stamp each event with the wall clock when it is produced instead "
          "of the generator's event time (with --rate: event -> commit "
          "latency becomes meaningful, for soak runs).");

namespace encore::cli {

int GenCommand(const std::vector<char*>& args) {
  const std::string cmd = "gen";
  if (args.size() > 1)
    return UsageError(cmd, absl::StrCat("unexpected argument '", args[1], "'"));
  absl::StatusOr<KafkaClientConfig> client = ClientConfigFromFlags();
  if (!client.ok())
    return UsageError(cmd, std::string(client.status().message()));
  const std::string topic = absl::GetFlag(FLAGS_topic);
  if (topic.empty()) return UsageError(cmd, "--topic is required");
  for (absl::Status s : {
           CheckAbove("users", absl::GetFlag(FLAGS_users), 0),
           CheckAbove("arm-count", absl::GetFlag(FLAGS_arm_count), 0),
           CheckAtLeast("user-zipf", absl::GetFlag(FLAGS_user_zipf), 0),
           CheckAtLeast("rate", absl::GetFlag(FLAGS_rate), 0),
           CheckAbove("partitions", absl::GetFlag(FLAGS_partitions), 0),
       }) {
    if (!s.ok()) return UsageError(cmd, std::string(s.message()));
  }
  GeneratorOptions options;
  options.users = absl::GetFlag(FLAGS_users);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.arms = absl::GetFlag(FLAGS_arm_count);
  options.user_zipf = absl::GetFlag(FLAGS_user_zipf);
  options.start_time_ms = absl::GetFlag(FLAGS_start_time_ms);
  EventGenerator generator(options);

  absl::StatusOr<std::unique_ptr<encore::EventProducer>> producer =
      encore::EventProducer::Open(*client, topic,
                                  absl::GetFlag(FLAGS_partitions));
  if (!producer.ok()) return Failure(cmd, producer.status());
  const uint64_t total = absl::GetFlag(FLAGS_events);
  const double rate = absl::GetFlag(FLAGS_rate);
  const bool realtime = absl::GetFlag(FLAGS_realtime);
  const auto start = std::chrono::steady_clock::now();
  // encore rejects an event dated more than its max skew (1 h by default)
  // after its Kafka timestamp, the produce time: count those produced.
  const int64_t future_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count() +
      ValidationLimits().max_future_skew_ms;
  uint64_t future = 0;
  for (uint64_t i = 0; i < total; ++i) {
    if (rate > 0 && i % 100 == 0) {
      const auto due = start + std::chrono::duration<double>(i / rate);
      std::this_thread::sleep_until(due);
    }
    ListenEvent event = generator.Next();
    if (realtime) {
      event.set_event_time_ms(
          std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count());
    }
    if (event.event_time_ms() > future_ms) ++future;
    absl::Status s = (*producer)->Send(event);
    if (!s.ok()) return Failure(cmd, s);
  }
  absl::Status s = (*producer)->Flush(60000);
  if (!s.ok()) return Failure(cmd, s);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::cerr << absl::StrFormat(
      "produced %d events to %s in %.2f s (%.0f events/s)\n", total, topic,
      secs, total / std::max(secs, 1e-9));
  if (future > 0) {
    std::cerr << absl::StrFormat(
        "warning: %d of them are dated more than an hour after now; encore "
        "dead-letters those as future_timestamp (start earlier with "
        "--start-time-ms, or produce fewer)\n",
        future);
  }
  return 0;
}

}  // namespace encore::cli
