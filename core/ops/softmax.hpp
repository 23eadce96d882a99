#pragma once
// softmax and log_softmax over one dimension, numerically stable (the maximum of each
// slice is subtracted before exponentiating). Their gradients are taped ops of their
// own (softmax_backward, log_softmax_backward) whose derivatives are again taped, so
// both are differentiable any number of times.
#include <cstdint>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

/// e^x / Σ_dim e^x along `dim` (negative counts from the end), as torch.softmax.
Tensor softmax(const Tensor& input, std::int64_t dim);
/// x − log Σ_dim e^x along `dim`, as torch.log_softmax.
Tensor log_softmax(const Tensor& input, std::int64_t dim);

/// Gradient of softmax: y·(g − Σ_dim g·y) for y = softmax(x) (PyTorch's
/// _softmax_backward_data).
Tensor softmax_backward(const Tensor& grad, const Tensor& output, std::int64_t dim);
/// Gradient of log_softmax: g − e^y·Σ_dim g for y = log_softmax(x) (PyTorch's
/// _log_softmax_backward_data).
Tensor log_softmax_backward(const Tensor& grad, const Tensor& output, std::int64_t dim);

}  // namespace tapegrad
