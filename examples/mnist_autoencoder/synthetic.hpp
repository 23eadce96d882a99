#pragma once
// A small synthetic stand-in for MNIST, for tests that cannot download anything:
// each image is one of ten hand-made stroke templates ("0".."9" drawn as polylines),
// randomly scaled, slanted, shifted and drawn with a soft pen of random width on a
// 28x28 black canvas. The files have MNIST's names and IDX format, so load_mnist
// reads them like the real thing.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <numbers>
#include <tapegrad/core/tensor.hpp>
#include <tapegrad/layers/data/idx.hpp>
#include <vector>
#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xtensor.hpp>

namespace mnist_autoencoder {

namespace detail {

struct Point {
  double x, y;
};
using Stroke = std::vector<Point>;

inline Stroke ellipse(double cx, double cy, double rx, double ry) {
  Stroke s;
  constexpr int n = 20;
  for (int i = 0; i <= n; ++i) {
    const double a = 2 * std::numbers::pi * i / n;
    s.push_back({cx + rx * std::cos(a), cy + ry * std::sin(a)});
  }
  return s;
}

/// The strokes of digit `d` in a unit box (x to the right, y downwards).
inline std::vector<Stroke> digit_template(int d) {
  // One digit per line reads better than the formatter's layout.
  // clang-format off
  switch (d) {
    case 0: return {ellipse(0.5, 0.5, 0.33, 0.45)};
    case 1: return {{{0.35, 0.2}, {0.55, 0.05}, {0.55, 0.95}}};
    case 2: return {{{0.2, 0.25}, {0.4, 0.05}, {0.7, 0.08}, {0.8, 0.3}, {0.2, 0.95}, {0.85, 0.95}}};
    case 3: return {{{0.2, 0.1}, {0.75, 0.1}, {0.45, 0.45}, {0.8, 0.65}, {0.65, 0.92}, {0.2, 0.9}}};
    case 4: return {{{0.65, 0.95}, {0.65, 0.05}, {0.15, 0.65}, {0.9, 0.65}}};
    case 5:
      return {{{0.8, 0.05}, {0.25, 0.05}, {0.2, 0.45}, {0.7, 0.45}, {0.8, 0.7}, {0.6, 0.95},
               {0.2, 0.9}}};
    case 6: return {{{0.7, 0.05}, {0.3, 0.45}, {0.25, 0.7}}, ellipse(0.5, 0.7, 0.27, 0.25)};
    case 7: return {{{0.15, 0.05}, {0.85, 0.05}, {0.4, 0.95}}};
    case 8: return {ellipse(0.5, 0.26, 0.24, 0.21), ellipse(0.5, 0.71, 0.3, 0.24)};
    default: return {ellipse(0.5, 0.3, 0.28, 0.25), {{0.78, 0.3}, {0.65, 0.95}}};
  }
  // clang-format on
}

inline double segment_distance(Point p, Point a, Point b) {
  const double vx = b.x - a.x, vy = b.y - a.y;
  const double len2 = vx * vx + vy * vy;
  double t = len2 > 0 ? ((p.x - a.x) * vx + (p.y - a.y) * vy) / len2 : 0.0;
  t = std::clamp(t, 0.0, 1.0);
  const double dx = p.x - (a.x + t * vx), dy = p.y - (a.y + t * vy);
  return std::sqrt(dx * dx + dy * dy);
}

}  // namespace detail

/// Draws `count` digit-like images [count, 28, 28] (bytes) and their labels [count].
inline void make_synthetic_digits(std::size_t count, tapegrad::Generator& gen,
                                  tapegrad::Array<std::uint8_t>& images,
                                  tapegrad::Array<std::uint8_t>& labels) {
  constexpr std::size_t side = 28;
  images = xt::zeros<std::uint8_t>({count, side, side});
  labels = xt::zeros<std::uint8_t>({count});
  for (std::size_t n = 0; n < count; ++n) {
    const int label = static_cast<int>(n % 10);  // balanced classes, interleaved like MNIST's
    labels(n) = static_cast<std::uint8_t>(label);
    const double height = gen.uniform(16.0, 21.0);
    const double width = height * gen.uniform(0.6, 0.85);
    const double slant = gen.uniform(-0.3, 0.3);
    const double cx = 14.0 + gen.uniform(-1.5, 1.5), cy = 14.0 + gen.uniform(-1.5, 1.5);
    const double pen = gen.uniform(0.8, 1.8);  // radius in pixels where ink is full
    std::vector<detail::Stroke> strokes = detail::digit_template(label);
    for (auto& stroke : strokes)
      for (auto& p : stroke) {
        const double x = p.x + gen.uniform(-0.03, 0.03) - 0.5;
        const double y = p.y + gen.uniform(-0.03, 0.03) - 0.5;
        p = {cx + x * width + slant * y * height, cy + y * height};
      }
    for (std::size_t i = 0; i < side; ++i)
      for (std::size_t j = 0; j < side; ++j) {
        const detail::Point pixel{static_cast<double>(j), static_cast<double>(i)};
        double d = 1e9;
        for (const auto& stroke : strokes)
          for (std::size_t k = 0; k + 1 < stroke.size(); ++k)
            d = std::min(d, detail::segment_distance(pixel, stroke[k], stroke[k + 1]));
        const double ink = std::clamp(1.0 - (d - pen), 0.0, 1.0);  // 1 px soft edge
        images(n, i, j) = static_cast<std::uint8_t>(std::lround(255.0 * ink));
      }
  }
}

/// Writes a synthetic data set in MNIST's layout into `dir`: `train` and `test`
/// images. The training files are plain and the test files gzipped, so both
/// code paths of the reader are exercised.
inline void write_synthetic_mnist(const std::filesystem::path& dir, std::size_t train,
                                  std::size_t test, std::uint64_t seed) {
  std::filesystem::create_directories(dir);
  tapegrad::Generator gen(seed);
  tapegrad::Array<std::uint8_t> images, labels;
  make_synthetic_digits(train, gen, images, labels);
  tapegrad::data::write_idx(dir / "train-images-idx3-ubyte", images);
  tapegrad::data::write_idx(dir / "train-labels-idx1-ubyte", labels);
  make_synthetic_digits(test, gen, images, labels);
  tapegrad::data::write_idx(dir / "t10k-images-idx3-ubyte.gz", images);
  tapegrad::data::write_idx(dir / "t10k-labels-idx1-ubyte.gz", labels);
}

}  // namespace mnist_autoencoder
