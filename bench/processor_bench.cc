// processor_bench: one worker's processing path without a broker, for
// comparing builds. The events `encore gen` would produce (same generator,
// seed and partitioner) are serialized into memory first; then a Processor
// over a real RocksDB store applies them in batches, committing whenever
// its policy says so, and the CPU that took is printed. A fake clock
// advances by the batch's share of --events_per_s, so the commits fall at
// the same events in every run: two builds see exactly the same work, and
// the only noise left is the machine's. Not a substitute for bench/run.sh
// (no librdkafka, one worker, no snapshots). It allocates as the encore
// binary does (jemalloc with encore's options, unless built without), and
// says which allocator it ran with.
//
//   taskset -c 1 build/bench/processor_bench --users=200000 --events=2000000
//       --seed=11 --dir=/tmp/pb  (absent or empty)
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "prometheus/registry.h"
#include "state/allocator.h"
#include "state/clock.h"
#include "state/partitioner.h"
#include "state/state_store.h"
#include "stream/dead_letter.h"
#include "stream/event_generator.h"
#include "stream/metrics.h"
#include "stream/processor.h"

ABSL_FLAG(uint64_t, users, 200000, "users, as encore gen --users");
ABSL_FLAG(uint64_t, events, 2000000, "events, as encore gen --events");
ABSL_FLAG(uint64_t, seed, 11, "generator seed, as encore gen --seed");
ABSL_FLAG(int, partitions, 4, "topic partitions, as encore gen");
ABSL_FLAG(int, batch, 500, "messages per HandleBatch (a poll)");
ABSL_FLAG(double, events_per_s, 200000,
          "the rate the fake clock assumes (it decides when commits fall)");
ABSL_FLAG(std::string, dir, "", "an absent or empty directory for the state");
ABSL_FLAG(bool, wal, true,
          "commits go through RocksDB's WAL, fsynced, as encore run's do by "
          "default; false: neither, as encore backfill's bulk commits");

namespace encore {
namespace {

class CountingDeadLetters final : public DeadLetterSink {
 public:
  absl::Status Send(const std::string&, const Message&,
                    const Verdict&) override {
    ++sent_;
    return absl::OkStatus();
  }
  absl::Status Flush(int) override { return absl::OkStatus(); }
  uint64_t failures() const override { return 0; }
  uint64_t sent() const { return sent_; }

 private:
  uint64_t sent_ = 0;
};

double ThreadCpuS() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double ProcessCpuS() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) +
           1e-6 * static_cast<double>(t.tv_usec);
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

int Run() {
  const std::string dir = absl::GetFlag(FLAGS_dir);
  if (dir.empty()) {
    std::fprintf(stderr, "--dir is required\n");
    return 2;
  }
  if (std::filesystem::exists(dir) && !std::filesystem::is_empty(dir)) {
    std::fprintf(stderr, "--dir %s is not empty\n", dir.c_str());
    return 2;
  }
  const uint64_t n = absl::GetFlag(FLAGS_events);
  const int partitions = absl::GetFlag(FLAGS_partitions);
  if (n == 0 || partitions < 1 || absl::GetFlag(FLAGS_batch) < 1 ||
      !(absl::GetFlag(FLAGS_events_per_s) > 0)) {
    std::fprintf(stderr,
                 "--events, --partitions, --batch and --events_per_s must be "
                 "positive\n");
    return 2;
  }

  // The topic, in memory: keys and payloads as encore gen sends them.
  GeneratorOptions gen_options;
  gen_options.users = absl::GetFlag(FLAGS_users);
  gen_options.seed = absl::GetFlag(FLAGS_seed);
  EventGenerator gen(gen_options);
  std::vector<std::string> keys(n), payloads(n);
  std::vector<Message> log(n);
  std::map<int32_t, int64_t> next_offset;
  for (uint64_t i = 0; i < n; ++i) {
    const ListenEvent e = gen.Next();
    keys[i] = e.user_id();
    e.SerializeToString(&payloads[i]);
    Message& m = log[i];
    m.partition = KafkaPartition(keys[i], partitions);
    m.offset = next_offset[m.partition]++;
    m.timestamp_ms = e.event_time_ms();  // Kafka's would be the send time
    m.key = keys[i];
    m.payload = payloads[i];
  }

  RocksStoreOptions store_options;
  store_options.disable_wal = !absl::GetFlag(FLAGS_wal);
  store_options.sync_commits = absl::GetFlag(FLAGS_wal);
  auto store = OpenRocksStateStore(dir + "/state", "bench", store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  FakeClock clock(1'800'000'000'000);
  CountingDeadLetters dead_letters;
  Metrics metrics(std::make_shared<prometheus::Registry>());
  ProcessorOptions options;
  options.topic = "bench";
  options.topic_partitions = partitions;
  Processor processor(options, store->get(), &dead_letters, &clock, &metrics);
  std::vector<int32_t> all;
  for (int32_t p = 0; p < partitions; ++p) all.push_back(p);
  if (auto assigned = processor.OnAssigned(all); !assigned.ok()) {
    std::fprintf(stderr, "%s\n", assigned.status().ToString().c_str());
    return 1;
  }

  const size_t batch_size = static_cast<size_t>(absl::GetFlag(FLAGS_batch));
  const double ms_per_event = 1000.0 / absl::GetFlag(FLAGS_events_per_s);
  std::vector<Message> batch;
  int commits = 0;
  int64_t elapsed_ms = 0;  // on the fake clock
  std::printf("allocator %s\n", AllocatorDescription().c_str());
  const double thread0 = ThreadCpuS(), process0 = ProcessCpuS();
  const auto wall0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; i += batch_size) {
    batch.assign(
        log.begin() + static_cast<ptrdiff_t>(i),
        log.begin() + static_cast<ptrdiff_t>(std::min(n, i + batch_size)));
    absl::Status s = processor.HandleBatch(batch);
    // To the time of the batch's last event at the assumed rate.
    const auto now = static_cast<int64_t>(
        static_cast<double>(i + batch.size()) * ms_per_event);
    clock.AdvanceMs(now - elapsed_ms);
    elapsed_ms = now;
    if (s.ok() && processor.CommitDue()) {
      s = processor.Commit();
      ++commits;
    }
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
  }
  absl::Status s = processor.Commit();
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  ++commits;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0)
          .count();
  const double thread = ThreadCpuS() - thread0;
  const double process = ProcessCpuS() - process0;
  const double per_event = 1e6 / static_cast<double>(n);
  std::printf(
      "events %llu commits %d dead_letters %llu wall_s %.3f "
      "worker_us_per_event %.3f process_us_per_event %.3f\n",
      static_cast<unsigned long long>(n), commits,
      static_cast<unsigned long long>(dead_letters.sent()), wall,
      thread * per_event, process * per_event);
  return 0;
}

}  // namespace
}  // namespace encore

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return encore::Run();
}
