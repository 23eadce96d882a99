#include <tapegrad/core/ops.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xreducer.hpp>
#include <xtensor/xview.hpp>

#include <tapegrad/core/blas.hpp>

namespace tapegrad {

namespace {

template <class S>
Shape to_shape(const S& s) {
  return Shape(s.begin(), s.end());
}

std::string dims_str(const std::vector<std::int64_t>& d) {
  std::string r = "[";
  for (std::size_t i = 0; i < d.size(); ++i) r += (i ? ", " : "") + std::to_string(d[i]);
  return r + "]";
}

// Normalises a possibly negative dim against `rank`, PyTorch's message on failure.
std::size_t wrap_dim(const char* op, std::int64_t d, std::size_t rank) {
  const auto n = static_cast<std::int64_t>(std::max<std::size_t>(rank, 1));
  if (d < -n || d >= n)
    throw std::invalid_argument(std::string(op) + ": dimension out of range (expected to be in "
                                "range of [" + std::to_string(-n) + ", " +
                                std::to_string(n - 1) + "], but got " + std::to_string(d) + ")");
  return static_cast<std::size_t>(d < 0 ? d + n : d);
}

template <class T>
xt::xarray<T> reshaped(xt::xarray<T> a, const Shape& s) {
  a.reshape(s);
  return a;
}

// Binary elementwise op with broadcasting: fwd(a, b) -> value; bwd gives
// (dA_full, dB_full) on the broadcast shape, which are summed back to each input's shape.
template <class Fwd, class BwdA, class BwdB>
Tensor binary(const char* op, const Tensor& a, const Tensor& b, Fwd fwd, BwdA bwd_a, BwdB bwd_b) {
  check_defined(op, a, "first operand");
  check_defined(op, b, "second operand");
  check_same_dtype(op, a, b);
  broadcast_shapes(op, a.shape(), b.shape());
  return dispatch(a.dtype(), [&]<class T>() {
    Tensor out = Tensor::from(xt::xarray<T>(fwd(a.value<T>(), b.value<T>())));
    return record(op, out, {a, b}, [bwd_a, bwd_b](const GradContext& ctx) {
      const auto& x = ctx.input<T>(0);
      const auto& y = ctx.input<T>(1);
      const auto& dz = ctx.grad_output<T>();
      if (ctx.needs_grad(0))
        ctx.accumulate<T>(0, sum_to_shape<T>(xt::xarray<T>(bwd_a(x, y, dz)), to_shape(x.shape())));
      if (ctx.needs_grad(1))
        ctx.accumulate<T>(1, sum_to_shape<T>(xt::xarray<T>(bwd_b(x, y, dz)), to_shape(y.shape())));
    });
  });
}

// Unary elementwise op; bwd(x, y, dy) may use the input x or the output y.
template <class Fwd, class Bwd>
Tensor unary(const char* op, const Tensor& a, Fwd fwd, Bwd bwd) {
  check_defined(op, a);
  return dispatch(a.dtype(), [&]<class T>() {
    Tensor out = Tensor::from(xt::xarray<T>(fwd(a.value<T>())));
    return record(op, out, {a}, [bwd](const GradContext& ctx) {
      ctx.accumulate<T>(0, xt::xarray<T>(bwd(ctx.input<T>(0), ctx.output<T>(), ctx.grad_output<T>())));
    });
  });
}

Tensor scalar_like(double v, const Tensor& t) {
  check_defined("scalar op", t);
  return Tensor::scalar(v, t.dtype());
}

}  // namespace

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::size_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument(std::string(op) + ": shapes " + shape_str(a) + " and " +
                                  shape_str(b) + " cannot be broadcast together (size " +
                                  std::to_string(da) + " vs " + std::to_string(db) +
                                  " at dimension " + std::to_string(i) + ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

// Sums `a` over the dims where `kept` is 1 (and `a` is not), giving shape `kept`
// (same rank). Accumulates in double so float32 sums keep their precision.
template <class T>
xt::xarray<T> sum_to_kept(const xt::xarray<T>& a, const Shape& kept) {
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
  xt::xarray<T> out = xt::xarray<T>::from_shape(kept);
  std::transform(acc.begin(), acc.end(), out.data(), [](double v) { return static_cast<T>(v); });
  return out;
}

}  // namespace

template <class T>
xt::xarray<T> sum_to_shape(const xt::xarray<T>& g, const Shape& shape) {
  if (g.dimension() == shape.size() && std::equal(shape.begin(), shape.end(), g.shape().begin()))
    return g;
  const std::size_t lead = g.dimension() - shape.size();
  Shape kept(g.dimension(), 1);
  for (std::size_t i = lead; i < g.dimension(); ++i) kept[i] = shape[i - lead];
  xt::xarray<T> r = sum_to_kept(g, kept);
  r.reshape(shape);
  return r;
}
template xt::xarray<float> sum_to_shape<float>(const xt::xarray<float>&, const Shape&);
template xt::xarray<double> sum_to_shape<double>(const xt::xarray<double>&, const Shape&);

Tensor add(const Tensor& a, const Tensor& b) {
  return binary(
      "add", a, b, [](const auto& x, const auto& y) { return x + y; },
      [](const auto&, const auto&, const auto& dz) { return dz; },
      [](const auto&, const auto&, const auto& dz) { return dz; });
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary(
      "sub", a, b, [](const auto& x, const auto& y) { return x - y; },
      [](const auto&, const auto&, const auto& dz) { return dz; },
      [](const auto&, const auto&, const auto& dz) { return -dz; });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary(
      "mul", a, b, [](const auto& x, const auto& y) { return x * y; },
      [](const auto&, const auto& y, const auto& dz) { return dz * y; },
      [](const auto& x, const auto&, const auto& dz) { return dz * x; });
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary(
      "div", a, b, [](const auto& x, const auto& y) { return x / y; },
      [](const auto&, const auto& y, const auto& dz) { return dz / y; },
      // d(x/y)/dy = -x / y^2
      [](const auto& x, const auto& y, const auto& dz) { return -dz * x / (y * y); });
}

Tensor neg(const Tensor& a) {
  return unary(
      "neg", a, [](const auto& x) { return -x; },
      [](const auto&, const auto&, const auto& dy) { return -dy; });
}
Tensor exp(const Tensor& a) {
  return unary(
      "exp", a, [](const auto& x) { return xt::exp(x); },
      [](const auto&, const auto& y, const auto& dy) { return dy * y; });
}
Tensor log(const Tensor& a) {
  return unary(
      "log", a, [](const auto& x) { return xt::log(x); },
      [](const auto& x, const auto&, const auto& dy) { return dy / x; });
}
Tensor sqrt(const Tensor& a) {
  return unary(
      "sqrt", a, [](const auto& x) { return xt::sqrt(x); },
      [](const auto&, const auto& y, const auto& dy) {
        using T = typename std::decay_t<decltype(y)>::value_type;
        return dy / (T(2) * y);
      });
}
Tensor pow(const Tensor& a, double exponent) {
  return unary(
      "pow", a,
      [exponent](const auto& x) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return xt::pow(x, T(exponent));
      },
      [exponent](const auto& x, const auto&, const auto& dy) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        // d(x^p)/dx = p x^(p-1); PyTorch defines it as 0 everywhere for p = 0.
        return xt::eval(exponent == 0.0 ? xt::xarray<T>(xt::zeros_like(x))
                                        : xt::xarray<T>(dy * T(exponent) * xt::pow(x, T(exponent - 1))));
      });
}

