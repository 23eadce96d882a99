#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/ops/arithmetic.hpp>
#include <xtensor/xbroadcast.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

namespace tapegrad {

using detail::new_array;
using detail::scalar_like;
using detail::to_shape;

namespace detail {

std::size_t wrap_dim(const char* op, std::int64_t d, std::size_t rank) {
  const auto n = static_cast<std::int64_t>(std::max<std::size_t>(rank, 1));
  if (d < -n || d >= n)
    throw std::invalid_argument(std::string(op) +
                                ": dimension out of range (expected to be in "
                                "range of [" +
                                std::to_string(-n) + ", " + std::to_string(n - 1) + "], but got " +
                                std::to_string(d) + ")");
  return static_cast<std::size_t>(d < 0 ? d + n : d);
}

Tensor scalar_like(double v, const Tensor& t) {
  check_defined("scalar op", t);
  return Tensor::scalar(v, t.dtype());
}

}  // namespace detail

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  // From the last dimension, as PyTorch's infer_size, so the first mismatch reported is
  // the one PyTorch reports.
  for (std::size_t i = n; i-- > 0;) {
    const std::size_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::size_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument(std::string(op) + ": The size of tensor a (" +
                                  std::to_string(da) + ") must match the size of tensor b (" +
                                  std::to_string(db) + ") at non-singleton dimension " +
                                  std::to_string(i) + " (shapes " + shape_str(a) + " and " +
                                  shape_str(b) + ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

// The value of a binary elementwise op over the broadcast shape.
template <class T, class F>
Array<T> binary_value(const char* op, const Tensor& a, const Tensor& b, F f) {
  const Shape full = broadcast_shapes(op, a.shape(), b.shape());
  const Array<T>& x = a.value<T>();
  const Array<T>& y = b.value<T>();
  Array<T> out = new_array<T>(op, full);
  if (x.size() == out.size() && y.size() == out.size()) {
    // Same shapes: a flat loop the compiler vectorises.
    const T* px = x.data();
    const T* py = y.data();
    T* po = out.data();
    for (std::size_t i = 0, n = out.size(); i < n; ++i) po[i] = f(px[i], py[i]);
  } else if (y.size() == 1 && x.size() == out.size()) {
    const T* px = x.data();
    const T s = *y.data();
    T* po = out.data();
    for (std::size_t i = 0, n = out.size(); i < n; ++i) po[i] = f(px[i], s);
  } else if (x.size() == 1 && y.size() == out.size()) {
    const T s = *x.data();
    const T* py = y.data();
    T* po = out.data();
    for (std::size_t i = 0, n = out.size(); i < n; ++i) po[i] = f(s, py[i]);
  } else {
    auto bx = xt::broadcast(x, full);
    auto by = xt::broadcast(y, full);
    auto ix = bx.begin();
    auto iy = by.begin();
    for (auto io = out.begin(); io != out.end(); ++io, ++ix, ++iy) *io = f(*ix, *iy);
  }
  return out;
}

template <class F>
Tensor binary_forward(const char* op, const Tensor& a, const Tensor& b, F f) {
  check_defined(op, a, "first operand");
  check_defined(op, b, "second operand");
  check_same_dtype(op, a, b);
  return dispatch(a.dtype(), [&]<class T>() {
    return Tensor::from_array(binary_value<T>(op, a, b, [&](T x, T y) { return f(x, y); }));
  });
}

template <class F>
Tensor unary_forward(const char* op, const Tensor& a, F f) {
  check_defined(op, a);
  return dispatch(a.dtype(), [&]<class T>() {
    const Array<T>& x = a.value<T>();
    Array<T> out = new_array<T>(op, a.shape());
    const T* px = x.data();
    T* po = out.data();
    for (std::size_t i = 0, n = out.size(); i < n; ++i) po[i] = f(px[i]);
    return Tensor::from_array(std::move(out));
  });
}

// Sums `a` over the dims where `kept` is 1 (and `a` is not), giving shape `kept`
// (same rank). Accumulates in double so float32 sums keep their precision.
template <class T>
Array<T> sum_to_kept(const Array<T>& a, const Shape& kept) {
  const std::size_t rank = a.dimension();
  std::size_t out_size = 1;
  for (auto d : kept) out_size *= d;
  std::vector<double> acc(out_size, 0.0);
  if (a.size() > 0) {
    std::vector<std::size_t> ostride(rank, 0), idx(rank, 0);
    std::size_t s = 1;
    for (std::size_t d = rank; d-- > 0;) {
      ostride[d] = kept[d] == 1 ? 0 : s;
      s *= kept[d];
    }
    const T* p = a.data();
    std::size_t off = 0;
    for (std::size_t i = 0, n = a.size(); i < n; ++i) {
      acc[off] += static_cast<double>(p[i]);
      for (std::size_t d = rank; d-- > 0;) {  // odometer increment of the input index
        off += ostride[d];
        if (++idx[d] < a.shape()[d]) break;
        off -= ostride[d] * idx[d];
        idx[d] = 0;
      }
    }
  }
  Array<T> out = new_array<T>("sum", kept);
  std::transform(acc.begin(), acc.end(), out.data(), [](double v) { return static_cast<T>(v); });
  return out;
}

}  // namespace

// ---- broadcasting ----

Tensor sum_to(const Tensor& g, const Shape& shape) {
  check_defined("sum_to", g);
  const Shape gs = g.shape();
  if (gs == shape) return g;
  if (shape.size() > gs.size())
    throw std::invalid_argument("sum_to: cannot sum a tensor of shape " + shape_str(gs) +
                                " to the larger rank of " + shape_str(shape));
  const std::size_t lead = gs.size() - shape.size();
  Shape kept(gs.size(), 1);
  for (std::size_t i = lead; i < gs.size(); ++i) {
    if (shape[i - lead] != gs[i] && shape[i - lead] != 1)
      throw std::invalid_argument("sum_to: shape " + shape_str(gs) + " is not expandable from " +
                                  shape_str(shape));
    kept[i] = shape[i - lead];
  }
  return dispatch(g.dtype(), [&]<class T>() {
    Array<T> r = sum_to_kept<T>(g.value<T>(), kept);
    r.reshape(shape);
    return record(
        "sum_to", Tensor::from_array(std::move(r)), {g},
        [gs](const GradContext& ctx) { ctx.accumulate(0, expand(ctx.grad_output(), gs)); },
        Saved::none());
  });
}

Tensor expand(const Tensor& a, const Shape& shape) {
  check_defined("expand", a);
  const Shape as = a.shape();
  if (as == shape) return a;
  if (broadcast_shapes("expand", as, shape) != shape)
    throw std::invalid_argument("expand: the shape " + shape_str(as) + " cannot be expanded to " +
                                shape_str(shape));
  return dispatch(a.dtype(), [&]<class T>() {
    Array<T> r = new_array<T>("expand", shape);
    r = xt::broadcast(a.value<T>(), shape);
    return record(
        "expand", Tensor::from_array(std::move(r)), {a},
        [as](const GradContext& ctx) { ctx.accumulate(0, sum_to(ctx.grad_output(), as)); },
        Saved::none());
  });
}

// ---- binary ----

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("add", a, b, [](auto x, auto y) { return x + y; });
  return record(
      "add", out, {a, b},
      [](const GradContext& ctx) {
        const Tensor& g = ctx.grad_output();
        for (std::size_t i : {0, 1})
          if (ctx.needs_grad(i)) ctx.accumulate(i, sum_to(g, ctx.input(i).shape()));
      },
      Saved::none());
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("sub", a, b, [](auto x, auto y) { return x - y; });
  return record(
      "sub", out, {a, b},
      [](const GradContext& ctx) {
        const Tensor& g = ctx.grad_output();
        if (ctx.needs_grad(0)) ctx.accumulate(0, sum_to(g, ctx.input(0).shape()));
        if (ctx.needs_grad(1)) ctx.accumulate(1, sum_to(neg(g), ctx.input(1).shape()));
      },
      Saved::none());
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("mul", a, b, [](auto x, auto y) { return x * y; });
  // d(ab)/da = b, d(ab)/db = a: each input is read by the other's gradient only.
  return record(
      "mul", out, {a, b},
      [](const GradContext& ctx) {
        const Tensor& g = ctx.grad_output();
        if (ctx.needs_grad(0))
          ctx.accumulate(0, sum_to(mul(g, ctx.input(1)), ctx.input(0).shape()));
        if (ctx.needs_grad(1))
          ctx.accumulate(1, sum_to(mul(g, ctx.input(0)), ctx.input(1).shape()));
      },
      Saved{(b.requires_grad() ? 1u : 0u) | (a.requires_grad() ? 2u : 0u), false});
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("div", a, b, [](auto x, auto y) { return x / y; });
  // d(a/b)/da = 1/b, d(a/b)/db = -a/b².
  return record(
      "div", out, {a, b},
      [](const GradContext& ctx) {
        const Tensor& g = ctx.grad_output();
        const Tensor& x = ctx.input(0);
        const Tensor& y = ctx.input(1);
        if (ctx.needs_grad(0)) ctx.accumulate(0, sum_to(div(g, y), x.shape()));
        if (ctx.needs_grad(1)) ctx.accumulate(1, sum_to(neg(div(mul(g, x), mul(y, y))), y.shape()));
      },
      Saved{1u | 2u, false});
}

// ---- unary ----

Tensor neg(const Tensor& a) {
  Tensor out = unary_forward("neg", a, [](auto x) { return -x; });
  return record(
      "neg", out, {a}, [](const GradContext& ctx) { ctx.accumulate(0, neg(ctx.grad_output())); },
      Saved::none());
}

Tensor exp(const Tensor& a) {
  Tensor out = unary_forward("exp", a, [](auto x) { return std::exp(x); });
  return record(
      "exp", out, {a},
      [](const GradContext& ctx) { ctx.accumulate(0, mul(ctx.grad_output(), ctx.output())); },
      Saved::only_output());
}

Tensor log(const Tensor& a) {
  Tensor out = unary_forward("log", a, [](auto x) { return std::log(x); });
  return record("log", out, {a}, [](const GradContext& ctx) {
    ctx.accumulate(0, div(ctx.grad_output(), ctx.input(0)));
  });
}

Tensor sqrt(const Tensor& a) {
  Tensor out = unary_forward("sqrt", a, [](auto x) { return std::sqrt(x); });
  return record(
      "sqrt", out, {a},
      [](const GradContext& ctx) {
        ctx.accumulate(0,
                       div(ctx.grad_output(), mul(ctx.output(), scalar_like(2.0, ctx.output()))));
      },
      Saved::only_output());
}

Tensor pow(const Tensor& a, double exponent) {
  Tensor out = unary_forward("pow", a, [exponent](auto x) {
    using T = decltype(x);
    return std::pow(x, T(exponent));
  });
  return record("pow", out, {a}, [exponent](const GradContext& ctx) {
    const Tensor& x = ctx.input(0);
    // d(x^p)/dx = p x^(p-1); PyTorch defines it as 0 everywhere for p = 0.
    if (exponent == 0.0) {
      ctx.accumulate(0, Tensor::zeros_like(x));
      return;
    }
    const Tensor dxp = exponent == 1.0 ? Tensor::ones_like(x)
                                       : mul(pow(x, exponent - 1.0), scalar_like(exponent, x));
    ctx.accumulate(0, mul(ctx.grad_output(), dxp));
  });
}

Tensor abs(const Tensor& a) {
  Tensor out = unary_forward("abs", a, [](auto x) { return std::abs(x); });
  return record("abs", out, {a}, [](const GradContext& ctx) {
    const Tensor& x = ctx.input(0);
    const Tensor sign = unary_forward("sign", x, [](auto v) {
      using T = decltype(v);
      return T((v > T(0)) - (v < T(0)));
    });
    ctx.accumulate(0, mul(ctx.grad_output(), sign));
  });
}

namespace {

// The clamps: value min(max(a, lo), hi) with either bound optional; the gradient
// passes where lo <= a <= hi (PyTorch: the bound itself lets the gradient through).
Tensor clamp_impl(const char* op, const Tensor& a, double lo, double hi) {
  if (std::isnan(lo) || std::isnan(hi))
    throw std::invalid_argument(std::string(op) + ": a bound is NaN");
  Tensor out = unary_forward(op, a, [lo, hi](auto x) {
    using T = decltype(x);
    if (std::isnan(x)) return x;
    return std::min(std::max(x, T(lo)), T(hi));
  });
  return record(op, out, {a}, [lo, hi](const GradContext& ctx) {
    const Tensor mask = unary_forward("clamp_mask", ctx.input(0), [lo, hi](auto v) {
      using T = decltype(v);
      return T(v >= T(lo) && v <= T(hi));
    });
    ctx.accumulate(0, mul(ctx.grad_output(), mask));
  });
}

}  // namespace

Tensor clamp_min(const Tensor& a, double lo) { return clamp_impl("clamp_min", a, lo, INFINITY); }
Tensor clamp_max(const Tensor& a, double hi) { return clamp_impl("clamp_max", a, -INFINITY, hi); }
Tensor clamp(const Tensor& a, double lo, double hi) {
  if (lo > hi)
    throw std::invalid_argument("clamp: min (" + std::to_string(lo) +
                                ") must not be greater than max (" + std::to_string(hi) + ")");
  return clamp_impl("clamp", a, lo, hi);
}

// ---- operators ----

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(a, b), b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(a, b), b); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }

}  // namespace tapegrad
