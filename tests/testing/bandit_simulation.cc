#include "tests/testing/bandit_simulation.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bandits/beta.h"
#include "bandits/rng.h"
#include "prometheus/registry.h"
#include "state/scoring.h"
#include "state/snapshot_publisher.h"
#include "state/snapshot_reader.h"
#include "state/state_store.h"
#include "state/status_macros.h"
#include "stream/engine.h"
#include "stream/metrics.h"
#include "tests/testing/fake_source.h"

namespace encore::testing {
namespace {

constexpr int64_t kMaxResponseDelayMs = 10 * 60'000;  // within the window
constexpr int64_t kTrackDurationMs = 210'000;

// The latent preferences: fixed per seed, whatever the policy.
class World {
 public:
  explicit World(const SimulationOptions& o) : arms_(o.arms) {
    bandits::Rng rng(bandits::MixSeed(o.seed, "world"));
    // Evenly spaced bases, assigned to arms in a seeded order.
    std::vector<double> base(arms_);
    for (int a = 0; a < arms_; ++a) {
      base[a] = arms_ == 1
                    ? o.base_high
                    : o.base_low + (o.base_high - o.base_low) * a / (arms_ - 1);
    }
    for (int a = arms_ - 1; a > 0; --a) {
      std::swap(base[a], base[rng.NextU64() % static_cast<uint64_t>(a + 1)]);
    }
    p_.resize(static_cast<size_t>(o.users) * arms_);
    shift_.resize(o.users);
    for (int u = 0; u < o.users; ++u) {
      for (int a = 0; a < arms_; ++a) {
        p_[u * arms_ + a] =
            std::clamp(base[a] + o.user_noise * rng.Normal(), o.min_p, o.max_p);
      }
      // The drift rotates the user's probabilities by 1..K-1 arms.
      shift_[u] =
          arms_ == 1 ? 0 : 1 + static_cast<int>(rng.NextU64() % (arms_ - 1));
    }
  }

  // The success probability of `arm` for `user`, after the drift or not,
  // and that of the user's best arm.
  double P(int user, int arm, bool drifted) const {
    const int a = drifted ? (arm + shift_[user]) % arms_ : arm;
    return p_[user * arms_ + a];
  }
  double BestP(int user, bool drifted) const {
    double best = 0;
    for (int a = 0; a < arms_; ++a) best = std::max(best, P(user, a, drifted));
    return best;
  }