Tensor relu(const Tensor& a) {
  return unary(
      "relu", a,
      [](const auto& x) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return xt::maximum(x, T(0));
      },
      [](const auto& x, const auto&, const auto& dy) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return xt::where(x > T(0), dy, T(0));
      });
}
Tensor leaky_relu(const Tensor& a, double slope) {
  return unary(
      "leaky_relu", a,
      [slope](const auto& x) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return xt::where(x > T(0), x, x * T(slope));
      },
      [slope](const auto& x, const auto&, const auto& dy) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return xt::where(x > T(0), dy, dy * T(slope));
      });
}
Tensor sigmoid(const Tensor& a) {
  return unary(
      "sigmoid", a,
      [](const auto& x) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return T(1) / (T(1) + xt::exp(-x));
      },
      [](const auto&, const auto& y, const auto& dy) {
        using T = typename std::decay_t<decltype(y)>::value_type;
        return dy * y * (T(1) - y);
      });
}
Tensor tanh(const Tensor& a) {
  return unary(
      "tanh", a, [](const auto& x) { return xt::tanh(x); },
      [](const auto&, const auto& y, const auto& dy) {
        using T = typename std::decay_t<decltype(y)>::value_type;
        return dy * (T(1) - y * y);
      });
}

// ---- matmul ----

