#pragma once
// The optimizer parity problem shared by parity_optim.cpp and parity_optim_extra.cpp:
// four parameters of different shapes (a 0-d one included) and 50 steps of random
// gradients at different scales, one parameter without a gradient every 7th step.
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace tapegrad::parity {

inline constexpr int kSteps = 50;
inline const std::vector<std::vector<std::int64_t>> kShapes = {{4, 3}, {7}, {2, 3, 5}, {}};

inline std::size_t numel(const std::vector<std::int64_t>& s) {
  std::size_t n = 1;
  for (auto d : s) n *= static_cast<std::size_t>(d);
  return n;
}

/// Initial parameter values and the gradient of every parameter at every step
/// (an empty vector: no gradient at that step, which both sides must skip).
struct Problem {
  std::vector<std::vector<double>> init;
  std::vector<std::vector<std::vector<double>>> grads;  // [step][param]
};

inline Problem make_problem(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Problem pr;
  for (const auto& s : kShapes) {
    std::vector<double> v(numel(s));
    for (auto& x : v) x = normal(rng);
    pr.init.push_back(v);
  }
  // Different gradient scales per parameter, so eps and the moments matter unevenly.
  const double scale[] = {1.0, 0.01, 30.0, 0.5};
  pr.grads.resize(kSteps);
  for (int k = 0; k < kSteps; ++k) {
    for (std::size_t i = 0; i < kShapes.size(); ++i) {
      std::vector<double> g;
      if (!(i == 1 && k % 7 == 3)) {
        g.resize(numel(kShapes[i]));
        for (auto& x : g) x = scale[i] * normal(rng);
      }
      pr.grads[k].push_back(std::move(g));
    }
  }
  return pr;
}

}  // namespace tapegrad::parity
