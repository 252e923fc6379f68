// apply_bench: what ApplyEvent costs with the full feature set, on one core,
// and how large the per-user state it leaves behind is.
//
// The events come from EventGenerator (stream/event_generator.h) and are
// generated before any timing. Each case replays them the way
// Processor::Handle does, minus decoding, validation and the state store:
// the late-event check against the partition watermark, impression expiry
// when the watermark moves (ExpireUpTo, driven by a deadline index), then
// ApplyEvent into an in-memory map of users with the partition's
// PartitionAggregates as the reward sink.
//
//   BM_Apply                 from empty users, events[0, N)
//   BM_ApplySerialize        the same, plus serializing the touched user
//                            after every event (a commit's encoding cost if
//                            every event were committed alone)
//   BM_ApplySteady           users already hold the history of events[0, N);
//                            times events[N, 2N)
//   BM_Encode                encodes every user of BM_ApplySteady's
//                            starting point (a commit's cost per dirty user)
//   BM_Decode                decodes them from their stored bytes (a cache
//                            miss's cost per user after the read);
//                            BM_DecodeViaProtobuf the same through protobuf
//   BM_DecodeEvent           reads events[0, N) from their payloads as the
//                            processor does (DecodeAndValidate into a
//                            view); BM_DecodeEventViaProtobuf the same
//                            through protobuf's parser, as it did before
//
// After the benchmarks it prints the serialized per-user state size (mean,
// p50, p99, max) after each workload of --size_events, and which fields the
// bytes go to.
//
//   apply_bench [--apply_events=1000000] [--apply_users=100000]
//               [--size_events=1000000,10000000] [--size_users=100000,10000]
//               [benchmark flags]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "proto/user_state.pb.h"
#include "state/aggregates.h"
#include "state/model.h"
#include "state/user_record.h"
#include "stream/event_generator.h"
#include "stream/validation.h"

namespace encore {
namespace {

// One partition's in-memory state, updated as Processor::Handle updates it.
class ApplyLoop {
 public:
  explicit ApplyLoop(const ModelConfig* config) : config_(config) {}

  // Applies `event` and returns the touched user, or nullptr if the event
  // was late (the processor dead-letters it).
  UserRecord* Handle(const ListenEvent& event) {
    if (watermark_ms_ > 0 &&
        event.event_time_ms() < watermark_ms_ - config_->lateness_ms) {
      ++late_;
      return nullptr;
    }
    const int64_t watermark = std::max(watermark_ms_, event.event_time_ms());
    if (!expiries_.empty() && expiries_.begin()->first < watermark) {
      ExpireUpTo(watermark);
    }
    User& user = users_[event.user_id()];
    ApplyEvent(*config_, event, &user.state, &aggregates_);
    Reindex(user);
    watermark_ms_ = watermark;
    return &user.state;
  }

  template <typename F>
  void ForEachUser(F f) const {
    for (const auto& [id, user] : users_) f(user.state);
  }
  size_t users() const { return users_.size(); }
  uint64_t late() const { return late_; }
  uint64_t expired() const { return expired_; }

 private:
  struct User {
    UserRecord state;
    int64_t expiry = -1;  // its entry in expiries_, -1 = none
  };

  void Reindex(User& user) {
    const int64_t next = NextExpiry(*config_, user.state);
    if (next == user.expiry) return;
    if (user.expiry >= 0) expiries_.erase({user.expiry, user.state.user_id});
    if (next >= 0) expiries_.emplace(next, user.state.user_id);
    user.expiry = next;
  }

  void ExpireUpTo(int64_t watermark_ms) {
    while (!expiries_.empty() && expiries_.begin()->first < watermark_ms) {
      const std::string user_id = expiries_.begin()->second;
      User& user = users_[user_id];
      expired_ += static_cast<uint64_t>(
          ExpireImpressions(*config_, watermark_ms, &user.state, &aggregates_));
      Reindex(user);
    }
  }

