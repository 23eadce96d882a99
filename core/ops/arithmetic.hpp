#pragma once
// Element-wise arithmetic with NumPy/PyTorch broadcasting, and the two ops that undo
// and do broadcasting (sum_to, expand). Every op's backward is written with these same
// ops, so gradients can be differentiated again.
#include <cstdint>
#include <tapegrad/core/tensor.hpp>
#include <vector>

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
/// |a| (gradient sign(a), 0 at 0, as PyTorch).
Tensor abs(const Tensor& a);
/// max(a, lo) elementwise; the gradient passes where a >= lo (PyTorch's clamp_min).
Tensor clamp_min(const Tensor& a, double lo);
/// min(a, hi) elementwise; the gradient passes where a <= hi.
Tensor clamp_max(const Tensor& a, double hi);
/// min(max(a, lo), hi); the gradient passes where lo <= a <= hi.
Tensor clamp(const Tensor& a, double lo, double hi);

/// Shape that a and b broadcast to; throws naming `op` and both shapes otherwise.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

/// Sums g over its broadcast dimensions down to `shape` (the adjoint of expand); g
/// itself when the shapes are equal.
Tensor sum_to(const Tensor& g, const Shape& shape);
/// Broadcasts a to `shape` (materialised), as Tensor.expand(shape).contiguous().
Tensor expand(const Tensor& a, const Shape& shape);

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

}  // namespace tapegrad
