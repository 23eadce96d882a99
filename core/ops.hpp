#pragma once
// Differentiable ops. Each computes its value with xtensor and records a
// hand-written backward closure on the current tape.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <tapegrad/core/tape.hpp>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

/// Elementwise a + b with NumPy/PyTorch broadcasting.
Tensor add(const Tensor& a, const Tensor& b);
/// Elementwise a - b (broadcasting).
Tensor sub(const Tensor& a, const Tensor& b);
/// Elementwise a * b (broadcasting).
Tensor mul(const Tensor& a, const Tensor& b);
/// Elementwise a / b (broadcasting).
Tensor div(const Tensor& a, const Tensor& b);
/// -a.
Tensor neg(const Tensor& a);
/// e^a.
Tensor exp(const Tensor& a);
/// Natural logarithm.
Tensor log(const Tensor& a);
/// a^exponent for a scalar exponent.
Tensor pow(const Tensor& a, double exponent);
/// Square root.
Tensor sqrt(const Tensor& a);

/// Matrix product: [m,k]@[k,n]; batched [...,m,k]@[...,k,n] with broadcast batch
/// dims; 1-d operands are promoted and the added dim removed, as torch.matmul.
Tensor matmul(const Tensor& a, const Tensor& b);

/// Sum of all elements (0-d result).
Tensor sum(const Tensor& a);
/// Sum over `dims` (negative dims count from the end); keepdim keeps them as size 1.
Tensor sum(const Tensor& a, const std::vector<std::int64_t>& dims, bool keepdim = false);
/// Mean of all elements.
Tensor mean(const Tensor& a);
/// Mean over `dims`.
Tensor mean(const Tensor& a, const std::vector<std::int64_t>& dims, bool keepdim = false);

/// Same elements, new shape; one entry may be -1 (inferred).
Tensor reshape(const Tensor& a, const std::vector<std::int64_t>& shape);
/// Alias of reshape (tapegrad tensors are always contiguous).
Tensor view(const Tensor& a, const std::vector<std::int64_t>& shape);
/// Flattens dims start_dim..end_dim into one.
Tensor flatten(const Tensor& a, std::int64_t start_dim = 0, std::int64_t end_dim = -1);
/// Swaps two dims.
Tensor transpose(const Tensor& a, std::int64_t dim0, std::int64_t dim1);
/// Reorders dims.
Tensor permute(const Tensor& a, const std::vector<std::int64_t>& dims);

/// max(a, 0).
Tensor relu(const Tensor& a);
/// a if a > 0 else slope * a.
Tensor leaky_relu(const Tensor& a, double negative_slope = 0.01);
/// 1 / (1 + e^-a).
Tensor sigmoid(const Tensor& a);
/// tanh(a).
Tensor tanh(const Tensor& a);

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

/// Operator sugar for the ops above; a double is a 0-d tensor of the other operand's dtype.
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(const Tensor& a, double b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(const Tensor& a, double b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(const Tensor& a, double b);
Tensor operator/(double a, const Tensor& b);

/// Shape that a and b broadcast to; throws naming `op` and both shapes otherwise.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

/// Sums `g` down to `shape` (undoes broadcasting) — used by backward closures.
template <class T>
xt::xarray<T> sum_to_shape(const xt::xarray<T>& g, const Shape& shape);

}  // namespace tapegrad
