// Coverage of the 95 % intervals of encore's off-policy estimators
// (bandits/policy_value.h: IPS, SNIPS, DR; the snapshot's uniform and
// greedy estimates are the same IPS/SNIPS with a constant target
// probability) over many seeded logs of a world whose true policy values
// are known. Results: bench/results/ope-coverage.md.
//
// World: 5 arms with success rates mu = (0.05, 0.10, 0.20, 0.30, 0.15).
// Logging: each row an epsilon-greedy policy around a random favourite arm,
// epsilon drawn in [0.2, 1] per row, so propensities vary from 0.04 to 0.84
// and are logged exactly. Targets: uniform, "always arm 3" (the best,
// deterministic), and a stochastic pi = (0.1, 0.1, 0.2, 0.4, 0.2). The DR
// reward model is a Beta(1, 1) posterior mean per arm from an independent
// pilot of 100 uniformly logged rows (deliberately imperfect).
//
// usage: ope_coverage [--seeds 400] [--rows 50,200,2000]
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "bandits/policy_value.h"
#include "bandits/rng.h"

ABSL_FLAG(int, seeds, 400, "Logs per configuration.");
ABSL_FLAG(std::string, rows, "50,200,2000", "Rows per log, comma-separated.");

namespace {

constexpr int kArms = 5;
constexpr double kMu[kArms] = {0.05, 0.10, 0.20, 0.30, 0.15};

struct Target {
  const char* name;
  double pi[kArms];
};
const Target kTargets[] = {
    {"uniform", {0.2, 0.2, 0.2, 0.2, 0.2}},
    {"always arm 3", {0, 0, 0, 1, 0}},
    {"stochastic", {0.1, 0.1, 0.2, 0.4, 0.2}},
};

struct Tally {
  int covered[3] = {0, 0, 0};
  double width[3] = {0, 0, 0};
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int seeds = absl::GetFlag(FLAGS_seeds);
  std::vector<int> sizes;
  for (absl::string_view s :
       absl::StrSplit(absl::GetFlag(FLAGS_rows), ',', absl::SkipEmpty())) {
    int n = 0;
    if (absl::SimpleAtoi(s, &n) && n > 0) sizes.push_back(n);
  }
  std::printf(
      "| rows | target | true value | IPS coverage | SNIPS coverage "
      "| DR coverage | mean widths IPS / SNIPS / DR |\n");
  std::printf("|---:|---|---:|---:|---:|---:|---|\n");
  for (int n : sizes) {
    for (const Target& target : kTargets) {
      double truth = 0;
      for (int a = 0; a < kArms; ++a) truth += target.pi[a] * kMu[a];
      Tally tally;
      for (int seed = 1; seed <= seeds; ++seed) {
        encore::bandits::Rng rng(encore::bandits::MixSeed(
            static_cast<uint64_t>(seed), "ope-coverage-" + std::to_string(n)));
        // The reward model from an independent pilot.
        double q[kArms];
        int pilot_n[kArms] = {}, pilot_s[kArms] = {};
        for (int i = 0; i < 100; ++i) {
          const int a = static_cast<int>(rng.Uniform() * kArms) % kArms;
          ++pilot_n[a];
          pilot_s[a] += rng.Uniform() < kMu[a];
        }
        for (int a = 0; a < kArms; ++a) {
          q[a] = (1.0 + pilot_s[a]) / (2.0 + pilot_n[a]);
        }
        double q_target = 0;
        for (int a = 0; a < kArms; ++a) q_target += target.pi[a] * q[a];
        encore::bandits::PolicyValueSums sums;
        for (int i = 0; i < n; ++i) {
          const int favourite = static_cast<int>(rng.Uniform() * kArms) % kArms;
          const double eps = 0.2 + 0.8 * rng.Uniform();
          double p[kArms];
          for (int a = 0; a < kArms; ++a) {
            p[a] = eps / kArms + (a == favourite ? 1.0 - eps : 0.0);
          }
          double u = rng.Uniform();
          int a = 0;
          while (a < kArms - 1 && u >= p[a]) u -= p[a++];
          const double r = rng.Uniform() < kMu[a] ? 1.0 : 0.0;
          sums.Add({p[a], r, target.pi[a], q[a], q_target});
        }
        const encore::bandits::PolicyValue v =
            encore::bandits::EstimatePolicyValue(sums);
        const encore::bandits::OffPolicyEstimate* e[3] = {&v.ips, &v.snips,
                                                          &v.dr};
        for (int k = 0; k < 3; ++k) {
          tally.covered[k] += e[k]->low <= truth && truth <= e[k]->high;
          tally.width[k] += e[k]->high - e[k]->low;
        }
      }
      std::printf(
          "| %d | %s | %.4f | %.1f %% | %.1f %% | %.1f %% | %.3f / %.3f / "
          "%.3f |\n",
          n, target.name, truth, 100.0 * tally.covered[0] / seeds,
          100.0 * tally.covered[1] / seeds, 100.0 * tally.covered[2] / seeds,
          tally.width[0] / seeds, tally.width[1] / seeds,
          tally.width[2] / seeds);
    }
  }
  return 0;
}
