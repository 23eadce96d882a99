#pragma once
// Taped 2-D convolutions. Both reduce to one zero-padded convolution problem
// (kernels/conv_problem.hpp) and three taped ops over it, each the derivative of the
// others (docs/convolution.md, "Second derivatives"):
//
//   forward   y  = conv(x, W) + b
//   adjoint   x  = convᵀ(y, W) + b       (conv2d's input gradient; conv_transpose2d)
//   weight    dW = Σ y ⊗ im2col(x)       (the weight gradient of either)
//
// so the convolutions are differentiable any number of times, with every option.
#include <cstdint>
#include <optional>
#include <tapegrad/core/kernels/conv_options.hpp>
#include <tapegrad/core/tensor.hpp>
#include <vector>

namespace tapegrad {

using kernels::Conv2dOptions;
using kernels::ConvTranspose2dOptions;
using kernels::PaddingMode;

/// y = conv2d(x, weight) + bias. x [N, C_in, H, W] or [C_in, H, W];
/// weight [C_out, C_in/groups, kH, kW]; bias [C_out] or an undefined Tensor.
/// H_out = floor((H + 2p − d(kH − 1) − 1)/s) + 1 (likewise W).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
              const Conv2dOptions& options = {});

/// y = conv_transpose2d(x, weight) + bias. weight [C_in, C_out/groups, kH, kW].
/// H_out = (H − 1)s − 2p + d(kH − 1) + output_padding + 1; `output_size` ({H_out, W_out}
/// or the full shape) chooses output_padding instead.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
                        const ConvTranspose2dOptions& options = {},
                        const std::optional<std::vector<std::int64_t>>& output_size = std::nullopt);

}  // namespace tapegrad
