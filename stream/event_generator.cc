#include "stream/event_generator.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace encore {
namespace {

constexpr double kPi = 3.14159265358979323846;
const char* const kPlatforms[] = {"ios", "android", "web", "desktop"};

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

std::vector<double> EventGenerator::ZipfCdf(uint64_t n, double s) {
  std::vector<double> cdf(n);
  double sum = 0;
  for (uint64_t i = 0; i < n; ++i) {
    sum += 1.0 / std::pow(static_cast<double>(i + 1), s);
    cdf[i] = sum;
  }
  for (double& c : cdf) c /= sum;
  return cdf;
}

EventGenerator::EventGenerator(const GeneratorOptions& options)
    : options_(options),
      rng_(options.seed),
      user_cdf_(
          ZipfCdf(std::max<uint64_t>(options.users, 1), options.user_zipf)),
      track_cdf_(ZipfCdf(std::max(options.tracks, 1), options.track_zipf)),
      now_ms_(options.start_time_ms) {
  bandits::Rng arm_rng(bandits::MixSeed(options.seed, "arms"));
  for (int a = 0; a < std::max(options.arms, 1); ++a) {
    arm_ids_.push_back(absl::StrFormat("arm-%02d", a));
    arm_base_.push_back(-0.8 + 1.2 * arm_rng.Uniform());
  }
}

uint64_t EventGenerator::SampleCdf(const std::vector<double>& cdf) {
  const double u = rng_.Uniform();
  return static_cast<uint64_t>(std::lower_bound(cdf.begin(), cdf.end(), u) -
                               cdf.begin());
}

double EventGenerator::Preference(uint64_t user, int arm) const {
  bandits::Rng r(
      bandits::MixSeed(options_.seed, absl::StrCat("pref/", user, "/", arm)));
  return Sigmoid(arm_base_[arm] + 1.0 * r.Normal());
}

void EventGenerator::NewRequest() {
  // Diurnal rate: 1 + 0.6 cos(2 pi (hour - 20) / 24), so gaps are shortest
  // at 20:00 UTC.
  const double hour = static_cast<double>((now_ms_ / 1000) % 86400) / 3600.0;
  const double rate = 1.0 + 0.6 * std::cos(2 * kPi * (hour - 20.0) / 24.0);
  const double gap =
      -std::log(rng_.Uniform()) * options_.mean_request_gap_ms / rate;
  now_ms_ += static_cast<int64_t>(gap) + 1;

  const uint64_t user = SampleCdf(user_cdf_);
  const int arm = static_cast<int>(rng_.NextU64() % arm_ids_.size());
  const std::string user_id = absl::StrFormat("user-%07d", user);
  const std::string request_id = absl::StrFormat("req-%010d", requests_++);
  const char* platform =
      kPlatforms[bandits::MixSeed(options_.seed, user_id) % 4];

  ListenEvent imp;
  imp.set_event_id(request_id + "-i");
  imp.set_user_id(user_id);
  imp.set_event_time_ms(now_ms_);
  imp.set_kind(ListenEvent::IMPRESSION);
  imp.set_arm_id(arm_ids_[arm]);
  imp.set_request_id(request_id);
  imp.set_propensity(1.0 / static_cast<double>(arm_ids_.size()));
  imp.set_platform(platform);
  pending_.push_back(imp);

  if (rng_.Uniform() < options_.ignore_probability) return;
  const uint64_t track = SampleCdf(track_cdf_);
  // Popular tracks by popular artists: the artist follows the track's rank.
  const uint64_t artist =
      (track * 2654435761u) % static_cast<uint64_t>(options_.artists);
  const int64_t duration =
      120'000 + static_cast<int64_t>(bandits::MixSeed(track, "len") % 240'000);
  const bool listens = rng_.Uniform() < Preference(user, arm);
  ListenEvent r;
  r.set_event_id(request_id + "-r");
  r.set_user_id(user_id);
  r.set_event_time_ms(now_ms_ + 500 +
                      static_cast<int64_t>(rng_.NextU64() % 4000));
  r.set_track_id(absl::StrFormat("track-%06d", track));
  r.set_artist_id(absl::StrFormat("artist-%05d", artist));
  r.set_arm_id(arm_ids_[arm]);
  r.set_request_id(request_id);
  r.set_track_duration_ms(duration);
  r.set_platform(platform);
  if (listens) {
    r.set_kind(ListenEvent::PLAY);
    r.set_ms_played(30'000 +
                    static_cast<int64_t>(rng_.Uniform() * (duration - 30'000)));
  } else if (rng_.Uniform() < 0.7) {
    r.set_kind(ListenEvent::SKIP);
    r.set_ms_played(static_cast<int64_t>(rng_.Uniform() * 29'000));
  } else {
    r.set_kind(ListenEvent::PLAY);  // a short play: a failure too
    r.set_ms_played(static_cast<int64_t>(rng_.Uniform() * 29'000));
  }
  pending_.push_back(r);
}

ListenEvent EventGenerator::Next() {
  while (pending_.empty()) NewRequest();
  ListenEvent e = std::move(pending_.front());
  pending_.pop_front();
  return e;
}

}  // namespace encore
