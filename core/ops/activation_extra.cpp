#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/ops/activation.hpp>
#include <tapegrad/core/ops/activation_extra.hpp>
#include <tapegrad/core/ops/arithmetic.hpp>

namespace tapegrad {

using detail::map_grad;
using detail::map_unary;

namespace {

// A constant 0/1 tensor: 1 where pred(x) holds. Multiplying by it restricts a taped
// formula to a region where a piecewise function has that formula.
template <class P>
Tensor region(const Tensor& x, P pred) {
  return map_unary("region", x,
                   [pred](auto v) { return pred(v) ? decltype(v)(1) : decltype(v)(0); });
}

enum class GeluKind { None, Tanh };

GeluKind gelu_kind(const std::string& approximate) {
  if (approximate == "none") return GeluKind::None;
  if (approximate == "tanh") return GeluKind::Tanh;
  throw std::invalid_argument("gelu: approximate argument must be either none or tanh. (got '" +
                              approximate + "')");
}

// PyTorch's constants (GeluKernel.cpp).
constexpr double kAlpha = M_SQRT1_2;                   // 1/√2
constexpr double kPdf = M_2_SQRTPI * M_SQRT1_2 * 0.5;  // 1/√(2π)
constexpr double kBeta = M_SQRT2 * M_2_SQRTPI * 0.5;   // √(2/π)
constexpr double kKappa = 0.044715;

}  // namespace

Tensor gelu(const Tensor& input, const std::string& approximate) {
  const GeluKind kind = gelu_kind(approximate);
  Tensor out = map_unary("gelu", input, [kind](auto x) {
    using T = decltype(x);
    if (kind == GeluKind::None) return x * T(0.5) * (T(1) + std::erf(x * T(kAlpha)));
    const T inner = T(kBeta) * (x + T(kKappa) * x * x * x);
    return T(0.5) * x * (T(1) + std::tanh(inner));
  });
  return record("gelu", out, {input}, [approximate](const GradContext& ctx) {
    ctx.accumulate(0, gelu_backward(ctx.grad_output(), ctx.input(0), approximate));
  });
}

Tensor gelu_backward(const Tensor& grad, const Tensor& input, const std::string& approximate) {
  const GeluKind kind = gelu_kind(approximate);
  Tensor out = map_grad("gelu_backward", grad, input, [kind](auto g, auto x) {
    using T = decltype(x);
    if (kind == GeluKind::None) {
      const T cdf = T(0.5) * (T(1) + std::erf(x * T(kAlpha)));
      const T pdf = std::exp(T(-0.5) * x * x) * T(kPdf);
      return g * (cdf + x * pdf);
    }
    const T x_sq = x * x;
    const T inner = T(kBeta) * (x + T(kKappa) * x_sq * x);
    const T t = std::tanh(inner);
    const T left = T(0.5) * x;
    const T right = T(1) + t;
    const T right_derivative =
        left * (T(1) - t * t) * (T(kBeta) * (T(1) + T(3) * T(kKappa) * x_sq));
    return g * (T(0.5) * right + right_derivative);
  });
  // d/dg: gelu_backward(gg, x). d/dx: gg·g·gelu''(x), with gelu'' = φ(x)·(2 − x²) for
  // "none" and (1 − t²)·(u' − x·t·u'² + x·u''/2) for "tanh" (docs/classification.md §5).
  return record("gelu_backward", out, {grad, input}, [kind, approximate](const GradContext& ctx) {
    const Tensor& gg = ctx.grad_output();
    const Tensor& g = ctx.input(0);
    const Tensor& x = ctx.input(1);
    if (ctx.needs_grad(0)) ctx.accumulate(0, gelu_backward(gg, x, approximate));
    if (!ctx.needs_grad(1)) return;
    Tensor second;
    if (kind == GeluKind::None) {
      const Tensor x2 = mul(x, x);
      second = mul(exp(x2 * -0.5) * kPdf, 2.0 - x2);
    } else {
      const Tensor x2 = mul(x, x);
      const Tensor t = tanh(mul(x + mul(x2, x) * kKappa, Tensor::scalar(kBeta, x.dtype())));
      const Tensor du = (x2 * (3.0 * kKappa) + 1.0) * kBeta;  // u'
      const Tensor ddu = x * (6.0 * kBeta * kKappa);          // u''
      second = mul(1.0 - mul(t, t), du - mul(mul(x, t), mul(du, du)) + mul(x, ddu) * 0.5);
    }
    ctx.accumulate(1, mul(mul(gg, g), second));
  });
}

Tensor silu(const Tensor& input) {
  Tensor out = map_unary("silu", input, [](auto x) {
    using T = decltype(x);
    return x / (T(1) + std::exp(-x));
  });
  return record("silu", out, {input}, [](const GradContext& ctx) {
    ctx.accumulate(0, silu_backward(ctx.grad_output(), ctx.input(0)));
  });
}

Tensor silu_backward(const Tensor& grad, const Tensor& input) {
  Tensor out = map_grad("silu_backward", grad, input, [](auto g, auto x) {
    using T = decltype(x);
    const T s = T(1) / (T(1) + std::exp(-x));
    return g * s * (T(1) + x * (T(1) - s));
  });
  // d/dx of s·(1 + x(1 − s)) = s(1 − s)·(2 + x(1 − 2s)).
  return record("silu_backward", out, {grad, input}, [](const GradContext& ctx) {
    const Tensor& gg = ctx.grad_output();
    const Tensor& g = ctx.input(0);
    const Tensor& x = ctx.input(1);
    if (ctx.needs_grad(0)) ctx.accumulate(0, silu_backward(gg, x));
    if (ctx.needs_grad(1)) {
      const Tensor s = sigmoid(x);
      const Tensor second = mul(mul(s, 1.0 - s), mul(x, 1.0 - s * 2.0) + 2.0);
      ctx.accumulate(1, mul(mul(gg, g), second));
    }
  });
}

Tensor softplus(const Tensor& input, double beta, double threshold) {
  Tensor out = map_unary("softplus", input, [beta, threshold](auto x) {
    using T = decltype(x);
    return x * T(beta) > T(threshold) ? x : std::log1p(std::exp(x * T(beta))) / T(beta);
  });
  return record("softplus", out, {input}, [beta, threshold](const GradContext& ctx) {
    ctx.accumulate(0, softplus_backward(ctx.grad_output(), ctx.input(0), beta, threshold));
  });
}

Tensor softplus_backward(const Tensor& grad, const Tensor& input, double beta, double threshold) {
  Tensor out = map_grad("softplus_backward", grad, input, [beta, threshold](auto g, auto x) {
    using T = decltype(x);
    const T z = std::exp(x * T(beta));
    return x * T(beta) > T(threshold) ? g : g * z / (z + T(1));
  });
  // Below the threshold the derivative is s = sigmoid(βx), whose own is β·s(1 − s);
  // above it, 1 and 0.
  return record("softplus_backward", out, {grad, input}, [beta, threshold](const GradContext& ctx) {
    const Tensor& gg = ctx.grad_output();
    const Tensor& g = ctx.input(0);
    const Tensor& x = ctx.input(1);
    if (ctx.needs_grad(0)) ctx.accumulate(0, softplus_backward(gg, x, beta, threshold));
    if (ctx.needs_grad(1)) {
      const Tensor below = region(x, [beta, threshold](auto v) {
        using T = decltype(v);
        return !(v * T(beta) > T(threshold));
      });
      const Tensor s = sigmoid(x * beta);
      ctx.accumulate(1, mul(mul(gg, g), mul(below, mul(s, 1.0 - s) * beta)));
    }
  });
}

Tensor elu(const Tensor& input, double alpha) {
  Tensor out = map_unary("elu", input, [alpha](auto x) {
    using T = decltype(x);
    return x <= T(0) ? (std::exp(x) - T(1)) * T(alpha) : x;
  });
  return record("elu", out, {input}, [alpha](const GradContext& ctx) {
    ctx.accumulate(0, elu_backward(ctx.grad_output(), ctx.input(0), alpha));
  });
}

Tensor elu_backward(const Tensor& grad, const Tensor& input, double alpha) {
  Tensor out = map_grad("elu_backward", grad, input, [alpha](auto g, auto x) {
    using T = decltype(x);
    return x <= T(0) ? g * T(alpha) * std::exp(x) : g;
  });
  // d/dx: α·e^x·g·gg where x ≤ 0, 0 elsewhere.
  return record("elu_backward", out, {grad, input}, [alpha](const GradContext& ctx) {
    const Tensor& gg = ctx.grad_output();
    const Tensor& g = ctx.input(0);
    const Tensor& x = ctx.input(1);
    if (ctx.needs_grad(0)) ctx.accumulate(0, elu_backward(gg, x, alpha));
    if (ctx.needs_grad(1)) {
      const Tensor nonpos = region(x, [](auto v) { return v <= decltype(v)(0); });
      ctx.accumulate(1, mul(mul(gg, g), mul(nonpos, exp(x) * alpha)));
    }
  });
}

Tensor hardtanh(const Tensor& input, double min_val, double max_val) {
  Tensor out = map_unary("hardtanh", input, [min_val, max_val](auto x) {
    using T = decltype(x);
    if (std::isnan(x)) return x;
    return std::min(std::max(x, T(min_val)), T(max_val));
  });
  return record("hardtanh", out, {input}, [min_val, max_val](const GradContext& ctx) {
    ctx.accumulate(0, hardtanh_backward(ctx.grad_output(), ctx.input(0), min_val, max_val));
  });
}

Tensor hardtanh_backward(const Tensor& grad, const Tensor& input, double min_val, double max_val) {
  Tensor out = map_grad("hardtanh_backward", grad, input, [min_val, max_val](auto g, auto x) {
    using T = decltype(x);
    return (x <= T(min_val) || x >= T(max_val)) ? T(0) : g;
  });
  // Linear in grad; piecewise constant in the input (no gradient there, as PyTorch).
  return record(
      "hardtanh_backward", out, {grad, input},
      [min_val, max_val](const GradContext& ctx) {
        if (ctx.needs_grad(0))
          ctx.accumulate(0, hardtanh_backward(ctx.grad_output(), ctx.input(1), min_val, max_val));
      },
      Saved::of({1}));
}

Tensor relu6(const Tensor& input) { return hardtanh(input, 0.0, 6.0); }

}  // namespace tapegrad
