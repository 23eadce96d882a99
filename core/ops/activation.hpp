#pragma once
// Activation functions. Each backward is a taped op of its own (relu_backward,
// sigmoid_backward, ...), one fused pass over the data, with a derivative of its own,
// so activations are differentiable any number of times.
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

/// max(a, 0).
Tensor relu(const Tensor& a);
/// a if a > 0 else negative_slope * a.
Tensor leaky_relu(const Tensor& a, double negative_slope = 0.01);
/// 1 / (1 + e^-a).
Tensor sigmoid(const Tensor& a);
/// tanh(a).
Tensor tanh(const Tensor& a);

/// The gradient ops (PyTorch's threshold_backward, sigmoid_backward, ...): g where
/// x > 0 else 0.
Tensor relu_backward(const Tensor& grad, const Tensor& input);
/// g where x > 0 else slope·g.
Tensor leaky_relu_backward(const Tensor& grad, const Tensor& input, double negative_slope);
/// g·y·(1 − y) for y = sigmoid(x).
Tensor sigmoid_backward(const Tensor& grad, const Tensor& output);
/// g·(1 − y²) for y = tanh(x).
Tensor tanh_backward(const Tensor& grad, const Tensor& output);

}  // namespace tapegrad
