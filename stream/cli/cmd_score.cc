// encore score: rank candidate arms for a user from the latest snapshot.
#include <iostream>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "state/scoring.h"
#include "state/snapshot_reader.h"
#include "stream/cli/common.h"

ABSL_FLAG(std::string, arms, "", "Candidate arms, comma-separated.");
ABSL_FLAG(std::string, method, "thompson",
          "thompson | ucb | mean | nig-thompson | lints | linucb");

namespace encore::cli {

int ScoreCommand(const std::vector<char*>& args) {
  const std::string cmd = "score";
  if (args.size() > 1)
    return UsageError(cmd, absl::StrCat("unexpected argument '", args[1], "'"));
  const std::string dir = absl::GetFlag(FLAGS_snapshot_dir);
  const std::string user = absl::GetFlag(FLAGS_user);
  if (dir.empty()) return UsageError(cmd, "--snapshot-dir is required");
  if (user.empty()) return UsageError(cmd, "--user is required");
  std::vector<std::string> arms =
      absl::StrSplit(absl::GetFlag(FLAGS_arms), ',', absl::SkipEmpty());
  if (arms.empty()) return UsageError(cmd, "--arms is required");
  absl::StatusOr<RankMethod> method =
      ParseRankMethod(absl::GetFlag(FLAGS_method));
  if (!method.ok())
    return UsageError(cmd,
                      "--method: " + std::string(method.status().message()));

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
  const UserState* u = state->has_value() ? &**state : nullptr;
  const int64_t as_of = std::max((*reader)->manifest().watermark_ms(),
                                 u ? u->last_seen_ms() : int64_t{0});
  absl::StatusOr<Population> population = (*reader)->ReadPopulation();
  if (!population.ok()) return Failure(cmd, population.status());
  std::vector<ArmScore> ranked =
      RankArms((*reader)->model(), &*population, u, arms, *method,
               absl::GetFlag(FLAGS_seed), as_of);

  if (absl::GetFlag(FLAGS_json)) {
    nlohmann::json out;
    out["user_id"] = user;
    out["known_user"] = u != nullptr;
    out["method"] = std::string(RankMethodName(*method));
    out["as_of_ms"] = as_of;
    out["snapshot_id"] = (*reader)->manifest().snapshot_id();
    for (const ArmScore& s : ranked) {
      out["arms"].push_back({{"arm_id", s.arm_id},
                             {"score", s.score},
                             {"alpha", s.posterior.alpha},
                             {"beta", s.posterior.beta},
                             {"mean", bandits::Mean(s.posterior)},
                             {"prior_alpha", s.prior.alpha},
                             {"prior_beta", s.prior.beta},
                             {"completion_mean", s.completion_mean},
                             {"linear_mean", s.linear_mean},
                             {"linear_width", s.linear_width},
                             {"rewards", s.updates}});
    }
    std::cout << out.dump() << "\n";
    return 0;
  }
  std::cout << absl::StrFormat("user %s%s, method %s, snapshot %d\n", user,
                               u ? "" : " (unknown: population prior)",
                               RankMethodName(*method),
                               (*reader)->manifest().snapshot_id());
  int rank = 1;
  for (const ArmScore& s : ranked) {
    std::cout << absl::StrFormat(
        "  %2d. %-16s score %.4f  Beta(%.2f, %.2f)  mean %.3f  rewards %d\n",
        rank++, s.arm_id, s.score, s.posterior.alpha, s.posterior.beta,
        bandits::Mean(s.posterior), s.updates);
  }
  return 0;
}

}  // namespace encore::cli
