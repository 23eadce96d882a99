#pragma once
// Direct kernels for convolutions whose every group sees a single input channel
// (groups = C_x): depthwise convolutions, with any channel multiplier m = C_y / C_x,
// and, as the case groups = C_x = 1, convolutions of one-channel images. There the
// im2col matrix of a group has only kH·kW rows (9 for 3×3), far too thin for a GEMM
// to run well, so each output plane is accumulated tap by tap instead.
//
// Same problem as the GEMM kernels (conv2d.cpp): x [batch, C_x, H, W] with samples
// `x_sample` apart, w [C_y, 1, kH, kW], y [batch, C_y, out_h, out_w]; output channel o
// reads input channel o / m. The geometry's padding is top/left only (see PlaneGeometry).
#include <cstdint>
#include <tapegrad/core/kernels/im2col.hpp>

namespace tapegrad::kernels::detail {

/// y = conv(x) + bias (bias may be null). OpenMP-parallel over output planes unless
/// called inside a parallel region.
template <class T>
void depthwise_forward(const T* x, std::int64_t batch, std::int64_t x_sample,
                       const PlaneGeometry& g, std::int64_t y_channels, const T* w, const T* bias,
                       T* y);

/// x = convᵀ(y) (init) or x += convᵀ(y): the adjoint in x. With init, plane c of x
/// starts from init_bias[c] (zero when init_bias is null). Parallel over input planes,
/// so no two threads add to the same element.
template <class T>
void depthwise_adjoint(const T* y, std::int64_t batch, std::int64_t x_sample,
                       const PlaneGeometry& g, std::int64_t y_channels, const T* w, T* x, bool init,
                       const T* init_bias);

/// dw [C_y, kH·kW] = Σ over the batch of y ⊗ im2col(x), the weight gradient. Each tap's
/// products are summed per row in T and the row sums in double. Parallel over output
/// channels.
template <class T>
void depthwise_weight_grad(const T* y, const T* x, std::int64_t batch, std::int64_t x_sample,
                           const PlaneGeometry& g, std::int64_t y_channels, T* dw);

}  // namespace tapegrad::kernels::detail
