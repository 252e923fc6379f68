// A closed-loop bandit simulation through encore's real processing path.
//
// Synthetic users have latent success probabilities per arm; a policy picks
// one arm per home-page request using only what encore published: every
// simulated hour it re-opens the LATEST snapshot (SnapshotReader::OpenLatest
// + ReadPopulation) and scores the candidates with RankArms. The impression
// and the user's response become ListenEvents fed to a Processor over a real
// RocksDB store, which commits and publishes a snapshot at the end of every
// simulated hour. Half way through (drift_hour) every user's preferences
// drift: their probabilities are rotated across arms, so their best arm
// changes.
//
//   SimulationOptions options;           // defaults: a small world
//   options.work_dir = temp_dir;          // state and snapshots go here
//   PolicySpec thompson{.kind = PolicyKind::kThompson};
//   absl::StatusOr<SimulationResult> r = RunBanditSimulation(options,
//                                                            thompson);
//   r->regret_after_drift ...
//
// Deterministic: the same options and policy give the same result. The
// world (preferences, request times, each request's outcome uniforms) is
// drawn from `seed` independently of the policy, so two policies run with
// the same options face the same users and requests (common random numbers)
// and differ only by their choices.
//
// Thread safety: RunBanditSimulation may run concurrently for distinct
// work directories.
#ifndef ENCORE_TESTS_TESTING_BANDIT_SIMULATION_H_
#define ENCORE_TESTS_TESTING_BANDIT_SIMULATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "state/model.h"

namespace encore::testing {

struct SimulationOptions {
  uint64_t seed = 1;
  int users = 14;
  int arms = 5;
  int partitions = 2;   // users are spread over them round-robin
  int hours = 48;       // simulated hours; one snapshot at the end of each
  int drift_hour = -1;  // preferences drift at this hour; -1 = hours / 2
  // Each user makes this many requests per hour on average: the integer
  // part every hour, plus one more with the fractional part's probability;
  // request times are uniform within the hour.
  double requests_per_user_hour = 16;
  // Latent success probability of (user, arm) =
  // clamp(base(arm) + N(0, user_noise), min_p, max_p), with the bases evenly
  // spaced from base_low to base_high over the arms (in a seeded order).
  double base_low = 0.1;
  double base_high = 0.5;
  double user_noise = 0.25;
  double min_p = 0.02;
  double max_p = 0.9;
  // A failure is a SKIP, or with this probability no response at all (the
  // impression then expires as reward 0 after the attribution window).
  double no_response_rate = 0.3;
  int64_t start_time_ms = 1'793'491'200'000;  // 2026-11-01T00:00:00Z
  // The model the processor runs with (arm_half_life_ms: forgetting).
  ModelConfig model;
  // Where the state store and snapshots are created: an empty or absent
  // directory, left in place afterwards. Every hourly snapshot fsyncs
  // several files; a memory-backed directory keeps that cheap.
  std::string work_dir;
};

enum class PolicyKind {
  // RankArms(kThompson) with a per-request seed: the top arm is shown.
  kThompson,
  // With probability epsilon a uniform arm, otherwise the top arm of
  // RankArms(kMean) (ties: the smallest arm_id).
  kEpsilonGreedy,
};

struct PolicySpec {
  PolicyKind kind = PolicyKind::kThompson;
  double epsilon = 0.1;
  // Thompson's logged propensity is a Monte Carlo estimate of
  // P(arm wins the draw): (1 + wins among this many extra posterior draws) /
  // (draws + 1), counting the actual draw, so it is in (0, 1] and accurate
  // to about 1/sqrt(draws). epsilon-greedy's is exact: 1 - epsilon +
  // epsilon / K for the greedy arm, epsilon / K for any other.
  int propensity_draws = 16;
};

// "thompson" or "epsilon-greedy".
std::string PolicyName(const PolicySpec& policy);

struct SimulationResult {
  // Regret of one request = p(the user's best arm now) - p(the chosen arm).
  double regret_before_drift = 0;  // summed over the requests before drift
  double regret_after_drift = 0;
  int64_t requests_before_drift = 0;
  int64_t requests_after_drift = 0;
  std::vector<double> hourly_regret;     // summed per simulated hour
  std::vector<int64_t> hourly_requests;  // requests per simulated hour
  int64_t events = 0;                    // events fed to the processor
  int64_t snapshots = 0;                 // snapshots published
  int64_t dead_letters = 0;              // events the processor rejected
  // From the users' states in the last snapshot: responses matched to their
  // impression, responses without one (0 unless the window is too short),
  // and impressions resolved as reward 0 for want of a response.
  int64_t rewards_attributed = 0;
  int64_t rewards_unattributed = 0;
  int64_t impressions_expired = 0;
  int drift_hour = 0;

  double total_regret() const {
    return regret_before_drift + regret_after_drift;
  }
  // Mean regret per request over hours [from, to) (0 without requests).
  double MeanRegret(int from_hour, int to_hour) const;
};

// Runs one policy through the simulated world. InvalidArgument for bad
// options; any store, publisher or reader error, or a processor error, is
// returned as is.
absl::StatusOr<SimulationResult> RunBanditSimulation(
    const SimulationOptions& options, const PolicySpec& policy);

}  // namespace encore::testing

#endif  // ENCORE_TESTS_TESTING_BANDIT_SIMULATION_H_
