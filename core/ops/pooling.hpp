#pragma once
// Taped 2-D pooling over [N, C, H, W] or unbatched [C, H, W], with PyTorch's semantics,
// options, checks and messages (torch.nn.functional 1.13). Kernel, stride, padding and
// dilation take one value (both axes) or two (H, W); an empty stride means the kernel
// size. Every backward is a taped op linear in the incoming gradient (a scatter-add by
// the max indices, or the transposed averaging map), so all of them are
// differentiable any number of times (docs/pooling.md).
#include <cstdint>
#include <optional>
#include <tapegrad/core/index_tensor.hpp>
#include <tapegrad/core/tensor.hpp>
#include <utility>
#include <vector>

namespace tapegrad {

/// Max pooling. H_out = floor((H + 2p − d(k − 1) − 1 + (ceil_mode ? s − 1 : 0))/s) + 1,
/// less one under ceil_mode when the last window would start past the input and the
/// left padding. Padding must be at most half the kernel.
Tensor max_pool2d(const Tensor& input, const std::vector<std::int64_t>& kernel_size,
                  const std::vector<std::int64_t>& stride = {},
                  const std::vector<std::int64_t>& padding = {0},
                  const std::vector<std::int64_t>& dilation = {1}, bool ceil_mode = false);

/// max_pool2d and, for each output element, the flat index (h·W + w) of its maximum in
/// its input plane: the first maximum in window order, or the last NaN (as PyTorch).
std::pair<Tensor, IndexTensor> max_pool2d_with_indices(
    const Tensor& input, const std::vector<std::int64_t>& kernel_size,
    const std::vector<std::int64_t>& stride = {}, const std::vector<std::int64_t>& padding = {0},
    const std::vector<std::int64_t>& dilation = {1}, bool ceil_mode = false);

/// The partial inverse of max_pool2d: zeros of the output size with each input value
/// written at its index (the last write wins). Output size (H − 1)s + k − 2p unless
/// `output_size` ({H, W} or {N, C, H, W}) picks one within a stride of it.
Tensor max_unpool2d(const Tensor& input, const IndexTensor& indices,
                    const std::vector<std::int64_t>& kernel_size,
                    const std::vector<std::int64_t>& stride = {},
                    const std::vector<std::int64_t>& padding = {0},
                    const std::optional<std::vector<std::int64_t>>& output_size = std::nullopt);

/// Average pooling (output size as max_pool2d with d = 1). The divisor is the window
/// clipped to the padded input (count_include_pad) or to the input, or divisor_override.
Tensor avg_pool2d(const Tensor& input, const std::vector<std::int64_t>& kernel_size,
                  const std::vector<std::int64_t>& stride = {},
                  const std::vector<std::int64_t>& padding = {0}, bool ceil_mode = false,
                  bool count_include_pad = true,
                  std::optional<std::int64_t> divisor_override = std::nullopt);

/// Adaptive average pooling to output_size {H_out, W_out} (std::nullopt keeps the input's
/// extent): window i spans [floor(i·H/H_out), ceil((i + 1)·H/H_out)).
Tensor adaptive_avg_pool2d(const Tensor& input,
                           const std::vector<std::optional<std::int64_t>>& output_size);

/// Adaptive max pooling (windows as adaptive_avg_pool2d) with the flat indices.
std::pair<Tensor, IndexTensor> adaptive_max_pool2d_with_indices(
    const Tensor& input, const std::vector<std::optional<std::int64_t>>& output_size);

/// Adaptive max pooling, values only.
Tensor adaptive_max_pool2d(const Tensor& input,
                           const std::vector<std::optional<std::int64_t>>& output_size);

}  // namespace tapegrad
