#pragma once
// Dropout: zeroes elements (or whole channels) with probability p during training and
// scales the rest by 1/(1 − p), so the expected value is unchanged. The scaled mask is
// kept for backward, which is grad·mask: linear, so differentiable any number of times.
#include <tapegrad/core/generator.hpp>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

/// Each element is zeroed with probability p (drawn from `gen`) and the others scaled
/// by 1/(1 − p), as torch.nn.functional.dropout; p = 1 gives zeros; the input itself
/// when not training or p = 0. p outside [0, 1] is refused.
Tensor dropout(const Tensor& input, double p, bool training, Generator& gen);

/// Channel dropout, as torch.nn.functional.dropout2d: every [H, W] plane of an
/// [N, C, H, W] input (or of a [C, H, W] input, taken as unbatched) is zeroed as a
/// whole with probability p, the others scaled by 1/(1 − p).
Tensor dropout2d(const Tensor& input, double p, bool training, Generator& gen);

}  // namespace tapegrad
