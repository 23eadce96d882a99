#pragma once
// More activations: GELU, SiLU, Softplus, ELU, Hardtanh and ReLU6, as PyTorch
// computes them. Each backward is a taped op of its own (gelu_backward, ...) whose
// derivatives are again taped ops, so these are differentiable any number of times.
#include <string>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

/// x·Φ(x) with Φ the standard normal CDF (approximate "none", via erf), or
/// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (approximate "tanh").
Tensor gelu(const Tensor& input, const std::string& approximate = "none");
/// x·sigmoid(x) (a.k.a. swish).
Tensor silu(const Tensor& input);
/// log(1 + e^(β·x))/β, or x where β·x > threshold (where the two agree to rounding).
Tensor softplus(const Tensor& input, double beta = 1.0, double threshold = 20.0);
/// x if x > 0 else α·(e^x − 1).
Tensor elu(const Tensor& input, double alpha = 1.0);
/// x clamped to [min_val, max_val].
Tensor hardtanh(const Tensor& input, double min_val = -1.0, double max_val = 1.0);
/// min(max(x, 0), 6) = hardtanh(x, 0, 6).
Tensor relu6(const Tensor& input);

/// g·(Φ(x) + x·φ(x)) (or the tanh form's derivative).
Tensor gelu_backward(const Tensor& grad, const Tensor& input,
                     const std::string& approximate = "none");
/// g·s·(1 + x·(1 − s)) with s = sigmoid(x).
Tensor silu_backward(const Tensor& grad, const Tensor& input);
/// g·e^(βx)/(e^(βx) + 1), or g where β·x > threshold.
Tensor softplus_backward(const Tensor& grad, const Tensor& input, double beta, double threshold);
/// g·α·e^x where x ≤ 0, else g.
Tensor elu_backward(const Tensor& grad, const Tensor& input, double alpha);
/// g where min_val < x < max_val, else 0.
Tensor hardtanh_backward(const Tensor& grad, const Tensor& input, double min_val, double max_val);

}  // namespace tapegrad
