#include <tapegrad/core/generator.hpp>

namespace tapegrad {

double Generator::uniform(double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(engine_);
}
double Generator::normal(double mean, double stddev) {
  return std::normal_distribution<double>(mean, stddev)(engine_);
}

}  // namespace tapegrad
