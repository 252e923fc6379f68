// regret_sim: the bandit simulation of tests/testing/bandit_simulation.h at
// a large size. Runs Thompson sampling, epsilon-greedy and Thompson without
// forgetting over the same seeded worlds and prints a markdown table of
// their regret before and after the preference drift.
//
//   regret_sim --users=1000 --hours=96 --rate=8 --half_life_hours=24
//              --seeds=1,2,3 --threads=2
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "tests/testing/bandit_simulation.h"

ABSL_FLAG(int, users, 1000, "simulated users");
ABSL_FLAG(int, arms, 5, "arms (candidates per request)");
ABSL_FLAG(int, partitions, 4, "input partitions");
ABSL_FLAG(int, hours, 96, "simulated hours; the drift is at half");
ABSL_FLAG(double, rate, 8, "requests per user per hour");
ABSL_FLAG(double, half_life_hours, 24,
          "arm_half_life_ms of the runs with forgetting, in hours");
ABSL_FLAG(double, base_low, 0.1, "lowest per-arm base success probability");
ABSL_FLAG(double, base_high, 0.5, "highest per-arm base success probability");
ABSL_FLAG(double, user_noise, 0.25, "per-user noise (sd) around the bases");
ABSL_FLAG(double, epsilon, 0.1, "epsilon of epsilon-greedy");
ABSL_FLAG(std::vector<std::string>, seeds,
          (std::vector<std::string>{"1", "2", "3"}), "world seeds");
ABSL_FLAG(bool, greedy_without_forgetting, false,
          "also run epsilon-greedy without forgetting");
ABSL_FLAG(int, threads, 1, "runs in parallel");
ABSL_FLAG(std::string, work_dir, "",
          "scratch directory (default: a new one under /dev/shm or /tmp, "
          "removed at the end)");

namespace {

using encore::kHourMs;
using encore::testing::PolicyKind;
using encore::testing::PolicySpec;
using encore::testing::RunBanditSimulation;
using encore::testing::SimulationOptions;
using encore::testing::SimulationResult;

struct Variant {
  std::string name;
  PolicySpec policy;
  int64_t half_life_ms;
};

struct Cell {
  SimulationResult result;
  double seconds = 0;
  std::string error;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  const int64_t half_life = static_cast<int64_t>(
      absl::GetFlag(FLAGS_half_life_hours) * static_cast<double>(kHourMs));
  const double epsilon = absl::GetFlag(FLAGS_epsilon);
  std::vector<Variant> variants = {
      {"thompson", {.kind = PolicyKind::kThompson}, half_life},
      {absl::StrFormat("epsilon-greedy (eps=%g)", epsilon),
       {.kind = PolicyKind::kEpsilonGreedy, .epsilon = epsilon},
       half_life},
      {"thompson, no forgetting", {.kind = PolicyKind::kThompson}, 0},
  };
  if (absl::GetFlag(FLAGS_greedy_without_forgetting)) {
    variants.push_back(
        {absl::StrFormat("epsilon-greedy (eps=%g), no forgetting", epsilon),
         {.kind = PolicyKind::kEpsilonGreedy, .epsilon = epsilon},
         0});
  }
  std::vector<uint64_t> seeds;
  for (const std::string& s : absl::GetFlag(FLAGS_seeds))
    seeds.push_back(std::stoull(s));

  std::string work = absl::GetFlag(FLAGS_work_dir);
  const bool own_work = work.empty();
  if (own_work) {
    // Memory-backed if possible: every hourly snapshot fsyncs, and the
    // disk is not what is measured.
    std::string pattern =
        std::string(access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm"
                                                         : "/tmp") +
        "/regret-sim-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::fprintf(stderr, "mkdtemp failed\n");
      return 1;
    }
    work = pattern;
  }