 private:
  int arms_;
  std::vector<double> p_;  // users x arms, before the drift
  std::vector<int> shift_;
};

struct Request {
  int64_t time_ms;
  int user;
};

// The requests of one hour, in time order (ties: by user). Drawn from the
// world's request stream only, so every policy sees the same ones.
std::vector<Request> HourRequests(const SimulationOptions& o, int hour,
                                  bandits::Rng& rng) {
  std::vector<Request> out;
  const double whole = std::floor(o.requests_per_user_hour);
  const double frac = o.requests_per_user_hour - whole;
  const int64_t start = o.start_time_ms + hour * kHourMs;
  for (int u = 0; u < o.users; ++u) {
    int n = static_cast<int>(whole) + (rng.Uniform() < frac ? 1 : 0);
    for (int i = 0; i < n; ++i) {
      out.push_back({start + static_cast<int64_t>(rng.Uniform() * kHourMs), u});
    }
  }
  std::sort(out.begin(), out.end(), [](const Request& a, const Request& b) {
    return std::tie(a.time_ms, a.user) < std::tie(b.time_ms, b.user);
  });
  return out;
}

// Events waiting for their time, in (time, sequence) order.
struct Pending {
  int64_t time_ms;
  int64_t seq;
  int32_t partition;
  std::string key;      // the user id
  std::string payload;  // the serialized ListenEvent
  bool operator>(const Pending& other) const {
    return std::tie(time_ms, seq) > std::tie(other.time_ms, other.seq);
  }
};
using PendingQueue =
    std::priority_queue<Pending, std::vector<Pending>, std::greater<>>;

// The arm the policy shows and the probability with which it shows it.
struct Choice {
  int arm = 0;
  double propensity = 1;
};

Choice Choose(const PolicySpec& policy, uint64_t seed,
              const std::string& request_id, const ModelConfig& model,
              const Population* population, const UserState* user,
              const std::vector<std::string>& arms, int64_t now_ms) {
  const int k = static_cast<int>(arms.size());
  auto index_of = [&](const std::string& arm_id) {
    return static_cast<int>(std::find(arms.begin(), arms.end(), arm_id) -
                            arms.begin());
  };
  Choice choice;
  if (policy.kind == PolicyKind::kThompson) {
    const std::vector<ArmScore> ranked =
        RankArms(model, population, user, arms, RankMethod::kThompson,
                 bandits::MixSeed(seed, request_id), now_ms);
    choice.arm = index_of(ranked[0].arm_id);
    // Monte Carlo estimate of P(this arm wins a Thompson draw).
    bandits::Rng rng(bandits::MixSeed(seed, request_id + "\x1fpropensity"));
    int wins = 0;
    for (int d = 0; d < policy.propensity_draws; ++d) {
      size_t best = 0;
      double best_score = -1;
      for (size_t i = 0; i < ranked.size(); ++i) {
        const double x = bandits::ThompsonSample(ranked[i].posterior, rng);
        if (x > best_score) {
          best_score = x;
          best = i;
        }
      }
      wins += best == 0;
    }
    choice.propensity =
        (1.0 + wins) / (1.0 + static_cast<double>(policy.propensity_draws));
    return choice;
  }
  const std::vector<ArmScore> ranked = RankArms(
      model, population, user, arms, RankMethod::kMean, /*seed=*/0, now_ms);
  const int greedy = index_of(ranked[0].arm_id);
  bandits::Rng rng(bandits::MixSeed(seed, request_id + "\x1f"
                                                       "epsilon"));
  if (rng.Uniform() < policy.epsilon) {
    choice.arm = static_cast<int>(rng.NextU64() % static_cast<uint64_t>(k));
  } else {
    choice.arm = greedy;
  }
  choice.propensity = choice.arm == greedy
                          ? 1.0 - policy.epsilon + policy.epsilon / k
                          : policy.epsilon / k;
  return choice;
}

absl::Status Validate(const SimulationOptions& o, const PolicySpec& policy) {
  if (o.users < 1 || o.arms < 1 || o.partitions < 1 || o.hours < 1 ||
      o.requests_per_user_hour < 0 || o.work_dir.empty() ||
      !(o.min_p > 0 && o.min_p <= o.max_p && o.max_p < 1) ||
      !(o.no_response_rate >= 0 && o.no_response_rate <= 1) ||
      !(policy.epsilon >= 0 && policy.epsilon <= 1) ||
      policy.propensity_draws < 0) {
    return absl::InvalidArgumentError("bad simulation options");
  }
  return o.model.Validate();
}

}  // namespace

std::string PolicyName(const PolicySpec& policy) {
  return policy.kind == PolicyKind::kThompson ? "thompson" : "epsilon-greedy";
}

double SimulationResult::MeanRegret(int from_hour, int to_hour) const {
  double regret = 0;
  int64_t requests = 0;
  for (int h = std::max(from_hour, 0);
       h < std::min<int>(to_hour, hourly_regret.size()); ++h) {
    regret += hourly_regret[h];
    requests += hourly_requests[h];
  }
  return requests > 0 ? regret / static_cast<double>(requests) : 0.0;
}

absl::StatusOr<SimulationResult> RunBanditSimulation(const SimulationOptions& o,
                                                     const PolicySpec& policy) {
  RETURN_IF_ERROR(Validate(o, policy));
  const int drift_hour = o.drift_hour >= 0 ? o.drift_hour : o.hours / 2;
  const int64_t drift_ms = o.start_time_ms + drift_hour * kHourMs;
  const World world(o);
  std::vector<std::string> arms;
  for (int a = 0; a < o.arms; ++a) arms.push_back(absl::StrCat("arm-", a));
  auto user_id = [](int u) { return absl::StrFormat("user-%06d", u); };

  // encore's real path: a processor over a RocksDB store, publishing
  // snapshots. Commits and snapshots happen when the simulation says.
  RocksStoreOptions store_options;
  // Durability is not under test here: no fsync per commit, no WAL (each
  // snapshot's checkpoint flushes the memtables first).
  store_options.sync_commits = false;
  store_options.disable_wal = true;
  store_options.block_cache_bytes = 16 << 20;
  store_options.write_buffer_bytes = 32 << 20;
  store_options.memtable_bytes = 8 << 20;
  const std::string snapshot_dir = o.work_dir + "/snapshots";
  ASSIGN_OR_RETURN(
      std::unique_ptr<StateStore> store,
      OpenRocksStateStore(o.work_dir + "/state", "events", store_options));
  FakeClock clock(o.start_time_ms);
  ASSIGN_OR_RETURN(std::unique_ptr<SnapshotPublisher> publisher,
                   SnapshotPublisher::Open({snapshot_dir, 2}, &clock));
  RecordingDeadLetterSink dead_letters;
  Metrics metrics(std::make_shared<prometheus::Registry>());
  ProcessorOptions processor_options;
  processor_options.topic = "events";
  processor_options.model = o.model;
  processor_options.commit_interval_ms = int64_t{1} << 60;
  processor_options.commit_max_events = int64_t{1} << 60;
  EngineOptions engine_options;
  engine_options.processor = processor_options;
  engine_options.snapshot_interval_ms = int64_t{1} << 60;
  Engine engine(engine_options, {{store.get(), &dead_letters}}, publisher.get(),
                &clock, &metrics);
  std::vector<int32_t> partition_ids;
  for (int32_t p = 0; p < o.partitions; ++p) partition_ids.push_back(p);
  RETURN_IF_ERROR(engine.OnAssigned(partition_ids).status());
  std::vector<int64_t> next_offset(o.partitions, 0);

  SimulationResult result;
  result.drift_hour = drift_hour;
  result.hourly_regret.assign(o.hours, 0.0);
  result.hourly_requests.assign(o.hours, 0);
  bandits::Rng request_rng(bandits::MixSeed(o.seed, "requests"));
  PendingQueue pending;
  int64_t seq = 0;
  int64_t request_count = 0;
  uint64_t last_snapshot_id = 0;

  for (int hour = 0; hour < o.hours; ++hour) {
    // The policy's view for this hour: the latest published snapshot.
    std::unique_ptr<SnapshotReader> reader;
    std::optional<Population> population;
    ModelConfig model = o.model;  // nothing published yet: plain prior
    absl::StatusOr<std::unique_ptr<SnapshotReader>> opened =
        SnapshotReader::OpenLatest(snapshot_dir);
    if (opened.ok()) {
      reader = std::move(*opened);
      ASSIGN_OR_RETURN(population, reader->ReadPopulation());
      model = reader->model();
    } else if (!absl::IsNotFound(opened.status())) {
      return opened.status();
    }

    std::map<int, std::optional<UserState>> states;
    for (const Request& r : HourRequests(o, hour, request_rng)) {
      const std::string uid = user_id(r.user);
      const std::string request_id = absl::StrCat("req-", request_count++);
      // A user's state is read once per hour: the snapshot does not change.
      auto [cached, miss] = states.try_emplace(r.user);
      if (miss && reader != nullptr) {
        ASSIGN_OR_RETURN(cached->second, reader->Lookup(uid));
      }
      const std::optional<UserState>& state = cached->second;
      const Choice choice = Choose(policy, o.seed, request_id, model,
                                   population ? &*population : nullptr,
                                   state ? &*state : nullptr, arms, r.time_ms);
      const bool drifted = r.time_ms >= drift_ms;
      const double p = world.P(r.user, choice.arm, drifted);
      const double regret = world.BestP(r.user, drifted) - p;
      result.hourly_regret[hour] += regret;
      ++result.hourly_requests[hour];
      (drifted ? result.regret_after_drift : result.regret_before_drift) +=
          regret;
      ++(drifted ? result.requests_after_drift : result.requests_before_drift);

      const int32_t partition = r.user % o.partitions;
      ListenEvent impression;
      impression.set_event_id(request_id + "/i");
      impression.set_user_id(uid);
      impression.set_event_time_ms(r.time_ms);
      impression.set_kind(ListenEvent::IMPRESSION);
      impression.set_arm_id(arms[choice.arm]);
      impression.set_request_id(request_id);
      impression.set_propensity(choice.propensity);
      pending.push(
          {r.time_ms, seq++, partition, uid, impression.SerializeAsString()});

      // The response: drawn per request, independently of the policy.
      bandits::Rng outcome(
          bandits::MixSeed(o.seed, "outcome\x1f" + request_id));
      const double u_success = outcome.Uniform();
      const double u_silent = outcome.Uniform();
      const int64_t at =
          r.time_ms + 1000 +
          static_cast<int64_t>(outcome.Uniform() * kMaxResponseDelayMs);
      const double u_played = outcome.Uniform();
      const bool success = u_success < p;
      if (!success && u_silent < o.no_response_rate) continue;
      ListenEvent response;
      response.set_event_id(request_id + "/r");
      response.set_user_id(uid);
      response.set_event_time_ms(at);
      response.set_kind(success ? ListenEvent::PLAY : ListenEvent::SKIP);
      response.set_track_id(
          absl::StrCat("track-", choice.arm, "-", request_count % 50));
      response.set_artist_id(absl::StrCat("artist-", choice.arm));
      response.set_arm_id(arms[choice.arm]);
      response.set_request_id(request_id);
      response.set_track_duration_ms(kTrackDurationMs);
      // A success listens past 30 s; a skip stops before.
      response.set_ms_played(
          success ? 30'000 + static_cast<int64_t>(u_played * 150'000)
                  : 1'000 + static_cast<int64_t>(u_played * 25'000));
      pending.push({at, seq++, partition, uid, response.SerializeAsString()});
    }
    reader.reset();

