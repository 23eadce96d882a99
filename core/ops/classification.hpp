#pragma once
// Classification losses on class-index targets (IndexTensor) and on class
// probabilities, with PyTorch's weight, ignore_index, reduction and label_smoothing.
// nll_loss and nll_loss_backward are each other's derivative (both are linear in the
// tensor they are differentiated by); cross_entropy is log_softmax followed by
// nll_loss plus, with label smoothing, a taped smoothing term, so all of them are
// differentiable any number of times. Class weights are constants (PyTorch does not
// differentiate nll_loss by its weight either).
#include <cstdint>
#include <tapegrad/core/index_tensor.hpp>
#include <tapegrad/core/ops/loss.hpp>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

/// −weight[t]·input[n, t, ...] per target t, as torch.nn.functional.nll_loss. Shapes:
/// input [C] with a 0-d target, [N, C] with [N], or [N, C, d1, ...] with [N, d1, ...].
/// `weight` (undefined for none) is a [C] tensor; targets equal to `ignore_index`
/// contribute nothing; the mean divides by the summed weights of the other targets
/// (NaN when all are ignored, as PyTorch).
Tensor nll_loss(const Tensor& input, const IndexTensor& target, const Tensor& weight = {},
                std::int64_t ignore_index = -100, Reduction reduction = Reduction::Mean);

/// The gradient of nll_loss by its input, for an output gradient `grad` (the shape of
/// nll_loss's output): −weight[t]·grad at each target, 0 elsewhere, divided by the
/// summed weights for the mean.
Tensor nll_loss_backward(const Tensor& grad, const Shape& input_shape, const IndexTensor& target,
                         const Tensor& weight, std::int64_t ignore_index, Reduction reduction);

/// Cross entropy of logits against class indices, as
/// torch.nn.functional.cross_entropy: nll_loss(log_softmax(input, class dim)), where
/// the class dim is 0 for a [C] input and 1 otherwise. With label_smoothing ε > 0 it is
/// (1 − ε)·nll + ε/C·Σ_c −weight[c]·log_softmax_c, the latter summed over the
/// non-ignored targets and, for the mean, divided by their summed weights (PyTorch
/// 1.13's formula). ε ≤ 0 means none; ε > 1 is refused.
Tensor cross_entropy(const Tensor& input, const IndexTensor& target, const Tensor& weight = {},
                     std::int64_t ignore_index = -100, Reduction reduction = Reduction::Mean,
                     double label_smoothing = 0.0);

/// Cross entropy against class probabilities `target` (the input's shape):
/// −Σ_c weight[c]·t'_c·log_softmax_c with t' = (1 − ε)·t + ε/C; the mean divides by the
/// number of samples (numel / C). Differentiable in the target too. An ignore_index
/// other than a negative one is refused, as PyTorch.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = {},
                     std::int64_t ignore_index = -100, Reduction reduction = Reduction::Mean,
                     double label_smoothing = 0.0);

}  // namespace tapegrad
