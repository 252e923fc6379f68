// encore read: a user's state from the latest snapshot.
#include <iostream>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "state/scoring.h"
#include "state/sketches.h"
#include "state/snapshot_reader.h"
#include "stream/cli/common.h"

namespace encore::cli {
namespace {

std::string FormatTime(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms),
                          absl::UTCTimeZone());
}

std::string FormatHalfLife(int64_t ms) {
  if (ms % kDayMs == 0) return absl::StrFormat("%dd", ms / kDayMs);
  if (ms % kHourMs == 0) return absl::StrFormat("%dh", ms / kHourMs);
  return absl::StrFormat("%dms", ms);
}

void PrintFeatures(const ModelConfig& model, const UserState& u,
                   int64_t as_of) {
  const UserFeatures& f = u.features();
  const double mean = f.completion_weight() > 0
                          ? f.completion_sum() / f.completion_weight()
                          : 0;
  const double var =
      f.completion_weight() > 0
          ? std::max(0.0, f.completion_sum_sq() / f.completion_weight() -
                              mean * mean)
          : 0;
  const Context x = UserContext(model, u, as_of);
  std::cout << absl::StrFormat(
      "  features (half-life %s): completion mean %.3f var %.3f; skip rate "
      "first %ds %.3f, later %.3f\n",
      FormatHalfLife(model.feature_half_life_ms), mean, var,
      model.early_skip_ms / 1000, x[2], x[3]);
  int peak_hour = 0, peak_day = 0;
  for (int h = 0; h < f.hour_of_day_size(); ++h) {
    if (f.hour_of_day(h) > f.hour_of_day(peak_hour)) peak_hour = h;
  }
  for (int d = 0; d < f.day_of_week_size(); ++d) {
    if (f.day_of_week(d) > f.day_of_week(peak_day)) peak_day = d;
  }
  static constexpr const char* kDays[] = {"Mon", "Tue", "Wed", "Thu",
                                          "Fri", "Sat", "Sun"};
  // Exact until the set outgrows distinct_exact_max, then HyperLogLog.
  const bool exact = u.distinct_artists().registers().empty();
  std::cout << absl::StrFormat(
      "  most active: %02d:00 local, %s; distinct artists %s%.0f\n", peak_hour,
      kDays[peak_day], exact ? "" : "~",
      DistinctEstimate(u.distinct_artists(),
                       static_cast<int>(model.hll_precision)));
  const Sessions& ses = u.sessions();
  const double mean_session =
      ses.completed_weight() > 0
          ? ses.completed_length_ms() / ses.completed_weight() / 60000.0
          : 0;
  std::cout << absl::StrFormat(
      "  sessions: %d; current %s – %s (%d plays, %d skips); %s\n", ses.count(),
      FormatTime(ses.start_ms()), FormatTime(ses.last_ms()), ses.plays(),
      ses.skips(),
      ses.completed_weight() > 0
          ? absl::StrFormat("mean completed length %.1f min", mean_session)
          : std::string("none completed yet"));
  std::cout << "  top artists (decayed minutes, ± max error; * = certainly "
               "in the top "
            << model.top_artists << "):";
  const std::vector<HeavyHitter> top = SpaceSavingTop(
      u.top_artists(), model.top_artists, as_of, model.feature_half_life_ms);
  const std::vector<bool> certain =
      SpaceSavingCertain(u.top_artists(), model.top_artists);
  for (size_t i = 0; i < top.size(); ++i) {
    const HeavyHitter& h = top[i];
    std::cout << absl::StrFormat(" %s%s %.1f±%.1f", certain[i] ? "*" : "",
                                 h.id(), h.weight() / 60000.0,
                                 h.error() / 60000.0);
  }
  std::cout << "\n  recently played:";
  for (int i = 0; i < u.recent_plays_size() && i < 5; ++i) {
    std::cout << " " << u.recent_plays(i).track_id();
  }
  std::cout << (u.recent_plays_size() > 5 ? " ...\n" : "\n");
}

