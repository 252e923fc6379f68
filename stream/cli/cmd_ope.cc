// encore ope: off-policy evaluation of a target policy over a time range of
// the logged topic. The range is planned as `encore backfill` plans it
// (stream/backfill.h) and replayed in memory (state/log_replay.h): no state
// directory is touched. Estimators: bandits/policy_value.h.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <unordered_map>

#include "absl/strings/str_format.h"
#include "bandits/policy_value.h"
#include "nlohmann/json.hpp"
#include "state/log_replay.h"
#include "state/scoring.h"
#include "state/snapshot_reader.h"
#include "state/target_policy.h"
#include "stream/backfill.h"
#include "stream/cli/common.h"
#include "stream/kafka_source.h"
#include "stream/validation.h"

ABSL_FLAG(std::string, policy, "",
          "Target policy: uniform, greedy, thompson (these two need "
          "--snapshot-dir) or a JSON policy file (state/MODEL.md).");
ABSL_FLAG(int, thompson_draws, 1000,
          "Seeded draws per row estimating Thompson sampling's action "
          "probabilities (seed: --seed).");
ABSL_DECLARE_FLAG(std::string, from_time);
ABSL_DECLARE_FLAG(bool, from_beginning);
ABSL_DECLARE_FLAG(std::string, to_time);

namespace encore::cli {
namespace {

// Posteriors of the latest snapshot, users cached.
class SnapshotPosteriors final : public PosteriorSource {
 public:
  SnapshotPosteriors(SnapshotReader* reader, Population population)
      : reader_(reader), population_(std::move(population)) {}
  absl::StatusOr<bandits::BetaPosterior> Posterior(
      const std::string& user_id, const std::string& arm_id) override {
    auto it = users_.find(user_id);
    if (it == users_.end()) {
      absl::StatusOr<std::optional<UserState>> u = reader_->Lookup(user_id);
      if (!u.ok()) return u.status();
      it = users_.emplace(user_id, std::move(*u)).first;
    }
    const UserState* u = it->second ? &*it->second : nullptr;
    const int64_t as_of = std::max(reader_->manifest().watermark_ms(),
                                   u ? u->last_seen_ms() : int64_t{0});
    return ArmPosterior(reader_->model(), &population_, u, arm_id, as_of);
  }

