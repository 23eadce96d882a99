#pragma once
// Loss functions with PyTorch's `reduction` argument.
#include <string>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

/// Reduction of an elementwise loss, as PyTorch's `reduction` argument.
enum class Reduction { None, Mean, Sum };
/// Parses "none", "mean" or "sum".
Reduction parse_reduction(const std::string& s);

/// (input - target)^2, reduced. Shapes must be broadcast-compatible (PyTorch warns; we allow).
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
/// -(t log x + (1-t) log(1-x)), logs clamped at -100 as PyTorch; same shapes required.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target,
                            Reduction reduction = Reduction::Mean);
/// binary_cross_entropy(sigmoid(x), t), computed stably as max(x,0) - x t + log(1 + e^-|x|).
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        Reduction reduction = Reduction::Mean);

}  // namespace tapegrad
