#pragma once
// Batch, layer and group normalisation, as torch.nn.functional's. Each has a
// hand-derived backward (one fused pass per statistic, see docs/normalization.md)
// recorded as taped ops of its own, whose own backward is composed of taped ops, so
// the normalisations are twice differentiable (and more).
#include <array>
#include <cstdint>
#include <tapegrad/core/tensor.hpp>
#include <vector>

namespace tapegrad {

/// torch.nn.functional.batch_norm on [N, C], [N, C, L] or [N, C, H, W] (any [N, C, *]).
/// In training the batch mean and biased variance per channel normalise the input, and
/// running_mean / running_var, when defined, are updated in place with
/// r ← (1 − momentum)·r + momentum·stat, the variance unbiased (n/(n−1)); the functional
/// form takes the factor itself (a module passes 1/num_batches_tracked for a cumulative
/// average). In evaluation the running statistics normalise and must be defined. Any of
/// running_mean, running_var, weight, bias may be undefined. The running statistics are
/// constants for autograd. Training on one value per channel is PyTorch's error
/// "Expected more than 1 value per channel when training, got input size [1, 3]".
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = {}, const Tensor& bias = {}, bool training = false,
                  double momentum = 0.1, double eps = 1e-5);

/// Gradients of batch_norm with respect to input, weight and bias; an entry is
/// undefined when not asked for in output_mask (or weight is undefined, for weight).
struct NormGradients {
  Tensor input, weight, bias;
};

/// The backward of batch_norm as a taped op (PyTorch's native_batch_norm_backward):
/// one fused pass per channel computes all three gradients. mean and invstd ([C]) are
/// the statistics that normalised the input: in training the batch mean and
/// 1/√(var + eps), which must be those of `input` (its second derivative recomputes
/// them from input); in evaluation the running mean and 1/√(running_var + eps).
/// Each result is recorded, so the gradients are differentiable again.
NormGradients batch_norm_backward(const Tensor& grad_output, const Tensor& input,
                                  const Tensor& weight, const Tensor& mean, const Tensor& invstd,
                                  bool training, double eps,
                                  std::array<bool, 3> output_mask = {true, true, true});

/// torch.nn.functional.layer_norm: normalises over the trailing dimensions given by
/// normalized_shape (biased variance); weight and bias, when defined, have that shape.
Tensor layer_norm(const Tensor& input, const std::vector<std::int64_t>& normalized_shape,
                  const Tensor& weight = {}, const Tensor& bias = {}, double eps = 1e-5);

/// torch.nn.functional.group_norm on [N, C, *]: the C channels form num_groups groups,
/// each normalised over its channels and spatial positions per sample; weight and
/// bias, when defined, are per channel ([C]).
Tensor group_norm(const Tensor& input, std::int64_t num_groups, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5);

}  // namespace tapegrad
