#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/ops/arithmetic.hpp>
#include <tapegrad/core/ops/reduction.hpp>
#include <tapegrad/core/ops/softmax.hpp>

namespace tapegrad {

using detail::new_array;

namespace {

// A tensor seen as [outer, n, inner] around the reduced dimension (a 0-d tensor is one
// slice of one element).
struct Slices {
  std::size_t outer = 1, n = 1, inner = 1;
  std::size_t dim = 0;
};

Slices slices(const char* op, const Shape& s, std::int64_t dim) {
  Slices r;
  r.dim = detail::wrap_dim(op, dim, s.size());
  if (s.empty()) return r;
  for (std::size_t i = 0; i < r.dim; ++i) r.outer *= s[i];
  r.n = s[r.dim];
  for (std::size_t i = r.dim + 1; i < s.size(); ++i) r.inner *= s[i];
  return r;
}

// Calls f(base, stride) for every slice along the dimension.
template <class F>
void for_each_slice(const Slices& s, F f) {
  for (std::size_t o = 0; o < s.outer; ++o)
    for (std::size_t i = 0; i < s.inner; ++i) f(o * s.n * s.inner + i, s.inner);
}

template <class T>
T slice_max(const T* x, std::size_t n, std::size_t stride) {
  T m = -std::numeric_limits<T>::infinity();
  for (std::size_t c = 0; c < n; ++c) {
    const T v = x[c * stride];
    if (std::isnan(v)) return v;  // NaN spreads to the whole slice, as in PyTorch
    m = std::max(m, v);
  }
  return m;
}

Tensor softmax_value(const char* op, const Tensor& a, std::int64_t dim, bool log) {
  check_defined(op, a);
  const Slices s = slices(op, a.shape(), dim);
  return dispatch(a.dtype(), [&]<class T>() {
    const T* x = a.value<T>().data();
    Array<T> out = new_array<T>(op, a.shape());
    T* y = out.data();
    for_each_slice(s, [&](std::size_t base, std::size_t st) {
      const T m = slice_max(x + base, s.n, st);
      T total = 0;
      for (std::size_t c = 0; c < s.n; ++c) {
        const T e = std::exp(x[base + c * st] - m);
        if (!log) y[base + c * st] = e;
        total += e;
      }
      if (log) {
        const T lse = std::log(total);
        for (std::size_t c = 0; c < s.n; ++c) y[base + c * st] = x[base + c * st] - m - lse;
      } else {
        for (std::size_t c = 0; c < s.n; ++c) y[base + c * st] /= total;
      }
    });
    return Tensor::from_array(std::move(out));
  });
}

void check_grad(const char* op, const Tensor& g, const Tensor& y) {
  check_defined(op, g, "grad");
  check_defined(op, y, "output");
  check_same_dtype(op, g, y);
  if (g.shape() != y.shape())
    throw std::invalid_argument(std::string(op) + ": grad of shape " + shape_str(g.shape()) +
                                " does not match the output's shape " + shape_str(y.shape()));
}

}  // namespace

Tensor softmax(const Tensor& input, std::int64_t dim) {
  Tensor out = softmax_value("softmax", input, dim, false);
  return record(
      "softmax", out, {input},
      [dim](const GradContext& ctx) {
        ctx.accumulate(0, softmax_backward(ctx.grad_output(), ctx.output(), dim));
      },
      Saved::only_output());
}

Tensor log_softmax(const Tensor& input, std::int64_t dim) {
  Tensor out = softmax_value("log_softmax", input, dim, true);
  return record(
      "log_softmax", out, {input},
      [dim](const GradContext& ctx) {
        ctx.accumulate(0, log_softmax_backward(ctx.grad_output(), ctx.output(), dim));
      },
      Saved::only_output());
}

Tensor softmax_backward(const Tensor& grad, const Tensor& output, std::int64_t dim) {
  constexpr const char* op = "softmax_backward";
  check_grad(op, grad, output);
  const Slices s = slices(op, output.shape(), dim);
  Tensor out = dispatch(output.dtype(), [&]<class T>() {
    const T* g = grad.value<T>().data();
    const T* y = output.value<T>().data();
    Array<T> r = new_array<T>(op, output.shape());
    T* o = r.data();
    for_each_slice(s, [&](std::size_t base, std::size_t st) {
      T dot = 0;
      for (std::size_t c = 0; c < s.n; ++c) dot += g[base + c * st] * y[base + c * st];
      for (std::size_t c = 0; c < s.n; ++c)
        o[base + c * st] = y[base + c * st] * (g[base + c * st] - dot);
    });
    return Tensor::from_array(std::move(r));
  });
  // out = y·(g − Σ g·y). d/dg: the same map of gg (it is self-adjoint);
  // d/dy: gg·(g − Σ g·y) − g·Σ gg·y (docs/classification.md §1).
  const auto d = static_cast<std::int64_t>(s.dim);
  const bool scalar = output.dim() == 0;
  return record(op, out, {grad, output}, [dim, d, scalar](const GradContext& ctx) {
    const Tensor& gg = ctx.grad_output();
    const Tensor& g = ctx.input(0);
    const Tensor& y = ctx.input(1);
    if (ctx.needs_grad(0)) ctx.accumulate(0, softmax_backward(gg, y, dim));
    if (ctx.needs_grad(1)) {
      const std::vector<std::int64_t> dims =
          scalar ? std::vector<std::int64_t>{} : std::vector<std::int64_t>{d};
      const Tensor gy = sum(mul(g, y), dims, true);
      const Tensor ggy = sum(mul(gg, y), dims, true);
      ctx.accumulate(1, sub(mul(gg, sub(g, gy)), mul(g, ggy)));
    }
  });
}

Tensor log_softmax_backward(const Tensor& grad, const Tensor& output, std::int64_t dim) {
  constexpr const char* op = "log_softmax_backward";
  check_grad(op, grad, output);
  const Slices s = slices(op, output.shape(), dim);
  Tensor out = dispatch(output.dtype(), [&]<class T>() {
    const T* g = grad.value<T>().data();
    const T* y = output.value<T>().data();
    Array<T> r = new_array<T>(op, output.shape());
    T* o = r.data();
    for_each_slice(s, [&](std::size_t base, std::size_t st) {
      T total = 0;
      for (std::size_t c = 0; c < s.n; ++c) total += g[base + c * st];
      for (std::size_t c = 0; c < s.n; ++c)
        o[base + c * st] = g[base + c * st] - std::exp(y[base + c * st]) * total;
    });
    return Tensor::from_array(std::move(r));
  });
  // out = g − e^y·Σ g. d/dg: gg − Σ gg·e^y; d/dy: −gg·e^y·Σ g (docs/classification.md §2).
  const auto d = static_cast<std::int64_t>(s.dim);
  const bool scalar = output.dim() == 0;
  return record(op, out, {grad, output}, [d, scalar](const GradContext& ctx) {
    const Tensor& gg = ctx.grad_output();
    const Tensor& g = ctx.input(0);
    const Tensor& y = ctx.input(1);
    const std::vector<std::int64_t> dims =
        scalar ? std::vector<std::int64_t>{} : std::vector<std::int64_t>{d};
    const Tensor p = exp(y);
    if (ctx.needs_grad(0)) ctx.accumulate(0, sub(gg, sum(mul(gg, p), dims, true)));
    if (ctx.needs_grad(1)) ctx.accumulate(1, neg(mul(mul(gg, p), sum(g, dims, true))));
  });
}

}  // namespace tapegrad