namespace {

// Offsets of each output batch into a broadcast operand's batch dims.
std::vector<std::size_t> batch_offsets(const Shape& out_batch, const Shape& in_batch,
                                       std::size_t matrix_size) {
  const std::size_t n = out_batch.size();
  std::vector<std::size_t> stride(n, 0);
  std::size_t s = matrix_size;
  for (std::size_t i = n; i-- > 0;) {
    const std::size_t k = i + in_batch.size() >= n ? i + in_batch.size() - n : SIZE_MAX;
    const std::size_t extent = k == SIZE_MAX ? 1 : in_batch[k];
    stride[i] = extent == 1 ? 0 : s;
    s *= extent;
  }
  std::size_t total = 1;
  for (auto d : out_batch) total *= d;
  std::vector<std::size_t> offs(total);
  for (std::size_t b = 0; b < total; ++b) {
    std::size_t rem = b, off = 0;
    for (std::size_t i = n; i-- > 0;) {
      off += (rem % out_batch[i]) * stride[i];
      rem /= out_batch[i];
    }
    offs[b] = off;
  }
  return offs;
}

// [..., m, k] @ [..., k, n] for operands of rank >= 2.
Tensor matmul_nd(const Tensor& a, const Tensor& b) {
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  const std::size_t m = sa[sa.size() - 2], k = sa.back(), n = sb.back();
  if (sb[sb.size() - 2] != k)
    throw std::invalid_argument("matmul: mat1 and mat2 shapes cannot be multiplied (" +
                                shape_str(sa) + " and " + shape_str(sb) + ")");
  const Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  const Shape bo = broadcast_shapes("matmul", ba, bb);
  Shape so = bo;
  so.push_back(m);
  so.push_back(n);
  const auto offa = batch_offsets(bo, ba, m * k);
  const auto offb = batch_offsets(bo, bb, k * n);
  return dispatch(a.dtype(), [&]<class T>() {
    xt::xarray<T> y = xt::xarray<T>::from_shape(so);
    const T* pa = a.value<T>().data();
    const T* pb = b.value<T>().data();
    if (k == 0) std::fill(y.begin(), y.end(), T(0));
    else
      for (std::size_t i = 0; i < offa.size(); ++i)
        blas::gemm<T>(false, false, m, n, k, T(1), pa + offa[i], k, pb + offb[i], n, T(0),
                      y.data() + i * m * n, n);
    Tensor out = Tensor::from(std::move(y));
    return record("matmul", out, {a, b}, [offa, offb, m, n, k](const GradContext& ctx) {
      const T* dy = ctx.grad_output<T>().data();
      if (ctx.needs_grad(0)) {
        // dA_i += dY_i · B_iᵀ: [m, k]; broadcast batches land on the same slot.
        xt::xarray<T> da = xt::zeros<T>(ctx.input<T>(0).shape());
        const T* pb = ctx.input<T>(1).data();
        for (std::size_t i = 0; i < offa.size(); ++i)
          blas::gemm<T>(false, true, m, k, n, T(1), dy + i * m * n, n, pb + offb[i], n, T(1),
                        da.data() + offa[i], k);
        ctx.accumulate<T>(0, std::move(da));
      }
      if (ctx.needs_grad(1)) {
        // dB_i += A_iᵀ · dY_i: [k, n].
        xt::xarray<T> db = xt::zeros<T>(ctx.input<T>(1).shape());
        const T* pa = ctx.input<T>(0).data();
        for (std::size_t i = 0; i < offb.size(); ++i)
          blas::gemm<T>(true, false, k, n, m, T(1), pa + offa[i], k, dy + i * m * n, n, T(1),
                        db.data() + offb[i], n);
        ctx.accumulate<T>(1, std::move(db));
      }
    });
  });
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_defined("matmul", a, "first operand");
  check_defined("matmul", b, "second operand");
  check_same_dtype("matmul", a, b);
  if (a.dim() == 0 || b.dim() == 0)
    throw std::invalid_argument("matmul: both arguments need to be at least 1D, but they are " +
                                std::to_string(a.dim()) + "D and " + std::to_string(b.dim()) + "D");
  // 1-d operands become a row (left) or a column (right), and that dim is removed after.
  const bool va = a.dim() == 1, vb = b.dim() == 1;
  if (va && vb && a.size(0) != b.size(0))
    throw std::invalid_argument("matmul: inconsistent tensor size, expected tensor [" +
                                std::to_string(a.size(0)) + "] and src [" +
                                std::to_string(b.size(0)) +
                                "] to have the same number of elements, but got " +
                                std::to_string(a.size(0)) + " and " + std::to_string(b.size(0)) +
                                " elements respectively");
  Tensor a2 = va ? reshape(a, {1, static_cast<std::int64_t>(a.size(0))}) : a;
  Tensor b2 = vb ? reshape(b, {static_cast<std::int64_t>(b.size(0)), 1}) : b;
  Tensor y = matmul_nd(a2, b2);
  if (!va && !vb) return y;
  const Shape ys = y.shape();
  std::vector<std::int64_t> s(ys.begin(), ys.end());
  if (vb) s.erase(s.end() - 1);
  if (va) s.erase(s.end() - 1 - (vb ? 0 : 1));
  return reshape(y, s);
}

// ---- reductions ----

namespace {

std::vector<std::size_t> reduce_axes(const char* op, const std::vector<std::int64_t>& dims,
                                     std::size_t rank) {
  std::vector<std::size_t> axes;
  if (dims.empty()) {  // PyTorch: an empty dim list reduces over everything
    for (std::size_t i = 0; i < rank; ++i) axes.push_back(i);
    return axes;
  }
  for (auto d : dims) {
    const std::size_t k = wrap_dim(op, d, rank);
    if (std::find(axes.begin(), axes.end(), k) != axes.end())
      throw std::invalid_argument(std::string(op) + ": dim " + std::to_string(k) +
                                  " appears multiple times in the list of dims " + dims_str(dims));
    axes.push_back(k);
  }
  if (rank == 0) axes.clear();
  std::sort(axes.begin(), axes.end());
  return axes;
}

Tensor reduce_sum(const char* op, const Tensor& a, const std::vector<std::int64_t>& dims,
                  bool keepdim, bool average) {
  check_defined(op, a);
  const Shape& in = a.shape();
  const auto axes = reduce_axes(op, dims, in.size());
  Shape kept = in, outs;
  std::size_t count = 1;
  for (auto ax : axes) {
    count *= in[ax];
    kept[ax] = 1;
  }
  for (std::size_t i = 0; i < in.size(); ++i)
    if (keepdim || std::find(axes.begin(), axes.end(), i) == axes.end()) outs.push_back(kept[i]);
  const double scale = average ? 1.0 / static_cast<double>(count) : 1.0;
  return dispatch(a.dtype(), [&]<class T>() {
    xt::xarray<T> r = sum_to_kept(a.value<T>(), kept);
    if (average) r *= T(scale);
    r.reshape(outs);
    Tensor out = Tensor::from(std::move(r));
    return record(op, out, {a}, [kept, scale, average](const GradContext& ctx) {
      const auto& dy = ctx.grad_output<T>();
      const auto& shape = ctx.input<T>(0).shape();
      xt::xarray<T> g = xt::broadcast(xt::reshape_view(dy, kept), shape);
      if (average) g *= T(scale);
      ctx.accumulate<T>(0, std::move(g));
    });
  });
}

}  // namespace

Tensor sum(const Tensor& a) { return reduce_sum("sum", a, {}, false, false); }
Tensor sum(const Tensor& a, const std::vector<std::int64_t>& dims, bool keepdim) {
  return reduce_sum("sum", a, dims, keepdim, false);
}
Tensor mean(const Tensor& a) { return reduce_sum("mean", a, {}, false, true); }
Tensor mean(const Tensor& a, const std::vector<std::int64_t>& dims, bool keepdim) {
  return reduce_sum("mean", a, dims, keepdim, true);
}

// ---- shape ops ----

Tensor reshape(const Tensor& a, const std::vector<std::int64_t>& shape) {
  check_defined("reshape", a);
  const std::size_t numel = a.numel();
  Shape s(shape.size());
  std::int64_t infer = -1;
  std::size_t known = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw std::invalid_argument("reshape: only one dimension can be inferred in shape " + dims_str(shape));
      infer = static_cast<std::int64_t>(i);
    } else if (shape[i] < 0) {
      throw std::invalid_argument("reshape: invalid shape dimension " + std::to_string(shape[i]) +
                                  " in shape " + dims_str(shape));
    } else {
      s[i] = static_cast<std::size_t>(shape[i]);
      known *= s[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      throw std::invalid_argument("reshape: shape " + dims_str(shape) +
                                  " is invalid for input of size " + std::to_string(numel));
    s[static_cast<std::size_t>(infer)] = numel / known;
    known *= s[static_cast<std::size_t>(infer)];
  }
  if (known != numel)
    throw std::invalid_argument("reshape: shape " + dims_str(shape) +
                                " is invalid for input of size " + std::to_string(numel) +
                                " (input shape " + shape_str(a.shape()) + ")");
  return dispatch(a.dtype(), [&]<class T>() {
    Tensor out = Tensor::from(reshaped<T>(a.value<T>(), s));
    return record("reshape", out, {a}, [](const GradContext& ctx) {
      ctx.accumulate<T>(0, reshaped<T>(ctx.grad_output<T>(), to_shape(ctx.input<T>(0).shape())));
    });
  });
}

Tensor view(const Tensor& a, const std::vector<std::int64_t>& shape) { return reshape(a, shape); }

Tensor flatten(const Tensor& a, std::int64_t start_dim, std::int64_t end_dim) {
  check_defined("flatten", a);
  if (a.dim() == 0) return reshape(a, {1});
  const std::size_t s = wrap_dim("flatten", start_dim, a.dim());
  const std::size_t e = wrap_dim("flatten", end_dim, a.dim());
  if (s > e)
    throw std::invalid_argument("flatten: start_dim (" + std::to_string(start_dim) +
                                ") cannot come after end_dim (" + std::to_string(end_dim) + ")");
  std::vector<std::int64_t> shape;
  std::int64_t merged = 1;
  for (std::size_t i = 0; i < a.dim(); ++i) {
    if (i < s || i > e) shape.push_back(static_cast<std::int64_t>(a.shape()[i]));
    else {
      merged *= static_cast<std::int64_t>(a.shape()[i]);
      if (i == e) shape.push_back(merged);
    }
  }
  return reshape(a, shape);
}

Tensor permute(const Tensor& a, const std::vector<std::int64_t>& dims) {
  check_defined("permute", a);
  if (dims.size() != a.dim())
    throw std::invalid_argument("permute: number of dims don't match in permute (input has " +
                                std::to_string(a.dim()) + " dims, dims has " +
                                std::to_string(dims.size()) + ": " + dims_str(dims) + ")");
  std::vector<std::size_t> perm(dims.size()), inverse(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    perm[i] = wrap_dim("permute", dims[i], a.dim());
    if (seen[perm[i]])
      throw std::invalid_argument("permute: repeated dim in permute " + dims_str(dims));
    seen[perm[i]] = true;
    inverse[perm[i]] = i;
  }
  return dispatch(a.dtype(), [&]<class T>() {
    Tensor out = Tensor::from(xt::xarray<T>(xt::transpose(a.value<T>(), perm)));
    return record("permute", out, {a}, [inverse](const GradContext& ctx) {
      ctx.accumulate<T>(0, xt::xarray<T>(xt::transpose(ctx.grad_output<T>(), inverse)));
    });
  });
}

Tensor transpose(const Tensor& a, std::int64_t dim0, std::int64_t dim1) {
  check_defined("transpose", a);
  if (a.dim() == 0) return reshape(a, {});
  std::vector<std::int64_t> dims(a.dim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[wrap_dim("transpose", dim0, a.dim())], dims[wrap_dim("transpose", dim1, a.dim())]);
  return permute(a, dims);
}

// ---- losses ----

Reduction parse_reduction(const std::string& s) {
  if (s == "none") return Reduction::None;
  if (s == "mean") return Reduction::Mean;
  if (s == "sum") return Reduction::Sum;
  throw std::invalid_argument("reduction: " + s + " is not a valid value for reduction (expected 'none', 'mean' or 'sum')");
}

namespace {

// Pointwise loss l(x, t) followed by a reduction, as one op. dl(x, t) returns the pair
// of partial derivatives (dl/dx, dl/dt) as xexpressions on the broadcast shape.
template <class Loss, class DLdx, class DLdt>
Tensor pointwise_loss(const char* op, const Tensor& x, const Tensor& t, Reduction red, Loss loss,
                      DLdx dldx, DLdt dldt) {
  check_defined(op, x, "input");
  check_defined(op, t, "target");
  check_same_dtype(op, x, t);
  const Shape full = broadcast_shapes(op, x.shape(), t.shape());
  return dispatch(x.dtype(), [&]<class T>() {
    xt::xarray<T> l = loss(x.value<T>(), t.value<T>());
    const double n = static_cast<double>(l.size());
    xt::xarray<T> r = l;
    if (red != Reduction::None) {
      const double total = std::accumulate(l.begin(), l.end(), 0.0);
      r = xt::xarray<T>(static_cast<T>(red == Reduction::Sum ? total : total / n));
    }
    Tensor out = Tensor::from(std::move(r));
    return record(op, out, {x, t}, [red, n, full, dldx, dldt](const GradContext& ctx) {
      const auto& xv = ctx.input<T>(0);
      const auto& tv = ctx.input<T>(1);
      const auto& dy = ctx.grad_output<T>();
      // dL/dl for each element: dy itself (none), or the scalar dy (/ n for mean).
      xt::xarray<T> g;
      if (red == Reduction::None) {
        g = dy;
      } else {
        g = xt::xarray<T>::from_shape(full);
        g.fill(red == Reduction::Mean ? dy() / T(n) : dy());
      }
      if (ctx.needs_grad(0))
        ctx.accumulate<T>(0, sum_to_shape<T>(xt::xarray<T>(g * dldx(xv, tv)), to_shape(xv.shape())));
      if (ctx.needs_grad(1))
        ctx.accumulate<T>(1, sum_to_shape<T>(xt::xarray<T>(g * dldt(xv, tv)), to_shape(tv.shape())));
    });
  });
}

void check_same_size(const char* op, const Tensor& x, const Tensor& t) {
  if (x.shape() != t.shape())
    throw std::invalid_argument(std::string(op) + ": Using a target size (" + shape_str(t.shape()) +
                                ") that is different to the input size (" + shape_str(x.shape()) +
                                ") is deprecated. Please ensure they have the same size.");
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  return pointwise_loss(
      "mse_loss", input, target, reduction,
      [](const auto& x, const auto& t) { return xt::xarray<typename std::decay_t<decltype(x)>::value_type>(xt::square(x - t)); },
      [](const auto& x, const auto& t) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return T(2) * (x - t);
      },
      [](const auto& x, const auto& t) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return T(-2) * (x - t);
      });
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_defined("binary_cross_entropy", input, "input");
  check_defined("binary_cross_entropy", target, "target");
  check_same_size("binary_cross_entropy", input, target);
  dispatch(input.dtype(), [&]<class T>() {
    for (T v : input.value<T>())
      if (!(v >= T(0) && v <= T(1)))
        throw std::invalid_argument(
            "binary_cross_entropy: all elements of input should be between 0 and 1");
  });
  // PyTorch clamps each log at -100 so that x = 0 or 1 gives a finite loss.
  return pointwise_loss(
      "binary_cross_entropy", input, target, reduction,
      [](const auto& x, const auto& t) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return xt::xarray<T>(-(t * xt::maximum(xt::log(x), T(-100)) +
                               (T(1) - t) * xt::maximum(xt::log(T(1) - x), T(-100))));
      },
      [](const auto& x, const auto& t) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        // PyTorch's backward: (x - t) / max(x (1 - x), 1e-12).
        return (x - t) / xt::maximum((T(1) - x) * x, T(1e-12));
      },
      [](const auto& x, const auto&) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return xt::maximum(xt::log(T(1) - x), T(-100)) - xt::maximum(xt::log(x), T(-100));
      });
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        Reduction reduction) {
  check_defined("binary_cross_entropy_with_logits", input, "input");
  check_defined("binary_cross_entropy_with_logits", target, "target");
  check_same_size("binary_cross_entropy_with_logits", input, target);
  return pointwise_loss(
      "binary_cross_entropy_with_logits", input, target, reduction,
      [](const auto& x, const auto& t) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        // max(x, 0) - x t + log(1 + e^-|x|): never exponentiates a large positive number.
        return xt::xarray<T>(xt::maximum(x, T(0)) - x * t + xt::log1p(xt::exp(-xt::abs(x))));
      },
      [](const auto& x, const auto& t) {
        using T = typename std::decay_t<decltype(x)>::value_type;
        return T(1) / (T(1) + xt::exp(-x)) - t;
      },
      [](const auto& x, const auto&) { return -x; });
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