  const ModelConfig* config_;
  absl::node_hash_map<std::string, User> users_;
  std::set<std::pair<int64_t, std::string>> expiries_;
  PartitionAggregates aggregates_;
  int64_t watermark_ms_ = 0;
  uint64_t late_ = 0;
  uint64_t expired_ = 0;
};

struct Options {
  uint64_t apply_events = 1'000'000;
  uint64_t apply_users = 100'000;
  std::vector<uint64_t> size_events = {1'000'000, 10'000'000};
  std::vector<uint64_t> size_users = {100'000, 10'000};
};

Options& GetOptions() {
  static Options options;
  return options;
}

const ModelConfig& Config() {
  static const ModelConfig config;
  return config;
}

GeneratorOptions Workload(uint64_t users) {
  GeneratorOptions options;
  options.users = users;
  options.seed = 7;
  return options;
}

// 2 * apply_events events: the first half for BM_Apply and as history for
// BM_ApplySteady, the second half for BM_ApplySteady's timed part.
const std::vector<ListenEvent>& Events() {
  static const std::vector<ListenEvent>* events = [] {
    auto* v = new std::vector<ListenEvent>;
    EventGenerator generator(Workload(GetOptions().apply_users));
    v->reserve(2 * GetOptions().apply_events);
    for (uint64_t i = 0; i < 2 * GetOptions().apply_events; ++i) {
      v->push_back(generator.Next());
    }
    return v;
  }();
  return *events;
}

// The loop after events[0, N): BM_ApplySteady's starting point.
const ApplyLoop& WarmLoop() {
  static const ApplyLoop* warm = [] {
    auto* loop = new ApplyLoop(&Config());
    const auto& events = Events();
    for (uint64_t i = 0; i < GetOptions().apply_events; ++i) {
      loop->Handle(events[i]);
    }
    return loop;
  }();
  return *warm;
}

void Report(benchmark::State& state, uint64_t events_per_iteration) {
  state.counters["events/s"] =
      benchmark::Counter(static_cast<double>(events_per_iteration),
                         benchmark::Counter::kIsIterationInvariantRate);
  state.counters["time/event"] =
      benchmark::Counter(static_cast<double>(events_per_iteration),
                         benchmark::Counter::kIsIterationInvariantRate |
                             benchmark::Counter::kInvert);
}

void RunApply(benchmark::State& state, bool serialize, bool steady) {
  const auto& events = Events();
  const uint64_t n = GetOptions().apply_events;
  const auto begin = events.begin() + (steady ? n : 0);
  const auto end = begin + n;
  if (steady) WarmLoop();
  std::string buffer;
  uint64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto loop = steady ? std::make_unique<ApplyLoop>(WarmLoop())
                       : std::make_unique<ApplyLoop>(&Config());
    state.ResumeTiming();
    for (auto it = begin; it != end; ++it) {
      UserRecord* user = loop->Handle(*it);
      if (serialize && user != nullptr) {
        buffer.clear();
        EncodeTo(*user, &buffer);
        bytes += buffer.size();
      }
    }
    benchmark::ClobberMemory();
    state.PauseTiming();
    loop.reset();
    state.ResumeTiming();
  }
  Report(state, n);
  if (serialize) {
    state.counters["bytes/event"] = static_cast<double>(bytes) /
                                    static_cast<double>(n * state.iterations());
  }
}

void BM_Apply(benchmark::State& state) { RunApply(state, false, false); }
void BM_ApplySerialize(benchmark::State& state) {
  RunApply(state, true, false);
}
void BM_ApplySteady(benchmark::State& state) { RunApply(state, false, true); }

// Encoding alone: every user of the warm loop (what a commit pays per
// dirty user), timed per user.
void BM_Encode(benchmark::State& state) {
  const ApplyLoop& warm = WarmLoop();
  std::vector<const UserRecord*> users;
  warm.ForEachUser([&](const UserRecord& u) { users.push_back(&u); });
  std::string buffer;
  uint64_t bytes = 0;
  for (auto _ : state) {
    for (const UserRecord* u : users) {
      buffer.clear();
      EncodeTo(*u, &buffer);
      bytes += buffer.size();
    }
    benchmark::DoNotOptimize(buffer.data());
  }
  state.counters["time/user"] =
      benchmark::Counter(static_cast<double>(users.size()),
                         benchmark::Counter::kIsIterationInvariantRate |
                             benchmark::Counter::kInvert);
  state.counters["bytes/user"] =
      static_cast<double>(bytes) /
      static_cast<double>(users.size() * state.iterations());
}

// Decoding alone: every user of the warm loop, from its stored bytes (what
// a cache miss pays per user once the bytes are read), timed per user.
// BM_Decode is DecodeFrom; BM_DecodeViaProtobuf what it did before its
// fast path (state/user_record_wire.h): protobuf's parse, then FromProto.
void RunDecode(benchmark::State& state, bool via_protobuf) {
  std::vector<std::string> stored;
  WarmLoop().ForEachUser(
      [&](const UserRecord& u) { EncodeTo(u, &stored.emplace_back()); });
  for (auto _ : state) {
    for (const std::string& bytes : stored) {
      UserRecord user;
      if (via_protobuf) {
        UserState parsed;
        if (!parsed.ParseFromString(bytes)) std::abort();
        user = FromProto(parsed);
      } else if (!DecodeFrom(bytes, &user)) {
        std::abort();
      }
      benchmark::DoNotOptimize(user.events);
    }
  }
  state.counters["time/user"] =
      benchmark::Counter(static_cast<double>(stored.size()),
                         benchmark::Counter::kIsIterationInvariantRate |
                             benchmark::Counter::kInvert);
}

void BM_Decode(benchmark::State& state) { RunDecode(state, false); }
void BM_DecodeViaProtobuf(benchmark::State& state) { RunDecode(state, true); }

// BM_DecodeEvent: the payloads of events[0, N), decoded and validated as
// Processor::Handle does; via_protobuf as before state/listen_event.h.
void RunDecodeEvent(benchmark::State& state, bool via_protobuf) {
  std::vector<std::string> payloads;
  for (uint64_t i = 0; i < GetOptions().apply_events; ++i) {
    payloads.push_back(Events()[i].SerializeAsString());
  }
  const ValidationLimits limits;
  ListenEvent parsed;
  ListenEventView view;
  for (auto _ : state) {
    for (const std::string& payload : payloads) {
      const Verdict verdict =
          via_protobuf
              ? DecodeAndValidate(payload, "", 0, limits, &parsed)
              : DecodeAndValidate(payload, "", 0, limits, &parsed, &view);
      if (!verdict.ok()) std::abort();
    }
  }
  state.counters["time/event"] =
      benchmark::Counter(static_cast<double>(payloads.size()),
                         benchmark::Counter::kIsIterationInvariantRate |
                             benchmark::Counter::kInvert);
}

void BM_DecodeEvent(benchmark::State& state) { RunDecodeEvent(state, false); }
void BM_DecodeEventViaProtobuf(benchmark::State& state) {
  RunDecodeEvent(state, true);
}

BENCHMARK(BM_Apply)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ApplySerialize)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ApplySteady)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Encode)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecodeViaProtobuf)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecodeEvent)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecodeEventViaProtobuf)->Unit(benchmark::kMillisecond);

