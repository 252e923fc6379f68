#include "bandits/rng.h"

#include <bit>
#include <cmath>

namespace encore::bandits {
namespace {

constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;

// The SplitMix64 output function (Stafford's "Mix13").
uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t SplitMix64(uint64_t& state) {
  state += kGoldenGamma;
  return Mix64(state);
}

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace

Rng::Rng(uint64_t seed) {
  for (uint64_t& word : state_) word = SplitMix64(seed);
}

uint64_t Rng::NextU64() {
  const uint64_t result = std::rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = std::rotl(state_[3], 45);
  return result;
}

double Rng::Uniform() { return BitsToOpenUnit(NextU64()); }

double Rng::Normal() {
  for (;;) {
    const double u = 2.0 * Uniform() - 1.0;
    const double v = 2.0 * Uniform() - 1.0;
    const double s = u * u + v * v;
    if (s > 0.0 && s < 1.0) return u * std::sqrt(-2.0 * std::log(s) / s);
  }
}

double Rng::GammaAtLeastOne(double shape) {
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x;
    double v;
    do {
      x = Normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = Uniform();
    const double x2 = x * x;
    if (u < 1.0 - 0.0331 * x2 * x2) return d * v;
    if (std::log(u) < 0.5 * x2 + d * (1.0 - v + std::log(v))) return d * v;
  }
}

double Rng::LogGammaVariate(double shape) {
  if (shape >= 1.0) return std::log(GammaAtLeastOne(shape));
  const double boosted = std::log(GammaAtLeastOne(shape + 1.0));
  return boosted + std::log(Uniform()) / shape;
}

double Rng::Gamma(double shape) {
  if (shape >= 1.0) return GammaAtLeastOne(shape);
  return std::exp(LogGammaVariate(shape));
}

double Rng::Beta(double a, double b) {
  const double log_x = LogGammaVariate(a);
  const double log_y = LogGammaVariate(b);
  // X / (X + Y) = 1 / (1 + Y / X).
  return 1.0 / (1.0 + std::exp(log_y - log_x));
}

double BitsToOpenUnit(uint64_t bits) {
  // 52 bits, not 53: (k + 0.5) / 2^53 would round to 1.0 for the largest k.
  constexpr double kTwoToMinus52 = 1.0 / 4503599627370496.0;
  return (static_cast<double>(bits >> 12) + 0.5) * kTwoToMinus52;
}

uint64_t MixSeed(uint64_t seed, std::string_view key) {
  return Mix64(Fnv1a64(key) ^ Mix64(seed + kGoldenGamma));
}

}  // namespace encore::bandits
