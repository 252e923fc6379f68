#include "state/target_policy.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "bandits/beta.h"
#include "bandits/rng.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "state/status_macros.h"

namespace encore {
namespace {

class Uniform final : public TargetPolicy {
 public:
  absl::StatusOr<std::vector<ArmProbability>> Probabilities(
      const LoggedRow&, const std::vector<std::string>& arms) override {
    std::vector<ArmProbability> out;
    for (const std::string& a : arms) {
      out.emplace_back(a, 1.0 / static_cast<double>(arms.size()));
    }
    return out;
  }
  std::string Describe() const override {
    return "uniform over the logged arms";
  }
};

class Greedy final : public TargetPolicy {
 public:
  explicit Greedy(PosteriorSource* posteriors) : posteriors_(posteriors) {}
  absl::StatusOr<std::vector<ArmProbability>> Probabilities(
      const LoggedRow& row, const std::vector<std::string>& arms) override {
    std::string best;
    double best_mean = -1;
    for (const std::string& a : arms) {
      ASSIGN_OR_RETURN(bandits::BetaPosterior b,
                       posteriors_->Posterior(row.user_id, a));
      const double m = bandits::Mean(b);
      if (m > best_mean) best_mean = m, best = a;  // ties: smaller arm_id
    }
    if (best.empty()) return std::vector<ArmProbability>{};
    return std::vector<ArmProbability>{{best, 1.0}};
  }
  std::string Describe() const override {
    return "greedy: the user's highest posterior mean in the snapshot";
  }

 private:
  PosteriorSource* const posteriors_;
};

class Thompson final : public TargetPolicy {
 public:
  Thompson(PosteriorSource* posteriors, int draws, uint64_t seed)
      : posteriors_(posteriors), draws_(draws), seed_(seed) {}
  absl::StatusOr<std::vector<ArmProbability>> Probabilities(
      const LoggedRow& row, const std::vector<std::string>& arms) override {
    std::vector<bandits::BetaPosterior> beliefs;
    for (const std::string& a : arms) {
      ASSIGN_OR_RETURN(bandits::BetaPosterior b,
                       posteriors_->Posterior(row.user_id, a));
      beliefs.push_back(b);
    }
    std::vector<int> wins(arms.size(), 0);
    bandits::Rng rng(bandits::MixSeed(
        seed_, absl::StrCat(row.user_id, "\x1f", row.shown_ms)));
    for (int d = 0; d < draws_; ++d) {
      size_t best = 0;
      double best_draw = -1;
      for (size_t i = 0; i < beliefs.size(); ++i) {
        const double x = rng.Beta(beliefs[i].alpha, beliefs[i].beta);
        if (x > best_draw) best_draw = x, best = i;
      }
      if (!beliefs.empty()) ++wins[best];
    }
    std::vector<ArmProbability> out;
    for (size_t i = 0; i < arms.size(); ++i) {
      if (wins[i] > 0) {
        out.emplace_back(arms[i], static_cast<double>(wins[i]) / draws_);
      }
    }
    return out;
  }
  std::string Describe() const override {
    return absl::StrCat(
        "thompson: action probabilities estimated by ", draws_,
        " seeded draws per row from the snapshot's posteriors (seed ", seed_,
        ")");
  }

 private:
  PosteriorSource* const posteriors_;
  const int draws_;
  const uint64_t seed_;
};

struct Bucket {
  double below = std::numeric_limits<double>::infinity();
  std::vector<ArmProbability> arms;
};

class FromFile final : public TargetPolicy {
 public:
  FromFile(int feature, std::string name, std::vector<Bucket> buckets)
      : feature_(feature),
        name_(std::move(name)),
        buckets_(std::move(buckets)) {}
  absl::StatusOr<std::vector<ArmProbability>> Probabilities(
      const LoggedRow& row, const std::vector<std::string>&) override {
    if (feature_ < 0) return buckets_.front().arms;
    const double x = row.context[feature_];
    for (const Bucket& b : buckets_) {
      if (x < b.below) return b.arms;
    }
    return std::vector<ArmProbability>{};  // beyond the last bucket: none
  }
  std::string Describe() const override {
    return feature_ < 0
               ? "policy file: per-arm probabilities"
               : absl::StrCat("policy file: per-arm probabilities by ", name_,
                              " (", buckets_.size(), " buckets)");
  }