// Nearest-rank percentile of sorted values.
uint64_t Percentile(const std::vector<uint64_t>& sorted, double q) {
  size_t rank = static_cast<size_t>(q * static_cast<double>(sorted.size()));
  if (rank > 0 &&
      static_cast<double>(rank) == q * static_cast<double>(sorted.size())) {
    --rank;
  }
  return sorted[std::min(rank, sorted.size() - 1)];
}

// Streams `events` events for `users` users through an ApplyLoop and prints
// the serialized size of every final user state, and the mean bytes of each
// top-level UserState field (the size lost when it is cleared).
void ReportStateSizes(uint64_t events, uint64_t users) {
  ApplyLoop loop(&Config());
  EventGenerator generator(Workload(users));
  int64_t first_ms = 0, last_ms = 0;
  for (uint64_t i = 0; i < events; ++i) {
    const ListenEvent e = generator.Next();
    if (i == 0) first_ms = e.event_time_ms();
    last_ms = std::max(last_ms, e.event_time_ms());
    loop.Handle(e);
  }
  const auto* descriptor = UserState::descriptor();
  std::vector<uint64_t> sizes;
  std::vector<uint64_t> events_per_user;
  std::vector<double> field_bytes(descriptor->field_count());
  loop.ForEachUser([&](const UserRecord& user) {
    UserState s;
    ToProto(user, &s);
    const size_t total = s.ByteSizeLong();
    sizes.push_back(total);
    events_per_user.push_back(s.events());
    for (int f = 0; f < descriptor->field_count(); ++f) {
      UserState without = s;
      without.GetReflection()->ClearField(&without, descriptor->field(f));
      field_bytes[f] += static_cast<double>(total - without.ByteSizeLong());
    }
  });
  std::sort(sizes.begin(), sizes.end());
  std::sort(events_per_user.begin(), events_per_user.end());
  double sum = 0;
  for (uint64_t s : sizes) sum += static_cast<double>(s);
  const double n = static_cast<double>(sizes.size());
  std::printf(
      "\nstate size after %" PRIu64 " events, %" PRIu64
      " generator users (%.1f days of event time): %zu users with state, "
      "%" PRIu64 " late, %" PRIu64 " impressions expired\n",
      events, users, static_cast<double>(last_ms - first_ms) / kDayMs,
      sizes.size(), loop.late(), loop.expired());
  std::printf("  serialized bytes/user: mean %.0f  p50 %" PRIu64
              "  p99 %" PRIu64 "  max %" PRIu64 "  total %.1f MiB\n",
              sum / n, Percentile(sizes, 0.5), Percentile(sizes, 0.99),
              sizes.back(), sum / (1 << 20));
  std::printf("  events/user:           mean %.1f  p50 %" PRIu64
              "  p99 %" PRIu64 "  max %" PRIu64 "\n",
              static_cast<double>(events) / n, Percentile(events_per_user, 0.5),
              Percentile(events_per_user, 0.99), events_per_user.back());
  std::vector<std::pair<double, int>> order;
  for (int f = 0; f < descriptor->field_count(); ++f) {
    order.emplace_back(field_bytes[f] / n, f);
  }
  std::sort(order.rbegin(), order.rend());
  std::printf("  mean bytes by field:");
  for (size_t i = 0; i < order.size() && order[i].first >= 1; ++i) {
    std::printf(" %s %.0f", descriptor->field(order[i].second)->name().c_str(),
                order[i].first);
  }
  std::printf("\n");
}

