// The read side of the model: configuration, decay arithmetic and what
// scoring reads from a user's state. Kept apart from the event functions
// (model.cc) so that the snapshot reader links without them.
#include <algorithm>
#include <cmath>

#include "absl/strings/string_view.h"
#include "state/model.h"

namespace encore {

int LocalHour(int64_t time_ms, int32_t utc_offset_minutes) {
  const int64_t local = time_ms + int64_t{utc_offset_minutes} * 60'000;
  const int64_t in_day = ((local % kDayMs) + kDayMs) % kDayMs;
  return static_cast<int>(in_day / kHourMs);
}

int LocalWeekday(int64_t time_ms, int32_t utc_offset_minutes) {
  const int64_t local = time_ms + int64_t{utc_offset_minutes} * 60'000;
  int64_t days = local / kDayMs;
  if (local % kDayMs < 0) --days;  // floor
  // 1970-01-01 was a Thursday: Monday = 0 makes it 3.
  return static_cast<int>(((days + 3) % 7 + 7) % 7);
}

Context UserContext(const ModelConfig& config, const FeaturesRecord& f,
                    int64_t time_ms) {
  Context x{};
  x[0] = 1.0;
  if (f.completion_weight > 0) {
    x[1] = f.completion_sum / f.completion_weight;
  }
  if (f.starts > 0) x[2] = f.early_skips / f.starts;
  if (f.starts - f.early_skips > 0) {
    x[3] = f.late_skips / (f.starts - f.early_skips);
  }
  const double starts = DecayedValueAt(f.starts, f.ref_time_ms, time_ms,
                                       config.feature_half_life_ms);
  x[4] = std::log1p(std::max(starts, 0.0)) / 7.0;
  double total = 0;
  for (double v : f.hour_of_day) total += v;
  if (total > 0 && f.hour_of_day.size() == 24) {
    x[5] = f.hour_of_day[LocalHour(time_ms, f.utc_offset_minutes)] / total;
  }
  return x;
}

Context UserContext(const ModelConfig& config, const UserState& state,
                    int64_t time_ms) {
  return UserContext(config, FromProto(state.features()), time_ms);
}

absl::Status ModelConfig::Validate() const {
  if (half_lives_ms.empty()) {
    return absl::InvalidArgumentError("at least one half-life is required");
  }
  for (int64_t h : half_lives_ms) {
    if (h <= 0) return absl::InvalidArgumentError("half-lives must be > 0");
  }
  if (!(prior_alpha > 0) || !(prior_beta > 0)) {
    return absl::InvalidArgumentError("Beta prior parameters must be > 0");
  }
  if (max_arms_per_user == 0 || top_artists == 0 || recent_plays == 0 ||
      max_pending_per_user == 0 || max_arms_per_partition == 0) {
    return absl::InvalidArgumentError(
        "max arms, top artists, recent plays and pending impressions bounds "
        "must be > 0");
  }
  if (feature_half_life_ms <= 0 || session_gap_ms <= 0 ||
      attribution_window_ms <= 0 || lateness_ms <= 0) {
    return absl::InvalidArgumentError(
        "feature half-life, session gap, attribution window and lateness "
        "must be > 0");
  }
  if (hll_precision < 4 || hll_precision > 16) {
    return absl::InvalidArgumentError("hll_precision must be in [4, 16]");
  }
  if (!(prior_strength > 0) || !(nig_kappa0 > 0) || !(nig_alpha0 > 0) ||
      !(nig_beta0 > 0) || !(ridge > 0)) {
    return absl::InvalidArgumentError(
        "prior strength, NIG prior and ridge must be > 0");
  }
  return absl::OkStatus();
}

ModelConfigProto ModelConfig::ToProto() const {
  ModelConfigProto p;
  for (int64_t h : half_lives_ms) p.add_half_lives_ms(h);
  p.set_prior_alpha(prior_alpha);
  p.set_prior_beta(prior_beta);
  p.set_arm_half_life_ms(arm_half_life_ms);
  p.set_success_min_ms_played(success_min_ms_played);
  p.set_max_arms_per_user(max_arms_per_user);
  p.set_feature_half_life_ms(feature_half_life_ms);
  p.set_early_skip_ms(early_skip_ms);
  p.set_top_artists(top_artists);
  p.set_session_gap_ms(session_gap_ms);
  p.set_recent_plays(recent_plays);
  p.set_distinct_exact_max(distinct_exact_max);
  p.set_hll_precision(hll_precision);
  p.set_dedup_window(dedup_window);
  p.set_lateness_ms(lateness_ms);
  p.set_attribution_window_ms(attribution_window_ms);
  p.set_max_pending_per_user(max_pending_per_user);
  p.set_max_arms_per_partition(max_arms_per_partition);
  p.set_context_dim(kContextDim);
  p.set_prior_strength(prior_strength);
  p.set_nig_mu0(nig_mu0);
  p.set_nig_kappa0(nig_kappa0);
  p.set_nig_alpha0(nig_alpha0);
  p.set_nig_beta0(nig_beta0);
  p.set_ridge(ridge);
  p.set_linucb_alpha(linucb_alpha);
  p.set_lints_scale(lints_scale);
  return p;
}

ModelConfig ModelConfig::FromProto(const ModelConfigProto& p) {
  ModelConfig m;
  m.half_lives_ms.assign(p.half_lives_ms().begin(), p.half_lives_ms().end());
  m.prior_alpha = p.prior_alpha();
  m.prior_beta = p.prior_beta();
  m.arm_half_life_ms = p.arm_half_life_ms();
  m.success_min_ms_played = p.success_min_ms_played();
  m.max_arms_per_user = p.max_arms_per_user();
  // Manifests written before the full model lack every field below; this
  // build always writes context_dim, so it tells the two apart (and a
  // legitimate 0, e.g. linucb_alpha, is kept).
  if (p.context_dim() == 0) return m;
  m.feature_half_life_ms = p.feature_half_life_ms();
  m.early_skip_ms = p.early_skip_ms();
  m.top_artists = p.top_artists();
  m.session_gap_ms = p.session_gap_ms();
  m.recent_plays = p.recent_plays();
  m.distinct_exact_max = p.distinct_exact_max();
  m.hll_precision = p.hll_precision();
  m.dedup_window = p.dedup_window();
  m.lateness_ms = p.lateness_ms();
  m.attribution_window_ms = p.attribution_window_ms();
  m.max_pending_per_user = p.max_pending_per_user();
  m.max_arms_per_partition = p.max_arms_per_partition();
  m.prior_strength = p.prior_strength();
  m.nig_mu0 = p.nig_mu0();
  m.nig_kappa0 = p.nig_kappa0();
  m.nig_alpha0 = p.nig_alpha0();
  m.nig_beta0 = p.nig_beta0();
  m.ridge = p.ridge();
  m.linucb_alpha = p.linucb_alpha();
  m.lints_scale = p.lints_scale();
  return m;
}

void DecayedAdd(double amount, int64_t time_ms, int64_t half_life_ms,
                int64_t* ref_time_ms, double* value) {
  if (time_ms > *ref_time_ms) {
    *value *= DecayFactor(time_ms - *ref_time_ms, half_life_ms);
    *ref_time_ms = time_ms;
  }
  *value += amount * DecayFactor(*ref_time_ms - time_ms, half_life_ms);
}

double DecayedValueAt(double value, int64_t ref_time_ms, int64_t as_of_ms,
                      int64_t half_life_ms) {
  return value * DecayFactor(as_of_ms - ref_time_ms, half_life_ms);
}

const ArmEvidence* FindArm(const UserState& state, absl::string_view arm_id) {
  auto it = std::lower_bound(state.arms().begin(), state.arms().end(), arm_id,
                             [](const ArmEvidence& a, absl::string_view id) {
                               return a.arm_id() < id;
                             });
  if (it != state.arms().end() && it->arm_id() == arm_id) return &*it;
  return nullptr;
}

}  // namespace encore
