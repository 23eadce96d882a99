#include <algorithm>
#include <stdexcept>
#include <string>
#include <tapegrad/layers/data/detail/picture.hpp>
#include <tapegrad/layers/data/image.hpp>

namespace tapegrad::data {

using detail::kMaxSide;
using detail::shape_text;

tapegrad::Array<float> image_grid(const tapegrad::Array<float>& images, std::size_t rows,
                                  std::size_t cols, std::size_t pad, float pad_value) {
  const auto& s = images.shape();
  const bool nchw = s.size() == 4 && s[1] == 1;
  if (!(nchw || s.size() == 3)) {
    throw std::invalid_argument(
        "image_grid: expected images [N, 1, H, W] or [N, H, W], got shape " + shape_text(s));
  }
  const std::size_t n = s[0], h = s[s.size() - 2], w = s[s.size() - 1];
  if (rows == 0 || cols == 0) {
    throw std::invalid_argument("image_grid: rows and cols must be at least 1, got " +
                                std::to_string(rows) + "x" + std::to_string(cols));
  }
  if (n > rows * cols) {
    throw std::invalid_argument("image_grid: " + std::to_string(n) + " images do not fit in " +
                                std::to_string(rows) + "x" + std::to_string(cols) + " = " +
                                std::to_string(rows * cols) + " cells");
  }
  if (h == 0 || w == 0 || pad > kMaxSide || rows > kMaxSide || cols > kMaxSide ||
      rows * h + (rows + 1) * pad > kMaxSide || cols * w + (cols + 1) * pad > kMaxSide) {
    throw std::invalid_argument("image_grid: a " + std::to_string(rows) + "x" +
                                std::to_string(cols) + " grid of images of shape " + shape_text(s) +
                                " with pad " + std::to_string(pad) + " is empty or larger than " +
                                std::to_string(kMaxSide) + " pixels a side");
  }
  const std::size_t gh = rows * h + (rows + 1) * pad, gw = cols * w + (cols + 1) * pad;
  tapegrad::Array<float> grid = tapegrad::Array<float>::from_shape({gh, gw});
  std::fill(grid.begin(), grid.end(), pad_value);
  const float* src = images.data();
  float* dst = grid.data();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t top = pad + (k / cols) * (h + pad), left = pad + (k % cols) * (w + pad);
    for (std::size_t i = 0; i < h; ++i) {
      std::copy_n(src + (k * h + i) * w, w, dst + (top + i) * gw + left);
    }
  }
  return grid;
}

}  // namespace tapegrad::data
