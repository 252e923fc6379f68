// EventGenerator: a deterministic, seeded source of realistic synthetic
// listening events for demos, tests and benchmarks.
//
// The model: home-page requests arrive with a diurnal rate (peak at 20:00
// UTC, trough at 08:00); each picks a user from a Zipf(user_zipf)
// distribution (heavy-tailed activity), shows one arm chosen uniformly
// (an IMPRESSION with propensity 1/arms), and the user then plays a track
// (Zipf track popularity; artists Zipf too) through that arm with a latent
// per-(user, arm) probability of listening past 30 s, skips, or ignores the
// impression. Event times start at start_time_ms and only depend on the
// seed, never on the wall clock.
#ifndef ENCORE_STREAM_EVENT_GENERATOR_H_
#define ENCORE_STREAM_EVENT_GENERATOR_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "bandits/rng.h"
#include "proto/event.pb.h"

namespace encore {

struct GeneratorOptions {
  uint64_t users = 10'000;
  uint64_t seed = 1;
  int64_t start_time_ms = 1'793'491'200'000;  // 2026-11-01T00:00:00Z
  int arms = 8;
  int tracks = 50'000;
  int artists = 5'000;
  double user_zipf = 1.1;
  double track_zipf = 1.0;
  double mean_request_gap_ms = 250;  // at the average diurnal rate
  double ignore_probability = 0.2;   // impressions with no response
};

class EventGenerator {
 public:
  explicit EventGenerator(const GeneratorOptions& options);

  // The next event of the sequence.
  ListenEvent Next();

  // The arm ids ("arm-00" ...).
  const std::vector<std::string>& arms() const { return arm_ids_; }

  // The latent probability that `user` listens past 30 s when shown `arm`.
  double Preference(uint64_t user, int arm) const;

 private:
  void NewRequest();
  static std::vector<double> ZipfCdf(uint64_t n, double s);
  uint64_t SampleCdf(const std::vector<double>& cdf);

  GeneratorOptions options_;
  bandits::Rng rng_;
  std::vector<double> user_cdf_;
  std::vector<double> track_cdf_;
  std::vector<double> arm_base_;
  std::vector<std::string> arm_ids_;
  int64_t now_ms_;
  uint64_t requests_ = 0;
  std::deque<ListenEvent> pending_;
};

}  // namespace encore

#endif  // ENCORE_STREAM_EVENT_GENERATOR_H_