bool ParseList(const char* value, std::vector<uint64_t>* out) {
  out->clear();
  for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipEmpty())) {
    uint64_t v;
    if (!absl::SimpleAtoi(part, &v)) return false;
    out->push_back(v);
  }
  return true;
}

// Removes this benchmark's own flags from argv; false on a malformed one.
bool ParseOwnFlags(int* argc, char** argv) {
  Options& o = GetOptions();
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    const char* arg = argv[i];
    auto value = [arg](const char* name) -> const char* {
      const size_t len = std::strlen(name);
      return std::strncmp(arg, name, len) == 0 ? arg + len : nullptr;
    };
    bool ok = true;
    if (const char* v = value("--apply_events=")) {
      ok = absl::SimpleAtoi(v, &o.apply_events) && o.apply_events > 0;
    } else if (const char* v = value("--apply_users=")) {
      ok = absl::SimpleAtoi(v, &o.apply_users) && o.apply_users > 0;
    } else if (const char* v = value("--size_events=")) {
      ok = ParseList(v, &o.size_events);
    } else if (const char* v = value("--size_users=")) {
      ok = ParseList(v, &o.size_users);
    } else {
      argv[kept++] = argv[i];
      continue;
    }
    if (!ok) {
      std::fprintf(stderr, "apply_bench: bad flag %s\n", arg);
      return false;
    }
  }
  *argc = kept;
  if (o.size_users.size() != o.size_events.size()) {
    std::fprintf(stderr,
                 "apply_bench: --size_events and --size_users need the same "
                 "number of values\n");
    return false;
  }
  return true;
}

}  // namespace
}  // namespace encore

int main(int argc, char** argv) {
  if (!encore::ParseOwnFlags(&argc, argv)) return 2;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  const encore::Options& o = encore::GetOptions();
  std::printf("workload: EventGenerator seed 7, %" PRIu64 " users, %" PRIu64
              " events per case (BM_ApplySteady: after %" PRIu64
              " events of history)\n",
              o.apply_users, o.apply_events, o.apply_events);
  std::fflush(stdout);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  for (size_t i = 0; i < o.size_events.size(); ++i) {
    encore::ReportStateSizes(o.size_events[i], o.size_users[i]);
  }
  return 0;
}