 private:
  SnapshotReader* const reader_;
  const Population population_;
  std::unordered_map<std::string, std::optional<UserState>> users_;
};

// Assign mode never calls the listener.
class NoListener final : public PartitionListener {
 public:
  absl::StatusOr<std::map<int32_t, int64_t>> OnAssigned(
      const std::vector<int32_t>&) override {
    return std::map<int32_t, int64_t>{};
  }
  absl::Status OnRevoked(const std::vector<int32_t>&) override {
    return absl::OkStatus();
  }
};

nlohmann::json EstimateJson(const bandits::OffPolicyEstimate& e) {
  return {{"value", e.value},
          {"std_error", e.std_error},
          {"low", e.low},
          {"high", e.high},
          {"n", e.n}};
}

}  // namespace

int OpeCommand(const std::vector<char*>& args) {
  const std::string cmd = "ope";
  if (args.size() > 1)
    return UsageError(cmd, absl::StrCat("unexpected argument '", args[1], "'"));
  absl::StatusOr<KafkaClientConfig> client = ClientConfigFromFlags();
  if (!client.ok())
    return UsageError(cmd, std::string(client.status().message()));
  const std::string topic = absl::GetFlag(FLAGS_topic);
  if (topic.empty()) return UsageError(cmd, "--topic is required");
  const std::string policy_name = absl::GetFlag(FLAGS_policy);
  if (policy_name.empty()) return UsageError(cmd, "--policy is required");
  const bool from_beginning = absl::GetFlag(FLAGS_from_beginning);
  const std::string from_time = absl::GetFlag(FLAGS_from_time);
  if (from_beginning == !from_time.empty()) {
    return UsageError(
        cmd, "exactly one of --from-time and --from-beginning is required");
  }
  int64_t from_ms = -1, to_ms = -1;
  if (!from_time.empty()) {
    absl::StatusOr<int64_t> t = ParseTimeMs(from_time);
    if (!t.ok())
      return UsageError(cmd,
                        absl::StrCat("--from-time: ", t.status().message()));
    from_ms = *t;
  }
  if (!absl::GetFlag(FLAGS_to_time).empty()) {
    absl::StatusOr<int64_t> t = ParseTimeMs(absl::GetFlag(FLAGS_to_time));
    if (!t.ok())
      return UsageError(cmd, absl::StrCat("--to-time: ", t.status().message()));
    to_ms = *t;
  }
  const int draws = absl::GetFlag(FLAGS_thompson_draws);
  if (draws < 1) return UsageError(cmd, "--thompson-draws must be >= 1");
  const std::string snapshot_dir = absl::GetFlag(FLAGS_snapshot_dir);
  const bool needs_snapshot =
      policy_name == "greedy" || policy_name == "thompson";
  if (needs_snapshot && snapshot_dir.empty()) {
    return UsageError(cmd, "--policy " + policy_name +
                               " needs --snapshot-dir (its posteriors)");
  }

  // The snapshot: posteriors of greedy / Thompson and DR's reward model,
  // and the model parameters the log was processed with.
  std::unique_ptr<SnapshotReader> reader;
  std::unique_ptr<SnapshotPosteriors> posteriors;
  ModelConfig model;
  if (!snapshot_dir.empty()) {
    absl::StatusOr<std::unique_ptr<SnapshotReader>> opened =
        SnapshotReader::OpenLatest(snapshot_dir);
    if (!opened.ok()) return Failure(cmd, opened.status());
    reader = std::move(*opened);
    absl::StatusOr<Population> population = reader->ReadPopulation();
    if (!population.ok()) return Failure(cmd, population.status());
    model = reader->model();
    posteriors = std::make_unique<SnapshotPosteriors>(reader.get(),
                                                      std::move(*population));
  }
  std::unique_ptr<TargetPolicy> policy;
  if (policy_name == "uniform") {
    policy = UniformPolicy();
  } else if (policy_name == "greedy") {
    policy = GreedyPolicy(posteriors.get());
  } else if (policy_name == "thompson") {
    policy = ThompsonPolicy(posteriors.get(), draws, absl::GetFlag(FLAGS_seed));
  } else {
    std::ifstream file(policy_name);
    if (!file) {
      return UsageError(cmd,
                        "--policy: not uniform, greedy, thompson or a "
                        "readable file: " +
                            policy_name);
    }
    std::stringstream text;
    text << file.rdbuf();
    absl::StatusOr<std::unique_ptr<TargetPolicy>> parsed =
        ParsePolicyFile(text.str());
    if (!parsed.ok())
      return UsageError(cmd, absl::StrCat("--policy ", policy_name, ": ",
                                          parsed.status().message()));
    policy = std::move(*parsed);
  }

  // Plan the range as a backfill does, then read it in assign mode.
  absl::StatusOr<KafkaHandle> admin = NewAdminClient(*client);
  if (!admin.ok()) return Failure(cmd, admin.status());
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count();
  absl::StatusOr<BackfillPlan> plan =
      PlanBackfill(admin->get(), topic, from_ms, to_ms, now_ms, 15000);
  if (!plan.ok()) return Failure(cmd, plan.status());
  admin->reset();
  KafkaSourceOptions source_options;
  source_options.client = *client;
  source_options.topic = topic;
  source_options.group = "encore-ope";  // never joined: assign mode
  source_options.statistics_interval_ms = 0;
  std::set<int32_t> open;
  for (const auto& [p, start] : plan->start) {
    if (plan->end.at(p) > start) {
      source_options.assignment[p] = start;
      open.insert(p);
    }
  }
  LogReplay replay(model);
  std::vector<LoggedRow> rows;
  uint64_t events = 0, rejected = 0;
  std::map<int32_t, int64_t> watermark;
  if (!open.empty()) {
    NoListener listener;
    absl::StatusOr<std::unique_ptr<MessageSource>> source =
        NewKafkaSource(source_options, &listener);
    if (!source.ok()) return Failure(cmd, source.status());
    std::vector<Message> batch;
    ListenEvent event;
    const ValidationLimits limits;
    while (!open.empty()) {
      absl::Status s = (*source)->Poll(10000, 200, &batch);
      if (!s.ok()) return Failure(cmd, s);
      for (const Message& m : batch) {
        if (open.count(m.partition) == 0) continue;
        const int64_t end = plan->end.at(m.partition);
        if (m.partition_eof || m.offset >= end) {
          open.erase(m.partition);  // the plan's end or the log's
          continue;
        }
        ++events;
        Verdict v =
            DecodeAndValidate(m.payload, m.key, m.timestamp_ms, limits, &event);
        int64_t& w = watermark[m.partition];
        if (v.ok() && w > 0 && event.event_time_ms() < w - model.lateness_ms) {
          v.reason = RejectReason::kLate;
        }
        if (!v.ok()) {
          ++rejected;
        } else {
          w = std::max(w, event.event_time_ms());
          replay.Apply(m.partition, event);
        }
        if (m.offset + 1 >= end) open.erase(m.partition);
      }
      for (LoggedRow& r : replay.TakeRows()) rows.push_back(std::move(r));
    }
    (*source)->Close().IgnoreError();
  }

  // The candidate arms: every arm of a logged impression in the range.
  std::set<std::string> arm_set;
  for (const LoggedRow& r : rows) arm_set.insert(r.arm_id);
  const std::vector<std::string> arms(arm_set.begin(), arm_set.end());
  bandits::PolicyValueSums sums;
  double logged_sum = 0;
  for (const LoggedRow& r : rows) {
    absl::StatusOr<std::vector<ArmProbability>> pi =
        policy->Probabilities(r, arms);
    if (!pi.ok()) return Failure(cmd, pi.status());
    bandits::LoggedRowValue v;
    v.propensity = r.propensity;
    v.reward = r.reward;
    for (const auto& [arm, p] : *pi) {
      if (arm == r.arm_id) v.target_prob = p;
      if (posteriors != nullptr) {
        absl::StatusOr<bandits::BetaPosterior> b =
            posteriors->Posterior(r.user_id, arm);
        if (!b.ok()) return Failure(cmd, b.status());
        v.q_target += p * bandits::Mean(*b);
      }
    }
    if (posteriors != nullptr) {
      absl::StatusOr<bandits::BetaPosterior> b =
          posteriors->Posterior(r.user_id, r.arm_id);
      if (!b.ok()) return Failure(cmd, b.status());
      v.q_logged = bandits::Mean(*b);
    }
    sums.Add(v);
    logged_sum += r.reward;
  }
  const bandits::PolicyValue value = bandits::EstimatePolicyValue(sums);
  const bool has_dr = posteriors != nullptr;
  const double logged_value =
      rows.empty() ? 0.0 : logged_sum / static_cast<double>(rows.size());

  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::json out;
    out["topic"] = topic;
    out["policy"] = policy->Describe();
    out["events"] = events;
    out["rejected"] = rejected;
    out["rows"] = rows.size();
    out["in_flight"] = replay.in_flight();
    out["arms"] = arms;
    out["logged_value"] = logged_value;
    out["matched"] = sums.matched;
    out["ips"] = EstimateJson(value.ips);
    out["snips"] = EstimateJson(value.snips);
    if (has_dr) out["dr"] = EstimateJson(value.dr);
    if (reader != nullptr) {
      out["snapshot_id"] = reader->manifest().snapshot_id();
    }
    if (policy_name == "thompson") out["thompson_draws"] = draws;
    std::cout << out.dump() << "\n";
    return 0;
  }
  std::cout << absl::StrFormat(
      "encore ope of %s: %s\n  %d events (%d rejected), %d logged "
      "impressions with a final outcome over %d arms, %d still in flight "
      "(not counted); logged policy value %.4f\n",
      topic, policy->Describe(), events, rejected, rows.size(), arms.size(),
      replay.in_flight(), logged_value);
  auto line = [](const char* name, const bandits::OffPolicyEstimate& e) {
    std::cout << absl::StrFormat(
        "  %-6s %.4f  95 %% interval [%.4f, %.4f]  (std error %.4f)\n", name,
        e.value, e.low, e.high, e.std_error);
  };
  line("IPS", value.ips);
  line("SNIPS", value.snips);
  if (has_dr) {
    line("DR", value.dr);
  } else {
    std::cout << "  DR     not computed: it needs --snapshot-dir (reward "
                 "model)\n";
  }
  return 0;
}

}  // namespace encore::cli
