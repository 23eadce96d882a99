#include <cmath>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/ops/activation.hpp>
#include <tapegrad/core/ops/arithmetic.hpp>

namespace tapegrad {

using detail::map_grad;
using detail::map_unary;

Tensor relu(const Tensor& a) {
  Tensor out = map_unary("relu", a, [](auto x) { return x > decltype(x)(0) ? x : decltype(x)(0); });
  return record("relu", out, {a}, [](const GradContext& ctx) {
    ctx.accumulate(0, relu_backward(ctx.grad_output(), ctx.input(0)));
  });
}

Tensor relu_backward(const Tensor& grad, const Tensor& input) {
  Tensor out = map_grad("relu_backward", grad, input,
                        [](auto g, auto x) { return x > decltype(x)(0) ? g : decltype(g)(0); });
  // Linear in grad; piecewise constant in the input (no gradient there, as PyTorch).
  return record(
      "relu_backward", out, {grad, input},
      [](const GradContext& ctx) {
        if (ctx.needs_grad(0)) ctx.accumulate(0, relu_backward(ctx.grad_output(), ctx.input(1)));
      },
      Saved::of({1}));
}

Tensor leaky_relu(const Tensor& a, double slope) {
  Tensor out = map_unary("leaky_relu", a, [slope](auto x) {
    using T = decltype(x);
    return x > T(0) ? x : x * T(slope);
  });
  return record("leaky_relu", out, {a}, [slope](const GradContext& ctx) {
    ctx.accumulate(0, leaky_relu_backward(ctx.grad_output(), ctx.input(0), slope));
  });
}

Tensor leaky_relu_backward(const Tensor& grad, const Tensor& input, double slope) {
  Tensor out = map_grad("leaky_relu_backward", grad, input, [slope](auto g, auto x) {
    using T = decltype(x);
    return x > T(0) ? g : g * T(slope);
  });
  return record(
      "leaky_relu_backward", out, {grad, input},
      [slope](const GradContext& ctx) {
        if (ctx.needs_grad(0))
          ctx.accumulate(0, leaky_relu_backward(ctx.grad_output(), ctx.input(1), slope));
      },
      Saved::of({1}));
}

Tensor sigmoid(const Tensor& a) {
  Tensor out = map_unary("sigmoid", a, [](auto x) {
    using T = decltype(x);
    return T(1) / (T(1) + std::exp(-x));
  });
  return record(
      "sigmoid", out, {a},
      [](const GradContext& ctx) {
        ctx.accumulate(0, sigmoid_backward(ctx.grad_output(), ctx.output()));
      },
      Saved::only_output());
}

Tensor sigmoid_backward(const Tensor& grad, const Tensor& output) {
  Tensor out = map_grad("sigmoid_backward", grad, output, [](auto g, auto y) {
    using T = decltype(y);
    return g * y * (T(1) - y);
  });
  // d/dg = y(1 − y); d/dy = g(1 − 2y).
  return record("sigmoid_backward", out, {grad, output}, [](const GradContext& ctx) {
    const Tensor& gg = ctx.grad_output();
    const Tensor& g = ctx.input(0);
    const Tensor& y = ctx.input(1);
    if (ctx.needs_grad(0)) ctx.accumulate(0, sigmoid_backward(gg, y));
    if (ctx.needs_grad(1)) ctx.accumulate(1, mul(mul(gg, g), 1.0 - 2.0 * y));
  });
}

Tensor tanh(const Tensor& a) {
  Tensor out = map_unary("tanh", a, [](auto x) { return std::tanh(x); });
  return record(
      "tanh", out, {a},
      [](const GradContext& ctx) {
        ctx.accumulate(0, tanh_backward(ctx.grad_output(), ctx.output()));
      },
      Saved::only_output());
}

Tensor tanh_backward(const Tensor& grad, const Tensor& output) {
  Tensor out = map_grad("tanh_backward", grad, output, [](auto g, auto y) {
    using T = decltype(y);
    return g * (T(1) - y * y);
  });
  // d/dg = 1 − y²; d/dy = −2gy.
  return record("tanh_backward", out, {grad, output}, [](const GradContext& ctx) {
    const Tensor& gg = ctx.grad_output();
    const Tensor& g = ctx.input(0);
    const Tensor& y = ctx.input(1);
    if (ctx.needs_grad(0)) ctx.accumulate(0, tanh_backward(gg, y));
    if (ctx.needs_grad(1)) ctx.accumulate(1, mul(mul(gg, g), y) * -2.0);
  });
}

}  // namespace tapegrad
