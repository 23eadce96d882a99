#pragma once
// Padding of the last two dimensions, as torch.nn.functional.pad with two or four
// amounts.
#include <cstdint>
#include <tapegrad/core/kernels/conv_options.hpp>
#include <tapegrad/core/tensor.hpp>
#include <vector>

namespace tapegrad {

/// Pads the last dimension by {left, right}, or the last two by {left, right, top,
/// bottom} (PyTorch's order: last dimension first). Negative amounts crop. Modes:
/// Zeros (the constant `value`), Reflect, Replicate, Circular; the non-constant modes
/// need at least 2 dimensions (batch and channel dims in front are allowed) and
/// amounts that stay inside the input (reflect: < size; circular: <= size).
Tensor pad(const Tensor& input, const std::vector<std::int64_t>& amounts,
           kernels::PaddingMode mode = kernels::PaddingMode::Zeros, double value = 0.0);

}  // namespace tapegrad
