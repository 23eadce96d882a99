#include <cmath>
#include <numeric>
#include <stdexcept>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/ops/activation.hpp>
#include <tapegrad/core/ops/arithmetic.hpp>
#include <tapegrad/core/ops/loss.hpp>
#include <xtensor/xbroadcast.hpp>

namespace tapegrad {

using detail::new_array;
using detail::scalar_like;

Reduction parse_reduction(const std::string& s) {
  if (s == "none") return Reduction::None;
  if (s == "mean") return Reduction::Mean;
  if (s == "sum") return Reduction::Sum;
  throw std::invalid_argument("reduction: " + s +
                              " is not a valid value for reduction (expected 'none', 'mean' or "
                              "'sum')");
}

namespace {

void check_same_size(const char* op, const Tensor& x, const Tensor& t) {
  if (x.shape() != t.shape())
    throw std::invalid_argument(std::string(op) + ": Using a target size (" + shape_str(t.shape()) +
                                ") that is different to the input size (" + shape_str(x.shape()) +
                                ") is deprecated. Please ensure they have the same size.");
}

// Value of a pointwise loss l(x, t) over the broadcast shape, then reduced (the sum in
// double, as before).
template <class L>
Tensor pointwise_value(const char* op, const Tensor& x, const Tensor& t, Reduction red, L l) {
  check_defined(op, x, "input");
  check_defined(op, t, "target");
  check_same_dtype(op, x, t);
  const Shape full = broadcast_shapes(op, x.shape(), t.shape());
  return dispatch(x.dtype(), [&]<class T>() {
    Array<T> v = new_array<T>(op, full);
    {
      auto bx = xt::broadcast(x.value<T>(), full);
      auto bt = xt::broadcast(t.value<T>(), full);
      auto ix = bx.begin();
      auto it = bt.begin();
      if (x.shape() == full && t.shape() == full) {
        const T* px = x.value<T>().data();
        const T* pt = t.value<T>().data();
        T* pv = v.data();
        for (std::size_t i = 0, n = v.size(); i < n; ++i) pv[i] = l(px[i], pt[i]);
      } else {
        for (auto iv = v.begin(); iv != v.end(); ++iv, ++ix, ++it) *iv = l(*ix, *it);
      }
    }
    if (red == Reduction::None) return Tensor::from_array(std::move(v));
    const double total = std::accumulate(v.begin(), v.end(), 0.0);
    const double r = red == Reduction::Sum ? total : total / static_cast<double>(v.size());
    return Tensor::scalar(r, dtype_of<T>());
  });
}

// The mean's 1/n, applied to the per-element gradient last, as PyTorch's backward
// formulas do (so the rounding matches theirs).
Tensor mean_scaled(const Tensor& grad, Reduction red, std::size_t n) {
  if (red != Reduction::Mean) return grad;
  return div(grad, scalar_like(static_cast<double>(n), grad));
}

std::size_t broadcast_numel(const char* op, const Tensor& x, const Tensor& t) {
  return checked_numel(op, broadcast_shapes(op, x.shape(), t.shape()));
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction red) {
  Tensor out = pointwise_value("mse_loss", input, target, red, [](auto x, auto t) {
    const auto d = x - t;
    return d * d;
  });
  const std::size_t n = broadcast_numel("mse_loss", input, target);
  // d/dx = norm·(x − t)·g with norm = 2/n for the mean and 2 otherwise (PyTorch's
  // mse_loss_backward); d/dt = −d/dx.
  return record("mse_loss", out, {input, target}, [red, n](const GradContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& t = ctx.input(1);
    const Tensor& g = ctx.grad_output();
    const double norm = red == Reduction::Mean ? 2.0 / static_cast<double>(n) : 2.0;
    const Tensor gx = mul(mul(scalar_like(norm, g), sub(x, t)), g);
    if (ctx.needs_grad(0)) ctx.accumulate(0, sum_to(gx, x.shape()));
    if (ctx.needs_grad(1)) ctx.accumulate(1, sum_to(neg(gx), t.shape()));
  });
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, Reduction red) {
  constexpr const char* op = "binary_cross_entropy";
  check_defined(op, input, "input");
  check_defined(op, target, "target");
  check_same_size(op, input, target);
  dispatch(input.dtype(), [&]<class T>() {
    for (T v : input.value<T>())
      if (!(v >= T(0) && v <= T(1)))
        throw std::invalid_argument(
            "binary_cross_entropy: all elements of input should be between 0 and 1");
  });
  // PyTorch clamps each log at -100 so that x = 0 or 1 gives a finite loss.
  Tensor out = pointwise_value(op, input, target, red, [](auto x, auto t) {
    using T = decltype(x);
    return -(t * std::max(std::log(x), T(-100)) +
             (T(1) - t) * std::max(std::log(T(1) - x), T(-100)));
  });
  const std::size_t n = input.numel();
  // d/dx = (x − t) / max(x(1 − x), 1e-12) · g' (PyTorch's backward);
  // d/dt = (max(log(1 − x), −100) − max(log x, −100)) · g'.
  return record(op, out, {input, target}, [red, n](const GradContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& t = ctx.input(1);
    const Tensor& g = ctx.grad_output();
    if (ctx.needs_grad(0))
      ctx.accumulate(
          0, mean_scaled(mul(div(sub(x, t), clamp_min(mul(1.0 - x, x), 1e-12)), g), red, n));
    if (ctx.needs_grad(1))
      ctx.accumulate(
          1, mean_scaled(mul(sub(clamp_min(log(1.0 - x), -100.0), clamp_min(log(x), -100.0)), g),
                         red, n));
  });
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, Reduction red) {
  constexpr const char* op = "binary_cross_entropy_with_logits";
  check_defined(op, input, "input");
  check_defined(op, target, "target");
  check_same_size(op, input, target);
  // max(x, 0) − x t + log(1 + e^−|x|): never exponentiates a large positive number.
  Tensor out = pointwise_value(op, input, target, red, [](auto x, auto t) {
    using T = decltype(x);
    return std::max(x, T(0)) - x * t + std::log1p(std::exp(-std::abs(x)));
  });
  const std::size_t n = input.numel();
  // d/dx = (sigmoid(x) − t)·g', d/dt = −x·g'.
  return record(op, out, {input, target}, [red, n](const GradContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor& t = ctx.input(1);
    const Tensor& g = ctx.grad_output();
    if (ctx.needs_grad(0)) ctx.accumulate(0, mean_scaled(mul(sub(sigmoid(x), t), g), red, n));
    if (ctx.needs_grad(1)) ctx.accumulate(1, mean_scaled(mul(neg(x), g), red, n));
  });
}

}  // namespace tapegrad
