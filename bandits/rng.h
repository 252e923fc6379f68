// Deterministic random numbers for Thompson sampling.
//
// Rng is xoshiro256** seeded through SplitMix64. Every distribution below is
// built here from the raw 64-bit stream -- never from std:: distributions,
// whose output differs between standard libraries -- so a seed gives the same
// integer stream on every platform, and the same samples wherever the C
// library's log/exp/log1p agree (bit-identical across glibc builds).
//
// Scoring with a run seed S draws each (user, arm) sample from its own stream,
// so the result does not depend on the order in which arms are scored:
//
//   Rng rng(MixSeed(S, user_arm_key));
//   double p = rng.Beta(alpha, beta);
#ifndef ENCORE_BANDITS_RNG_H_
#define ENCORE_BANDITS_RNG_H_

#include <array>
#include <cstdint>
#include <string_view>

namespace encore::bandits {

// A seeded pseudo-random stream; not cryptographic. Copyable: a copy continues
// the identical sequence independently. Not thread-safe: use one per thread
// (or per stream, see MixSeed).
class Rng {
 public:
  // Seeds the 256-bit state from `seed` with SplitMix64. Every seed, including
  // 0, gives a valid, distinct stream.
  explicit Rng(uint64_t seed);

  // Returns the next raw 64-bit output of xoshiro256**.
  uint64_t NextU64();

  // Returns a uniform double in the open interval (0, 1), never exactly 0 or
  // 1: BitsToOpenUnit(NextU64()).
  double Uniform();

  // Returns a standard normal N(0, 1) variate (Marsaglia polar method; the
  // second variate of each pair is discarded, so the generator's whole state
  // is the xoshiro state).
  double Normal();

  // Returns a Gamma(shape, scale 1) variate, mean `shape`
  // (Marsaglia-Tsang; for shape < 1, Gamma(shape + 1) * U^(1/shape)). May
  // return 0 when shape is so small that the variate underflows.
  // REQUIRES: shape > 0 and finite.
  double Gamma(double shape);

  // Returns a Beta(a, b) variate X / (X + Y), X ~ Gamma(a), Y ~ Gamma(b),
  // formed in log space so tiny shapes do not produce 0/0. The result is in
  // [0, 1], exactly 0 or 1 only when the draw lies closer to it than doubles
  // resolve (e.g. when a or b is far below 1).
  // REQUIRES: a > 0 and b > 0, both finite.
  double Beta(double a, double b);

 private:
  // Marsaglia-Tsang for shape >= 1.
  double GammaAtLeastOne(double shape);
  // log of a Gamma(shape) variate, finite even where the variate underflows.
  double LogGammaVariate(double shape);

  std::array<uint64_t, 4> state_;
};

// Maps 64 random bits to (0, 1): with k the top 52 bits, returns
// (k + 0.5) / 2^52 (exact), so the extremes are 2^-53 and 1 - 2^-53.
double BitsToOpenUnit(uint64_t bits);

// Derives the seed of the stream for `key` (e.g. user id and arm id joined by
// a separator the ids cannot contain) from the run seed: the SplitMix64
// finalizer over FNV-1a(key) xor a mix of `seed`. Stable format: changing it
// changes every reproduced score, so it is pinned by golden tests.
uint64_t MixSeed(uint64_t seed, std::string_view key);

}  // namespace encore::bandits

#endif  // ENCORE_BANDITS_RNG_H_
