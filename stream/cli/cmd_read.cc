// encore read: a user's state from the latest snapshot.
#include <iostream>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"
#include "state/scoring.h"
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

void PrintText(const SnapshotReader& reader, const UserState& u) {
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
  std::cout << absl::StrFormat(
      "  arms (Beta posteriors, prior Beta(%g, %g)):\n", model.prior_alpha,
      model.prior_beta);
  for (const ArmEvidence& a : u.arms()) {
    bandits::BetaPosterior p = ArmPosterior(model, &u, a.arm_id(), as_of);
    std::cout << absl::StrFormat(
        "    %-16s alpha %8.3f  beta %8.3f  mean %.3f  rewards %d\n",
        a.arm_id(), p.alpha, p.beta, bandits::Mean(p), a.updates());
  }
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
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_primitive_fields = true;
    (void)google::protobuf::util::MessageToJsonString(**state, &json, options);
    std::cout << json << "\n";
  } else {
    PrintText(**reader, **state);
  }
  return 0;
}

}  // namespace encore::cli