void PrintText(const SnapshotReader& reader, const Population* population,
               const UserState& u) {
  const ModelConfig model = reader.model();
  const int64_t as_of =
      std::max(reader.manifest().watermark_ms(), u.last_seen_ms());
  std::cout << absl::StrFormat("user %s  (snapshot %d, values as of %s)\n",
                               u.user_id(), reader.manifest().snapshot_id(),
                               FormatTime(as_of));
  std::cout << absl::StrFormat(
      "  first seen %s, last seen %s\n  events %d: plays %d, skips %d, "
      "impressions %d\n",
      FormatTime(u.first_seen_ms()), FormatTime(u.last_seen_ms()), u.events(),
      u.plays(), u.skips(), u.impressions());
  const DecayedCounters& c = u.counters();
  std::cout << "  decayed    half-life    plays    skips  skip-rate  minutes\n";
  for (int i = 0; i < u.half_lives_ms_size() && i < c.plays_size(); ++i) {
    const int64_t h = u.half_lives_ms(i);
    const double plays = DecayedValueAt(c.plays(i), c.ref_time_ms(), as_of, h);
    const double skips = DecayedValueAt(c.skips(i), c.ref_time_ms(), as_of, h);
    const double ms = DecayedValueAt(c.ms_played(i), c.ref_time_ms(), as_of, h);
    const double rate = plays + skips > 0 ? skips / (plays + skips) : 0.0;
    std::cout << absl::StrFormat("  %20s %8.2f %8.2f %10.3f %8.1f\n",
                                 FormatHalfLife(h), plays, skips, rate,
                                 ms / 60000.0);
  }
  PrintFeatures(model, u, as_of);
  std::cout << "  arms (Beta posteriors with the population prior, NIG "
               "completion mean):\n";
  for (const ArmEvidence& a : u.arms()) {
    bandits::BetaPosterior p =
        ArmPosterior(model, population, &u, a.arm_id(), as_of);
    std::cout << absl::StrFormat(
        "    %-16s alpha %8.3f  beta %8.3f  mean %.3f  completion %.3f  "
        "rewards %d\n",
        a.arm_id(), p.alpha, p.beta, bandits::Mean(p),
        ArmCompletionPosterior(model, &u, a.arm_id(), as_of).mu, a.updates());
  }
  std::cout << "  top arms by engagement (decayed successes):";
  for (const auto& [arm, engagement] :
       TopArmsByEngagement(model, u, 5, as_of)) {
    std::cout << absl::StrFormat(" %s %.2f", arm, engagement);
  }
  std::cout << "\n";
  std::cout << absl::StrFormat(
      "  rewards: %d attributed, %d without impression; impressions: %d "
      "pending, %d expired, %d dropped; %d duplicate events ignored\n",
      u.rewards_attributed(), u.rewards_unattributed(), u.pending_size(),
      u.impressions_expired(), u.impressions_dropped(), u.duplicates());
}

}  // namespace

int ReadCommand(const std::vector<char*>& args) {
  const std::string cmd = "read";
  if (args.size() > 1)
    return UsageError(cmd, absl::StrCat("unexpected argument '", args[1], "'"));
  const std::string dir = absl::GetFlag(FLAGS_snapshot_dir);
  const std::string user = absl::GetFlag(FLAGS_user);
  if (dir.empty()) return UsageError(cmd, "--snapshot-dir is required");
  if (user.empty()) return UsageError(cmd, "--user is required");
  absl::StatusOr<std::unique_ptr<SnapshotReader>> reader =
      SnapshotReader::OpenLatest(
          dir, {.verify_content = absl::GetFlag(FLAGS_verify)});
  if (!reader.ok()) return Failure(cmd, reader.status());
  if (!(*reader)->fallback_reason().empty()) {
    std::cerr << "encore " << cmd
              << ": warning: " << (*reader)->fallback_reason() << "\n";
  }
  absl::StatusOr<std::optional<UserState>> state = (*reader)->Lookup(user);
  if (!state.ok()) return Failure(cmd, state.status());
  if (!state->has_value()) {
    return Failure(cmd, absl::NotFoundError("user " + user +
                                            " is not in the latest snapshot"));
  }
  if (absl::GetFlag(FLAGS_json)) {
    std::string json;
    // Field names as in the .proto (snake_case), as in manifest.json and
    // `score --json`.
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;
    (void)google::protobuf::util::MessageToJsonString(**state, &json, options);
    std::cout << json << "\n";
  } else {
    absl::StatusOr<Population> population = (*reader)->ReadPopulation();
    if (!population.ok()) return Failure(cmd, population.status());
    PrintText(**reader, &*population, **state);
  }
  return 0;
}

}  // namespace encore::cli
