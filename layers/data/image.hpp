#pragma once
// Pictures for people: image grids (what an autoencoder reconstructs) to save as
// PNG. The PNG encoder (png.hpp) and the line plot (plot.hpp) have their own
// headers; this one includes both, so that one include gives all the pictures.
#include <cstddef>
#include <tapegrad/core/allocator.hpp>
#include <tapegrad/layers/data/plot.hpp>
#include <tapegrad/layers/data/png.hpp>

namespace tapegrad::data {

/// Tiles images [N, 1, H, W] or [N, H, W] row by row into one image
/// [rows*H + (rows+1)*pad, cols*W + (cols+1)*pad], with `pad` pixels of
/// `pad_value` around and between the tiles; cells past the N-th stay
/// pad_value. Throws std::invalid_argument when N > rows*cols, rows or cols is
/// 0, or the shape is not one of those above.
tapegrad::Array<float> image_grid(const tapegrad::Array<float>& images, std::size_t rows,
                                  std::size_t cols, std::size_t pad = 2, float pad_value = 1.0f);

}  // namespace tapegrad::data
