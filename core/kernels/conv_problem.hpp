#pragma once
// The one computation every convolution here reduces to: a zero-padded convolution
// "x -> y" over a batch,
//
//   x [N, C_x, H, W]  --  weight [C_y, C_x/g, kH, kW]  -->  y [N, C_y, H_out, W_out]
//
// with top/left padding in `plane` (bottom/right padding shows only in H_out/W_out,
// which lets "same" padding be asymmetric). conv2d is this problem with x its input;
// conv_transpose2d is its adjoint, with x the transposed convolution's output and y its
// input. Three drivers compute everything the convolutions and their derivatives of any
// order need:
//
//   conv_forward      y  = conv(x, W) + b
//   conv_adjoint      x  = convᵀ(y, W) (+ b per channel of x): the input gradient of
//                          conv, and the forward of conv_transpose2d
//   conv_weight_grad  dW = Σ_n y_n ⊗ im2col(x_n): the weight gradient of Σ⟨y, conv(x)⟩
//
// How they run (docs/convolution.md): the batch is cut into chunks of whole samples
// whose im2col columns fit in L2 (2^15 elements); chunks run in one OpenMP region with
// single-threaded GEMMs; a sample with more than 2^18 elements of columns is done in
// bands of output rows; depthwise problems use the direct kernels of depthwise.hpp.
// Results do not depend on the number of threads, bit for bit.
#include <cstdint>
#include <tapegrad/core/kernels/im2col.hpp>

namespace tapegrad::kernels {

/// A zero-padded convolution over a batch (see the file comment).
struct ConvProblem {
  std::int64_t batch = 0, groups = 1, y_channels = 0;
  detail::PlaneGeometry plane;  ///< plane.channels = C_x

  std::int64_t spatial_out() const { return plane.out_h * plane.out_w; }  ///< L
  std::int64_t x_sample() const { return plane.channels * plane.height * plane.width; }
  std::int64_t y_sample() const { return y_channels * spatial_out(); }
  /// Rows of one group's columns: K = C_x/g · kH · kW.
  std::int64_t k() const { return plane.channels / groups * plane.kernel_h * plane.kernel_w; }
};

/// y = conv(x, w) + bias (bias may be null; y is overwritten).
template <class T>
void conv_forward(const ConvProblem& p, const T* x, const T* w, const T* bias, T* y);

/// x = convᵀ(y, w), the adjoint of conv_forward in x. With `init`, x is overwritten and
/// starts from bias[c] on every plane of channel c (zero when bias is null); without,
/// the result is added to x.
template <class T>
void conv_adjoint(const ConvProblem& p, const T* y, const T* w, T* x, bool init,
                  const T* bias = nullptr);

/// dw [C_y, C_x/g, kH, kW] = Σ_n y_n ⊗ im2col(x_n) (overwritten).
template <class T>
void conv_weight_grad(const ConvProblem& p, const T* y, const T* x, T* dw);

/// out[c] = Σ over n and l of t[n, c, l] for t [batch, channels, L]: the bias gradient.
/// Summed in double.
template <class T>
void channel_sum(const T* t, std::int64_t batch, std::int64_t channels, std::int64_t L, T* out);

/// Frees the calling thread's scratch buffers (im2col columns, gathered planes). The
/// drivers keep them between calls to avoid reallocating in every training step.
void release_conv_workspace();

}  // namespace tapegrad::kernels
