#pragma once
// im2col / col2im: the data rearrangement that turns a convolution into a GEMM.
//
// For an input x [N, C, H, W] and a kernel kH×kW with stride s, top/left padding p
// and dilation d, im2col builds the matrix
//
//   cols[(c·kH + u)·kW + v,  n·L + i·W_out + j] = x[n, c, s_h·i − p_h + d_h·u,
//                                                       s_w·j − p_w + d_w·v]
//
// (zero where the index falls outside x), L = H_out·W_out. All samples sit side by
// side in the columns, so a convolution over the whole batch is one GEMM per group:
// y_g [C_out/g, N·L] = W_g [C_out/g, C_in/g·kH·kW] · cols_g. col2im is the adjoint
// (transpose) of im2col: it adds every column entry back onto the input position it
// was read from, so overlapping windows accumulate.
#include <array>
#include <cstdint>
#include <tapegrad/core/allocator.hpp>
#include <tapegrad/core/kernels/conv_options.hpp>
#include <vector>

namespace tapegrad::kernels {

/// Window geometry of im2col / col2im, per dimension {height, width}.
struct Im2colParams {
  std::array<std::int64_t, 2> kernel{1, 1};
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> padding{0, 0};  ///< on both sides
  std::array<std::int64_t, 2> dilation{1, 1};
};

/// x [C, H, W] or [N, C, H, W] -> cols [C·kH·kW, N·H_out·W_out] (N = 1 when
/// unbatched), with H_out = floor((H + 2p − d·(kH − 1) − 1) / s) + 1 (likewise W_out).
/// Throws std::invalid_argument ("im2col: ...") on bad ranks or parameters, or a
/// window larger than the padded input.
template <class T>
Array<T> im2col(const Array<T>& input, const Im2colParams& params);

/// The adjoint of im2col: cols [C·kH·kW, N·H_out·W_out] -> x of `input_shape`
/// ([C, H, W] or [N, C, H, W]), summing every entry onto the input position im2col
/// read it from (entries that came from padding are dropped). Throws
/// std::invalid_argument ("col2im: ...") when cols does not match the shape.
template <class T>
Array<T> col2im(const Array<T>& cols, const Shape& input_shape, const Im2colParams& params);

namespace detail {

/// The raw geometry the pointer-level kernels work with. Padding is top/left only:
/// bottom/right padding shows up only through out_h/out_w, which lets "same" padding
/// be asymmetric and lets a transposed convolution use fewer output rows than the
/// conv formula gives (output_padding >= stride, allowed when < dilation).
struct PlaneGeometry {
  std::int64_t channels = 0, height = 0, width = 0;  // input planes
  std::int64_t out_h = 0, out_w = 0;
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_top = 0, pad_left = 0;
  std::int64_t dilation_h = 1, dilation_w = 1;

  /// True when im2col is the identity on each sample (1×1 kernel, stride 1, no
  /// padding, output size = input size): the input planes are already the columns.
  bool is_pointwise() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_top == 0 &&
           pad_left == 0 && out_h == height && out_w == width;
  }

  /// True when the one window covers the whole unpadded plane, tap by tap (kernel =
  /// plane size, no padding, no gaps, 1×1 output): then im2col of a sample is just its
  /// flattened [C·H·W] vector, and the convolution is a fully connected layer.
  bool is_dense() const {
    return out_h == 1 && out_w == 1 && pad_top == 0 && pad_left == 0 && kernel_h == height &&
           kernel_w == width && (dilation_h == 1 || kernel_h == 1) &&
           (dilation_w == 1 || kernel_w == 1);
  }
};

/// Output positions [lo, hi) along one axis, possibly empty (lo == hi).
struct Range {
  std::int64_t lo, hi;
};

/// Kernel tap (u, v): its input offsets (u·d_h − pad_top, v·d_w − pad_left) and the
/// output rows/columns whose input position lies inside the plane. Tables of taps
/// keep the integer divisions out of the inner loops, which on small planes would
/// otherwise cost more than the copies.
struct Tap {
  std::int64_t off_h, off_w;
  Range rows, cols;
};

/// The taps of g in row-major (u, v) order.
std::vector<Tap> tap_table(const PlaneGeometry& g);

/// im2col of `batch` samples: sample n's planes start at x + n·sample_stride (channel c
/// at + c·H·W). Writes cols[(c·kH + u)·kW + v][n·L + l] with row stride ld_cols >=
/// batch·L. OpenMP-parallel over (row, sample).
template <class T>
void im2col_batch(const T* x, std::int64_t batch, std::int64_t sample_stride,
                  const PlaneGeometry& g, T* cols, std::int64_t ld_cols);

/// The adjoint of im2col_batch: adds cols back onto x (which the caller initialises,
/// e.g. with zeros). OpenMP-parallel over (sample, channel) planes, so no two threads
/// write the same element.
template <class T>
void col2im_batch(const T* cols, std::int64_t ld_cols, std::int64_t batch,
                  std::int64_t sample_stride, const PlaneGeometry& g, T* x);

}  // namespace detail
}  // namespace tapegrad::kernels