    // Everything that happened this hour goes to the processor in time
    // order; later responses wait for the next hour.
    const int64_t hour_end = o.start_time_ms + (hour + 1) * kHourMs;
    std::vector<Pending> due;
    while (!pending.empty() && pending.top().time_ms < hour_end) {
      // top() is const: copy, then pop (the strings are small).
      due.push_back(pending.top());
      pending.pop();
    }
    std::vector<Message> batch;
    for (const Pending& e : due) {
      Message m;
      m.partition = e.partition;
      m.offset = next_offset[m.partition]++;
      m.timestamp_ms = e.time_ms;
      m.key = e.key;
      m.payload = e.payload;
      batch.push_back(m);
    }
    RETURN_IF_ERROR(engine.HandleBatch(batch));
    result.events += static_cast<int64_t>(batch.size());
    clock.AdvanceMs(kHourMs);
    RETURN_IF_ERROR(engine.Commit());
    RETURN_IF_ERROR(engine.PublishSnapshot());
    absl::StatusOr<SnapshotManifest> manifest =
        ReadLatestManifest(snapshot_dir);
    if (manifest.ok() && manifest->snapshot_id() != last_snapshot_id) {
      last_snapshot_id = manifest->snapshot_id();
      ++result.snapshots;
    }
  }
  result.dead_letters = static_cast<int64_t>(dead_letters.records().size());

  // How the responses were attributed, from the last snapshot.
  ASSIGN_OR_RETURN(std::unique_ptr<SnapshotReader> last,
                   SnapshotReader::OpenLatest(snapshot_dir));
  for (int u = 0; u < o.users; ++u) {
    ASSIGN_OR_RETURN(std::optional<UserState> state, last->Lookup(user_id(u)));
    if (!state) continue;
    result.rewards_attributed += state->rewards_attributed();
    result.rewards_unattributed += state->rewards_unattributed();
    result.impressions_expired += state->impressions_expired();
  }
  return result;
}

}  // namespace encore::testing