 private:
  const int feature_;
  const std::string name_;
  const std::vector<Bucket> buckets_;
};

absl::StatusOr<std::vector<ArmProbability>> ParseArms(
    const google::protobuf::Value& v) {
  if (v.kind_case() != google::protobuf::Value::kStructValue) {
    return absl::InvalidArgumentError("\"arms\" must be an object");
  }
  std::vector<ArmProbability> out;
  double sum = 0;
  for (const auto& [arm, p] : v.struct_value().fields()) {
    if (p.kind_case() != google::protobuf::Value::kNumberValue ||
        !(p.number_value() >= 0 && p.number_value() <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("probability of arm ", arm, " must be in [0, 1]"));
    }
    if (p.number_value() > 0) out.emplace_back(arm, p.number_value());
    sum += p.number_value();
  }
  if (std::fabs(sum - 1.0) > 1e-6) {
    return absl::InvalidArgumentError(
        absl::StrCat("arm probabilities sum to ", sum, ", not 1"));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::unique_ptr<TargetPolicy> UniformPolicy() {
  return std::make_unique<Uniform>();
}
std::unique_ptr<TargetPolicy> GreedyPolicy(PosteriorSource* posteriors) {
  return std::make_unique<Greedy>(posteriors);
}
std::unique_ptr<TargetPolicy> ThompsonPolicy(PosteriorSource* posteriors,
                                             int draws, uint64_t seed) {
  return std::make_unique<Thompson>(posteriors, draws, seed);
}

absl::StatusOr<std::unique_ptr<TargetPolicy>> ParsePolicyFile(
    const std::string& json) {
  google::protobuf::Struct root;
  if (!google::protobuf::util::JsonStringToMessage(json, &root).ok()) {
    return absl::InvalidArgumentError("the policy file is not a JSON object");
  }
  const auto& f = root.fields();
  if (f.count("arms") > 0) {
    ASSIGN_OR_RETURN(std::vector<ArmProbability> arms, ParseArms(f.at("arms")));
    return std::unique_ptr<TargetPolicy>(new FromFile(
        -1, "",
        {Bucket{std::numeric_limits<double>::infinity(), std::move(arms)}}));
  }
  static const char* const kFeatures[] = {"completion", "early_skip_rate",
                                          "late_skip_rate", "activity",
                                          "hour_share"};
  if (f.count("feature") == 0 || f.count("buckets") == 0) {
    return absl::InvalidArgumentError(
        "the policy file needs \"arms\", or \"feature\" and \"buckets\"");
  }
  const std::string name = f.at("feature").string_value();
  int feature = -1;
  for (int i = 0; i < 5; ++i) {
    if (name == kFeatures[i]) feature = i + 1;  // x1..x5
  }
  if (feature < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown feature '", name,
        "' (completion, early_skip_rate, late_skip_rate, activity, "
        "hour_share)"));
  }
  if (f.at("buckets").kind_case() != google::protobuf::Value::kListValue ||
      f.at("buckets").list_value().values_size() == 0) {
    return absl::InvalidArgumentError("\"buckets\" must be a non-empty list");
  }
  std::vector<Bucket> buckets;
  for (const google::protobuf::Value& b :
       f.at("buckets").list_value().values()) {
    if (b.kind_case() != google::protobuf::Value::kStructValue ||
        b.struct_value().fields().count("arms") == 0) {
      return absl::InvalidArgumentError("every bucket needs \"arms\"");
    }
    Bucket bucket;
    const auto& bf = b.struct_value().fields();
    if (bf.count("below") > 0) bucket.below = bf.at("below").number_value();
    ASSIGN_OR_RETURN(bucket.arms, ParseArms(bf.at("arms")));
    buckets.push_back(std::move(bucket));
  }
  return std::unique_ptr<TargetPolicy>(
      new FromFile(feature, name, std::move(buckets)));
}

}  // namespace encore