  // One cell per (variant, seed), run by a small pool of threads.
  std::vector<Cell> cells(variants.size() * seeds.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < cells.size(); i = next++) {
      const Variant& v = variants[i / seeds.size()];
      SimulationOptions o;
      o.seed = seeds[i % seeds.size()];
      o.users = absl::GetFlag(FLAGS_users);
      o.arms = absl::GetFlag(FLAGS_arms);
      o.partitions = absl::GetFlag(FLAGS_partitions);
      o.hours = absl::GetFlag(FLAGS_hours);
      o.requests_per_user_hour = absl::GetFlag(FLAGS_rate);
      o.base_low = absl::GetFlag(FLAGS_base_low);
      o.base_high = absl::GetFlag(FLAGS_base_high);
      o.user_noise = absl::GetFlag(FLAGS_user_noise);
      o.model.arm_half_life_ms = v.half_life_ms;
      o.work_dir = absl::StrFormat("%s/run-%d", work, i);
      const auto start = std::chrono::steady_clock::now();
      absl::StatusOr<SimulationResult> r = RunBanditSimulation(o, v.policy);
      cells[i].seconds = std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - start)
                             .count();
      if (r.ok()) {
        cells[i].result = *std::move(r);
      } else {
        cells[i].error = r.status().ToString();
      }
      std::error_code ec;
      std::filesystem::remove_all(o.work_dir, ec);
      std::fprintf(stderr, "%s seed %llu: %.1f s%s\n", v.name.c_str(),
                   static_cast<unsigned long long>(o.seed), cells[i].seconds,
                   cells[i].error.empty() ? "" : cells[i].error.c_str());
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, absl::GetFlag(FLAGS_threads)); ++t)
    pool.emplace_back(worker);
  for (std::thread& t : pool) t.join();
  if (own_work) std::filesystem::remove_all(work);
  for (const Cell& c : cells) {
    if (!c.error.empty()) return 1;
  }

  // Means over seeds. Regret columns are per request (before / after the
  // drift) and cumulative (sums over all requests); the hourly columns are
  // mean regret per request in single hours around the drift.
  const int hours = absl::GetFlag(FLAGS_hours);
  const int drift = hours / 2;
  std::printf(
      "| policy | regret/request before drift | after drift | cumulative "
      "before | cumulative after | cumulative total | hour before drift | "
      "drift hour | drift+3 h | drift+12 h | last 6 h |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (size_t v = 0; v < variants.size(); ++v) {
    double col[10] = {0};
    for (size_t s = 0; s < seeds.size(); ++s) {
      const SimulationResult& r = cells[v * seeds.size() + s].result;
      col[0] += r.regret_before_drift / r.requests_before_drift;
      col[1] += r.regret_after_drift / r.requests_after_drift;
      col[2] += r.regret_before_drift;
      col[3] += r.regret_after_drift;
      col[4] += r.total_regret();
      col[5] += r.MeanRegret(drift - 1, drift);
      col[6] += r.MeanRegret(drift, drift + 1);
      col[7] += r.MeanRegret(drift + 3, drift + 4);
      col[8] += r.MeanRegret(drift + 12, drift + 13);
      col[9] += r.MeanRegret(hours - 6, hours);
    }
    for (double& c : col) c /= static_cast<double>(seeds.size());
    std::printf(
        "| %s | %.4f | %.4f | %.0f | %.0f | %.0f | %.4f | %.4f | %.4f | %.4f "
        "| %.4f |\n",
        variants[v].name.c_str(), col[0], col[1], col[2], col[3], col[4],
        col[5], col[6], col[7], col[8], col[9]);
  }
  // Per seed, for the spread: cumulative regret before / after the drift,
  // and the mean regret per request in the first 3 hours after the drift
  // and in the last 6 hours (how far each policy recovered).
  std::printf(
      "\nPer seed: cumulative regret before / after the drift; regret per "
      "request in the first 3 h after it -> the last 6 h:\n\n");
  std::printf("| policy |");
  for (const std::string& s : absl::GetFlag(FLAGS_seeds))
    std::printf(" seed %s |", s.c_str());
  std::printf("\n|---|");
  for (size_t s = 0; s < seeds.size(); ++s) std::printf("---|");
  std::printf("\n");
  for (size_t v = 0; v < variants.size(); ++v) {
    std::printf("| %s |", variants[v].name.c_str());
    for (size_t s = 0; s < seeds.size(); ++s) {
      const SimulationResult& r = cells[v * seeds.size() + s].result;
      std::printf(" %.0f / %.0f; %.3f -> %.3f |", r.regret_before_drift,
                  r.regret_after_drift, r.MeanRegret(drift, drift + 3),
                  r.MeanRegret(hours - 6, hours));
    }
    std::printf("\n");
  }
  const SimulationResult& any = cells[0].result;
  double seconds = 0;
  for (const Cell& c : cells) seconds += c.seconds;
  std::printf(
      "\n%d users, %d arms, %d hours (drift at %d), %lld requests and %lld "
      "events per run, %lld snapshots; %zu runs, %.0f s of run time.\n",
      absl::GetFlag(FLAGS_users), absl::GetFlag(FLAGS_arms), hours, drift,
      static_cast<long long>(any.requests_before_drift +
                             any.requests_after_drift),
      static_cast<long long>(any.events), static_cast<long long>(any.snapshots),
      cells.size(), seconds);
  return 0;
}
