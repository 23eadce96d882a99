#pragma once
// 2-D convolution and transposed convolution kernels: forward, dL/dinput, dL/dweight
// and dL/dbias as plain functions on xtensor arrays. They know nothing of the tape;
// the taped ops and the Conv2d / ConvTranspose2d layers call them.
//
// Semantics are PyTorch's (torch.nn.functional.conv2d / conv_transpose2d, plus the
// padding modes and output_size of the nn modules). With g groups:
//
//   conv2d            input [N, C_in, H, W]   weight [C_out, C_in/g, kH, kW]
//                     output [N, C_out, H_out, W_out],
//                     H_out = floor((H + 2p − d·(kH − 1) − 1) / s) + 1
//   conv_transpose2d  input [N, C_in, H, W]   weight [C_in, C_out/g, kH, kW]
//                     output [N, C_out, H_out, W_out],
//                     H_out = (H − 1)·s − 2p + d·(kH − 1) + output_padding + 1
//
// (likewise for W). Inputs may also be unbatched [C, H, W]; the output and the
// gradients then are unbatched too. An empty batch (N = 0) gives an empty output and
// zero gradients. Bias is [C_out] or absent (nullptr). Every function checks its
// arguments first (check_conv2d / check_conv_transpose2d, conv_options.hpp) and
// throws std::invalid_argument naming the function and the offending values.
//
// How it is computed (docs/convolution.md derives it): with cols = im2col(x), laid out
// [C_in/g·kH·kW, nb·H_out·W_out] per group for a chunk of nb samples (chunks run in
// parallel; depthwise convolutions use direct kernels instead, depthwise.hpp),
//   conv2d:  y_g = W_g · cols_g + b,   dW_g = dY_g · cols_gᵀ,   dx = col2im(W_gᵀ · dY_g),
//            db = Σ dY over batch and space;
//   conv_transpose2d is the adjoint of conv2d in x: its forward is col2im(W_gᵀ · x_g),
//            dx = W_g · im2col(dY) (a conv2d of dY), dW_g = x_g · im2col(dY)_gᵀ.
// No forward state is kept for the backward: each backward kernel recomputes the
// im2col columns it needs (cheap next to the GEMMs, and it keeps memory flat).
#include <cstdint>
#include <optional>
#include <tapegrad/core/allocator.hpp>
#include <tapegrad/core/kernels/conv_options.hpp>
#include <tapegrad/core/kernels/conv_problem.hpp>
#include <type_traits>
#include <vector>

namespace tapegrad::kernels {

// ---- conv2d --------------------------------------------------------------------

/// y = conv2d(x, w) + b. x [N, C_in, H, W] or [C_in, H, W]; w [C_out, C_in/g, kH, kW];
/// bias [C_out] or nullptr. Returns [N, C_out, H_out, W_out] (unbatched if x is).
template <class T>
Array<T> conv2d_forward(const Array<T>& input, const Array<T>& weight,
                        const std::type_identity_t<Array<T>>* bias, const Conv2dOptions& opts = {});

/// dL/dx from dL/dy for y = conv2d(x, w): shape `input_shape`. Non-zeros padding
/// modes fold the gradient of the padded input back onto x.
template <class T>
Array<T> conv2d_backward_input(const Array<T>& grad_output, const Array<T>& weight,
                               const Shape& input_shape, const Conv2dOptions& opts = {});

/// dL/dw from dL/dy for y = conv2d(x, w): shape `weight_shape`, summed over the batch.
template <class T>
Array<T> conv2d_backward_weight(const Array<T>& grad_output, const Array<T>& input,
                                const Shape& weight_shape, const Conv2dOptions& opts = {});

/// dL/db from dL/dy [N, C_out, H_out, W_out] (or unbatched): [C_out], the sum over
/// the batch and both spatial dimensions.
template <class T>
Array<T> conv2d_backward_bias(const Array<T>& grad_output);

// ---- conv_transpose2d ------------------------------------------------------------

/// y = conv_transpose2d(x, w) + b. x [N, C_in, H, W] or [C_in, H, W];
/// w [C_in, C_out/g, kH, kW]; bias [C_out] or nullptr. `output_size` ({H_out, W_out}
/// or the full output shape) picks the output_padding, as PyTorch's
/// ConvTranspose2d.forward(input, output_size) does.
template <class T>
Array<T> conv_transpose2d_forward(
    const Array<T>& input, const Array<T>& weight, const std::type_identity_t<Array<T>>* bias,
    const ConvTranspose2dOptions& opts = {},
    const std::optional<std::vector<std::int64_t>>& output_size = std::nullopt);

/// dL/dx from dL/dy for y = conv_transpose2d(x, w): shape `input_shape`. The output
/// size is read from grad_output: when its spatial size differs from the one the
/// options' output_padding gives, it is taken as the forward's output_size (and must
/// lie in the range output_size allows).
template <class T>
Array<T> conv_transpose2d_backward_input(const Array<T>& grad_output, const Array<T>& weight,
                                         const Shape& input_shape,
                                         const ConvTranspose2dOptions& opts = {});

/// dL/dw from dL/dy for y = conv_transpose2d(x, w): shape `weight_shape`, summed over
/// the batch. The output size is read from grad_output as in the input gradient.
template <class T>
Array<T> conv_transpose2d_backward_weight(const Array<T>& grad_output, const Array<T>& input,
                                          const Shape& weight_shape,
                                          const ConvTranspose2dOptions& opts = {});

/// dL/db from dL/dy: [C_out], the sum over the batch and both spatial dimensions.
template <class T>
Array<T> conv_transpose2d_backward_bias(const Array<T>& grad_output);

// ---- the problems behind them ----------------------------------------------------

/// True when conv2d pads its input explicitly (reflect / replicate / circular with a
/// non-zero padding) before an unpadded convolution.
bool has_explicit_padding(const Conv2dGeometry& g);

/// The zero-padded problem of conv2d (conv_problem.hpp): x is the input (explicitly
/// padded first when has_explicit_padding), y the output.
ConvProblem conv2d_problem(const Conv2dGeometry& g);

/// The convolution whose adjoint conv_transpose2d is: x is the transposed
/// convolution's output, y its input, with the same weight, stride, padding, dilation
/// and groups.
ConvProblem conv_transpose2d_problem(const Conv2dGeometry& g);

}  // namespace tapegrad::kernels
