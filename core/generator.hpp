#pragma once
// The seeded random number generator that every random draw in tapegrad takes
// explicitly (initialisation, rand/randn, dropout, shuffling), so a seed reproduces a
// run exactly.
#include <cstdint>
#include <random>

namespace tapegrad {

/// Seeded random number generator (64-bit Mersenne Twister).
class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : engine_(seed) {}
  /// Uniform in [lo, hi).
  double uniform(double lo = 0.0, double hi = 1.0);
  /// Normal with the given mean and standard deviation.
  double normal(double mean = 0.0, double stddev = 1.0);
  /// The underlying engine, for std:: distributions.
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

}  // namespace tapegrad
