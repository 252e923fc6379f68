// encore score: rank candidate arms for a user from the latest snapshot.
#include <algorithm>
#include <iostream>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "state/population.h"
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
  std::vector<std::string> arms;
  for (absl::string_view arm :
       absl::StrSplit(absl::GetFlag(FLAGS_arms), ',', absl::SkipEmpty())) {
    if (std::find(arms.begin(), arms.end(), arm) != arms.end()) {
      std::cerr << "encore " << cmd << ": warning: arm " << arm
                << " is listed twice in --arms (ranked once)\n";
      continue;
    }
    arms.emplace_back(arm);
  }
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
  // An arm nobody has evidence for (often a misspelt one) gets the prior,
  // which may rank it first: say so.
  for (const std::string& arm : arms) {
    const bool user_has =
        u != nullptr &&
        std::any_of(u->arms().begin(), u->arms().end(),
                    [&arm](const ArmEvidence& a) { return a.arm_id() == arm; });
    if (!user_has && FindPopulationArm(*population, arm) == nullptr) {
      std::cerr << "encore " << cmd << ": warning: arm " << arm
                << " has no evidence in this snapshot (misspelt?): it is "
                   "scored from the prior alone\n";
    }
  }
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
    // Beside the score, the posterior it was computed from.
    std::string basis;
    if (*method == RankMethod::kLinTs || *method == RankMethod::kLinUcb) {
      basis = absl::StrFormat("linear mean %.3f  width %.3f", s.linear_mean,
                              s.linear_width);
    } else if (*method == RankMethod::kNigThompson) {
      basis = absl::StrFormat("completion mean %.3f", s.completion_mean);
    } else {
      basis = absl::StrFormat("Beta(%.2f, %.2f)  mean %.3f", s.posterior.alpha,
                              s.posterior.beta, bandits::Mean(s.posterior));
    }
    std::cout << absl::StrFormat("  %2d. %-16s score %.4f  %s  rewards %d\n",
                                 rank++, s.arm_id, s.score, basis, s.updates);
  }
  return 0;
}

}  // namespace encore::cli
