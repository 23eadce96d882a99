#pragma once
// Padding of image planes [planes, H, W] on the four sides, with PyTorch's modes:
// a constant (zeros), reflect (mirror about the edge, the edge not repeated),
// replicate (repeat the edge) and circular (wrap around). A negative amount crops.
// The padded plane is described by two index maps, one per axis: for each padded
// row/column, the input row/column it copies (or -1 for the constant). Its adjoint,
// fold_planes, sums each padded position's gradient back onto the input element it
// copied. Plain functions, no tape; pad() in core/ops/pad.hpp is the taped op.
#include <cstdint>
#include <tapegrad/core/kernels/conv_options.hpp>
#include <vector>

namespace tapegrad::kernels {

/// Index maps of a padded plane: rows[i] / cols[j] is the input row / column that
/// padded row i / column j copies, -1 for the constant.
struct PadMaps {
  std::vector<std::int64_t> rows, cols;
  std::int64_t padded_h() const { return static_cast<std::int64_t>(rows.size()); }
  std::int64_t padded_w() const { return static_cast<std::int64_t>(cols.size()); }
};

/// For each position of an axis padded by `before` and `after` (negative: cropped),
/// the input index it copies, or -1 for the constant (Zeros mode only). The caller
/// checks the amounts (reflect needs them < size, circular <= size, the result > 0).
std::vector<std::int64_t> pad_source_index(std::int64_t size, std::int64_t before,
                                           std::int64_t after, PaddingMode mode);

/// The maps of an H×W plane padded by (top, bottom, left, right).
PadMaps pad_maps(std::int64_t h, std::int64_t w, std::int64_t top, std::int64_t bottom,
                 std::int64_t left, std::int64_t right, PaddingMode mode);

/// xp [planes, Hp, Wp] <- x [planes, H, W] through the maps; `value` where they say -1.
/// OpenMP-parallel over planes.
template <class T>
void pad_planes(const T* x, std::int64_t planes, std::int64_t h, std::int64_t w, const PadMaps& m,
                T value, T* xp);

/// The adjoint: dx [planes, H, W] = Σ of dxp over the padded positions that copy each
/// input element (dx is overwritten; positions of the constant are dropped).
template <class T>
void fold_planes(const T* dxp, std::int64_t planes, std::int64_t h, std::int64_t w,
                 const PadMaps& m, T* dx);

}  // namespace tapegrad::kernels
