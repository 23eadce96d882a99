// Batch, layer and group norm share one engine: each is the normalisation of an
// [A, C, B] view (kernels/normalization.hpp) plus an affine map whose parameters
// broadcast against the input through `affine_view`. The first-order gradients come
// from one kernel pass; each gradient is recorded as an entry whose backward is
// written with taped ops (mean, mul, sub, ...) in the [A, C, B] view, re-deriving the
// statistics from the input, so second derivatives are exact (docs/normalization.md).
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/kernels/normalization.hpp>
#include <tapegrad/core/ops/arithmetic.hpp>
#include <tapegrad/core/ops/normalization.hpp>
#include <tapegrad/core/ops/reduction.hpp>
#include <tapegrad/core/ops/shape.hpp>

namespace tapegrad {

using detail::new_array;
using kernels::NormLayout;

namespace {

// What the gradient entries of one normalisation need to know.
struct NormSpec {
  const char* op;           // the forward op, for names
  const char* backward_op;  // name of the input-gradient entry
  Shape x_shape;
  NormLayout layout;
  std::vector<std::int64_t> stat_view;    // {A, C, B}
  std::vector<std::int64_t> affine_view;  // weight reshaped to broadcast against x
  Shape affine_shape;                     // the weight's own shape
  double eps = 0.0;
  bool batch_stats = true;  // statistics are functions of x (not running ones)
};

// mean and invstd per statistic, in double (PyTorch's accumulate type on CPU).
struct NormStats {
  std::vector<double> mean, invstd;
};

using SpecPtr = std::shared_ptr<const NormSpec>;
using StatsPtr = std::shared_ptr<const NormStats>;

std::vector<std::int64_t> signed_shape(const Shape& s) { return {s.begin(), s.end()}; }

// A constant [1, C, 1] tensor of x's dtype.
Tensor stat_tensor(const std::vector<double>& v, Dtype dtype) {
  return dispatch(dtype, [&]<class T>() {
    Array<T> a = Array<T>::from_shape({1, v.size(), 1});
    for (std::size_t i = 0; i < v.size(); ++i) a.data()[i] = T(v[i]);
    return Tensor::from_array(std::move(a));
  });
}

// x̂ and invstd in the [A, C, B] view as taped functions of x: with batch statistics
// they are recomputed with taped ops (so they carry their dependence on x); otherwise
// they are the saved running statistics, constants.
struct Normalised {
  Tensor xhat, r;  // [A, C, B], [1, C, 1]
};

Normalised normalised(const NormSpec& s, const NormStats& st, const Tensor& x) {
  Tensor x3 = reshape(x, s.stat_view);
  if (s.batch_stats) {
    Tensor xc = x3 - mean(x3, {0, 2}, true);
    Tensor r = pow(mean(xc * xc, {0, 2}, true) + s.eps, -0.5);
    return {xc * r, r};
  }
  Tensor r = stat_tensor(st.invstd, x.dtype());
  return {(x3 - stat_tensor(st.mean, x.dtype())) * r, r};
}

// The input gradient as a linear map of h = g·weight (in the [A, C, B] view):
// r·(h − mean h − x̂·mean(h x̂)) with batch statistics, r·h otherwise. It is
// self-adjoint, so it is also its own transpose.
Tensor project(const NormSpec& s, const Normalised& n, const Tensor& h3) {
  if (!s.batch_stats) return h3 * n.r;
  return n.r * (h3 - mean(h3, {0, 2}, true) - n.xhat * mean(h3 * n.xhat, {0, 2}, true));
}

Tensor to_x(const NormSpec& s, const Tensor& t3) { return reshape(t3, signed_shape(s.x_shape)); }
Tensor to_view(const NormSpec& s, const Tensor& t) { return reshape(t, s.stat_view); }
Tensor affine_b(const NormSpec& s, const Tensor& w) { return reshape(w, s.affine_view); }
// Sums a tensor of x's shape down to the weight's shape.
Tensor to_affine(const NormSpec& s, const Tensor& t) {
  Shape view(s.affine_view.begin(), s.affine_view.end());
  return reshape(sum_to(t, view), signed_shape(s.affine_shape));
}

NormGradients norm_backward(const SpecPtr& spec, const StatsPtr& stats, const Tensor& g,
                            const Tensor& x, const Tensor& w, std::array<bool, 3> mask) {
  const NormSpec& s = *spec;
  check_defined(s.backward_op, g, "grad_output");
  if (g.shape() != s.x_shape)
    throw std::invalid_argument(std::string(s.backward_op) + ": grad_output of shape " +
                                shape_str(g.shape()) + " does not match the input's shape " +
                                shape_str(s.x_shape));
  check_same_dtype(s.backward_op, g, x);
  const bool has_w = w.defined();
  mask[1] = mask[1] && has_w;
  NormGradients out;
  dispatch(x.dtype(), [&]<class T>() {
    const std::size_t an = checked_numel(s.op, s.affine_shape);
    Array<T> dx, dw, db;
    if (mask[0]) dx = new_array<T>(s.backward_op, s.x_shape);
    if (mask[1]) dw = new_array<T>(s.backward_op, s.affine_shape);
    if (mask[2]) db = new_array<T>(s.backward_op, s.affine_shape);
    kernels::norm_backward<T>(g.value<T>().data(), x.value<T>().data(),
                              has_w ? w.value<T>().data() : nullptr, stats->mean.data(),
                              stats->invstd.data(), s.batch_stats, s.layout, an,
                              mask[0] ? dx.data() : nullptr, mask[1] ? dw.data() : nullptr,
                              mask[2] ? db.data() : nullptr);
    if (mask[0]) out.input = Tensor::from_array(std::move(dx));
    if (mask[1]) out.weight = Tensor::from_array(std::move(dw));
    if (mask[2]) out.bias = Tensor::from_array(std::move(db));
  });

  // dx = P(g·w): inputs g, x[, w].
  if (mask[0]) {
    std::vector<Tensor> in{g, x};
    if (has_w) in.push_back(w);
    out.input =
        record(s.backward_op, out.input, std::move(in), [spec, stats](const GradContext& ctx) {
          const NormSpec& s = *spec;
          const Tensor& gg = ctx.grad_output();
          const Tensor& g = ctx.input(0);
          const bool has_w = ctx.num_inputs() > 2;
          const Tensor wb = has_w ? affine_b(s, ctx.input(2)) : Tensor();
          const bool need_x = s.batch_stats && ctx.needs_grad(1);
          const bool need_gw = ctx.needs_grad(0) || (has_w && ctx.needs_grad(2));
          if (!need_x && !need_gw) return;
          const Normalised n = normalised(s, *stats, ctx.input(1));
          const Tensor gg3 = to_view(s, gg);
          if (need_gw) {
            const Tensor dh = to_x(s, project(s, n, gg3));  // dL/dh
            if (ctx.needs_grad(0)) ctx.accumulate(0, has_w ? dh * wb : dh);
            if (has_w && ctx.needs_grad(2)) ctx.accumulate(2, to_affine(s, dh * g));
          }
          if (need_x) {
            // d/dx of ⟨gg, r(h − h̄ − x̂·m)⟩ with m = mean(h x̂):
            // r²(3mB·x̂ − A·x̂ − m(gg − ḡg) − B(h − h̄)),
            // A = mean(gg (h − h̄)), B = mean(gg x̂).
            const Tensor h3 = to_view(s, has_w ? g * wb : g);
            const Tensor hc = h3 - mean(h3, {0, 2}, true);
            const Tensor m = mean(h3 * n.xhat, {0, 2}, true);
            const Tensor A = mean(gg3 * hc, {0, 2}, true);
            const Tensor B = mean(gg3 * n.xhat, {0, 2}, true);
            const Tensor ggc = gg3 - mean(gg3, {0, 2}, true);
            const Tensor gx3 = n.r * n.r * ((3.0 * m * B - A) * n.xhat - m * ggc - B * hc);
            ctx.accumulate(1, to_x(s, gx3));
          }
        });
  }
  // dw = Σ g·x̂: inputs g, x.
  if (mask[1]) {
    out.weight = record(
        s.op == std::string("batch_norm") ? "batch_norm_backward_weight" : "norm_backward_weight",
        out.weight, {g, x}, [spec, stats](const GradContext& ctx) {
          const NormSpec& s = *spec;
          const Tensor ggb = affine_b(s, ctx.grad_output());
          const Normalised n = normalised(s, *stats, ctx.input(1));
          if (ctx.needs_grad(0)) ctx.accumulate(0, ggb * to_x(s, n.xhat));
          if (ctx.needs_grad(1) && s.batch_stats)
            ctx.accumulate(1, to_x(s, project(s, n, to_view(s, ctx.input(0) * ggb))));
          else if (ctx.needs_grad(1))
            ctx.accumulate(1, to_x(s, to_view(s, ctx.input(0) * ggb) * n.r));
        });
  }
  // db = Σ g: input g.
  if (mask[2]) {
    out.bias = record(
        s.op == std::string("batch_norm") ? "batch_norm_backward_bias" : "norm_backward_bias",
        out.bias, {g},
        [spec](const GradContext& ctx) {
          ctx.accumulate(0, expand(affine_b(*spec, ctx.grad_output()), spec->x_shape));
        },
        Saved::none());
  }
  return out;
}

// Checks the dtype of an optional companion tensor.
void check_companion(const char* op, const Tensor& input, const Tensor& t, const char* name) {
  if (t.defined() && t.dtype() != input.dtype())
    throw std::invalid_argument(std::string(op) + ": expected " + name + " to have dtype " +
                                dtype_name(input.dtype()) + " like the input, got " +
                                dtype_name(t.dtype()));
}

// Runs the forward of a normalisation whose statistics are given (or computed when
// stats is empty), and records it with inputs x, weight, bias.
Tensor norm_forward(const SpecPtr& spec, const StatsPtr& stats, const Tensor& x, const Tensor& w,
                    const Tensor& b) {
  const NormSpec& s = *spec;
  Tensor y = dispatch(x.dtype(), [&]<class T>() {
    Array<T> out = new_array<T>(s.op, s.x_shape);
    kernels::norm_forward<T>(x.value<T>().data(), w.defined() ? w.value<T>().data() : nullptr,
                             b.defined() ? b.value<T>().data() : nullptr, stats->mean.data(),
                             stats->invstd.data(), s.layout, out.data());
    return Tensor::from_array(std::move(out));
  });
  std::vector<Tensor> in{x};
  const int iw = w.defined() ? int(in.size()) : -1;
  if (w.defined()) in.push_back(w);
  const int ib = b.defined() ? int(in.size()) : -1;
  if (b.defined()) in.push_back(b);
  Saved saved = iw >= 0 ? Saved::of({0, std::size_t(iw)}) : Saved::of({0});
  const std::size_t bytes = 2 * stats->mean.size() * sizeof(double);
  return record(
      s.op, y, std::move(in),
      [spec, stats, iw, ib](const GradContext& ctx) {
        const std::array<bool, 3> mask{ctx.needs_grad(0), iw >= 0 && ctx.needs_grad(iw),
                                       ib >= 0 && ctx.needs_grad(ib)};
        const NormGradients gr = norm_backward(spec, stats, ctx.grad_output(), ctx.input(0),
                                               iw >= 0 ? ctx.input(iw) : Tensor(), mask);
        if (mask[0]) ctx.accumulate(0, gr.input);
        if (mask[1]) ctx.accumulate(iw, gr.weight);
        if (mask[2]) ctx.accumulate(ib, gr.bias);
      },
      saved, bytes);
}

std::shared_ptr<NormStats> batch_stats_of(const Tensor& x, const NormLayout& l, double eps,
                                          std::vector<double>* var_out) {
  auto st = std::make_shared<NormStats>();
  st->mean.assign(l.C, 0.0);
  st->invstd.assign(l.C, 0.0);
  std::vector<double> var(l.C, 0.0);
  if (l.count() > 0)
    dispatch(x.dtype(), [&]<class T>() {
      kernels::norm_stats<T>(x.value<T>().data(), l, st->mean.data(), var.data());
    });
  for (std::size_t c = 0; c < l.C; ++c) st->invstd[c] = 1.0 / std::sqrt(var[c] + eps);
  if (var_out) *var_out = std::move(var);
  return st;
}

std::vector<double> to_doubles(const Tensor& t) {
  return dispatch(t.dtype(), [&]<class T>() {
    const auto& a = t.value<T>();
    return std::vector<double>(a.begin(), a.end());
  });
}

// Batch norm's view of [N, C, *]: statistics per channel over (N, spatial).
std::shared_ptr<NormSpec> batch_norm_spec(const char* op, const char* backward_op, const Shape& xs,
                                          double eps, bool batch_stats) {
  auto s = std::make_shared<NormSpec>();
  s->op = op;
  s->backward_op = backward_op;
  s->x_shape = xs;
  const std::size_t N = xs[0], C = xs[1];
  std::size_t S = 1;
  for (std::size_t i = 2; i < xs.size(); ++i) S *= xs[i];
  s->layout = NormLayout{N, C, S, C == 0 ? 1 : C, 1, S == 0 ? 1 : S, true};
  s->stat_view = {std::int64_t(N), std::int64_t(C), std::int64_t(S)};
  s->affine_view.assign(xs.size(), 1);
  s->affine_view[1] = std::int64_t(C);
  s->affine_shape = {C};
  s->eps = eps;
  s->batch_stats = batch_stats;
  return s;
}

void check_features(const char* op, const Tensor& t, const char* name, std::size_t c) {
  if (t.defined() && t.numel() != c)
    throw std::invalid_argument(std::string(op) + ": " + name + " should contain " +
                                std::to_string(c) + " elements not " + std::to_string(t.numel()));
}

}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum,
                  double eps) {
  const char* op = "batch_norm";
  check_defined(op, input);
  const Shape xs = input.shape();
  if (xs.size() < 2)
    throw std::invalid_argument(std::string(op) +
                                ": expected an input with at least 2 dimensions [N, C, *], got " +
                                shape_str(xs));
  checked_numel(op, xs);
  if (training) {
    std::size_t prods = xs[0];
    for (std::size_t i = 2; i < xs.size(); ++i) prods *= xs[i];
    if (prods == 1)
      throw std::invalid_argument(
          std::string(op) +
          ": Expected more than 1 value per channel when training, got input size " +
          shape_str(xs));
  }
  const std::size_t C = xs[1];
  if (running_mean.defined())
    check_features(op, running_mean, "running_mean", C);
  else if (!training)
    throw std::invalid_argument(std::string(op) +
                                ": running_mean must be defined in evaluation mode");
  if (running_var.defined())
    check_features(op, running_var, "running_var", C);
  else if (!training)
    throw std::invalid_argument(std::string(op) +
                                ": running_var must be defined in evaluation mode");
  check_features(op, weight, "weight", C);
  check_features(op, bias, "bias", C);
  check_companion(op, input, running_mean, "running_mean");
  check_companion(op, input, running_var, "running_var");
  check_companion(op, input, weight, "weight");
  check_companion(op, input, bias, "bias");

  auto spec = batch_norm_spec(op, "batch_norm_backward", xs, eps, training);
  std::shared_ptr<NormStats> stats;
  if (training) {
    std::vector<double> var;
    stats = batch_stats_of(input, spec->layout, eps, &var);
    // PyTorch leaves the running statistics alone on an empty batch.
    const std::size_t n = spec->layout.count();
    if (n > 0 && C > 0) {
      const double unbias = double(n) / double(n - 1);
      if (running_mean.defined()) {
        Tensor rm = running_mean;
        dispatch(rm.dtype(), [&]<class T>() {
          T* p = rm.mutable_value<T>().data();
          for (std::size_t c = 0; c < C; ++c)
            p[c] = T(momentum * stats->mean[c] + (1.0 - momentum) * double(p[c]));
        });
      }
      if (running_var.defined()) {
        Tensor rv = running_var;
        dispatch(rv.dtype(), [&]<class T>() {
          T* p = rv.mutable_value<T>().data();
          for (std::size_t c = 0; c < C; ++c)
            p[c] = T(momentum * var[c] * unbias + (1.0 - momentum) * double(p[c]));
        });
      }
    }
  } else {
    auto st = std::make_shared<NormStats>();
    st->mean = to_doubles(running_mean);
    st->invstd = to_doubles(running_var);
    for (double& v : st->invstd) v = 1.0 / std::sqrt(v + eps);
    stats = std::move(st);
  }
  return norm_forward(spec, stats, input, weight, bias);
}

NormGradients batch_norm_backward(const Tensor& grad_output, const Tensor& input,
                                  const Tensor& weight, const Tensor& mean, const Tensor& invstd,
                                  bool training, double eps, std::array<bool, 3> output_mask) {
  const char* op = "batch_norm_backward";
  check_defined(op, input);
  check_defined(op, mean, "mean");
  check_defined(op, invstd, "invstd");
  const Shape xs = input.shape();
  if (xs.size() < 2)
    throw std::invalid_argument(std::string(op) +
                                ": expected an input with at least 2 dimensions [N, C, *], got " +
                                shape_str(xs));
  check_features(op, mean, "mean", xs[1]);
  check_features(op, invstd, "invstd", xs[1]);
  check_features(op, weight, "weight", xs[1]);
  check_companion(op, input, weight, "weight");
  auto stats = std::make_shared<NormStats>();
  stats->mean = to_doubles(mean);
  stats->invstd = to_doubles(invstd);
  return norm_backward(batch_norm_spec("batch_norm", op, xs, eps, training), stats, grad_output,
                       input, weight, output_mask);
}

Tensor layer_norm(const Tensor& input, const std::vector<std::int64_t>& normalized_shape,
                  const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "layer_norm";
  check_defined(op, input);
  const std::string ns = list_str(normalized_shape);
  if (normalized_shape.empty())
    throw std::invalid_argument(std::string(op) +
                                ": Expected normalized_shape to be at least 1-dimensional, i.e., "
                                "containing at least one element, but got normalized_shape = " +
                                ns);
  for (auto d : normalized_shape)
    if (d < 0) throw std::invalid_argument(std::string(op) + ": invalid normalized_shape " + ns);
  const Shape nshape(normalized_shape.begin(), normalized_shape.end());
  for (auto [t, name] : {std::pair{&weight, "weight"}, std::pair{&bias, "bias"}})
    if (t->defined() && t->shape() != nshape)
      throw std::invalid_argument(std::string(op) + ": Expected " + name +
                                  " to be of same shape as normalized_shape, but got " + name +
                                  " of shape " + shape_str(t->shape()) +
                                  " and normalized_shape = " + ns);
  const Shape xs = input.shape();
  const std::size_t k = nshape.size();
  bool ok = xs.size() >= k;
  for (std::size_t i = 0; ok && i < k; ++i) ok = xs[xs.size() - k + i] == nshape[i];
  if (!ok) {
    std::string expect = "[*";
    for (auto d : normalized_shape) expect += ", " + std::to_string(d);
    throw std::invalid_argument(std::string(op) + ": Given normalized_shape=" + ns +
                                ", expected input with shape " + expect +
                                "], but got input of size" + shape_str(xs));
  }
  check_companion(op, input, weight, "weight");
  check_companion(op, input, bias, "bias");
  checked_numel(op, xs);
  std::size_t K = 1, M = 1;
  for (std::size_t i = 0; i < xs.size(); ++i) (i + k < xs.size() ? M : K) *= xs[i];

  auto s = std::make_shared<NormSpec>();
  s->op = op;
  s->backward_op = "layer_norm_backward";
  s->x_shape = xs;
  s->layout = NormLayout{1, M, K, 1, 0, 1, false};
  s->stat_view = {1, std::int64_t(M), std::int64_t(K)};
  s->affine_view = normalized_shape;
  s->affine_shape = nshape;
  s->eps = eps;
  s->batch_stats = true;
  auto stats = batch_stats_of(input, s->layout, eps, nullptr);
  return norm_forward(s, stats, input, weight, bias);
}

Tensor group_norm(const Tensor& input, std::int64_t num_groups, const Tensor& weight,
                  const Tensor& bias, double eps) {
  const char* op = "group_norm";
  check_defined(op, input);
  const Shape xs = input.shape();
  if (xs.size() < 2)
    throw std::invalid_argument(std::string(op) +
                                ": Expected at least 2 dimensions for input tensor but received " +
                                std::to_string(xs.size()));
  const std::size_t N = xs[0], C = xs[1];
  if (num_groups <= 0)
    throw std::invalid_argument(std::string(op) + ": num_groups must be positive, got " +
                                std::to_string(num_groups));
  const std::size_t G = std::size_t(num_groups);
  if (C % G != 0)
    throw std::invalid_argument(
        std::string(op) +
        ": Expected number of channels in input to be divisible by num_groups, but got input of "
        "shape " +
        shape_str(xs) + " and num_groups=" + std::to_string(num_groups));
  for (auto [t, name] : {std::pair{&weight, "weight"}, std::pair{&bias, "bias"}})
    if (t->defined() && (t->dim() != 1 || t->numel() != C))
      throw std::invalid_argument(std::string(op) + ": Expected " + name +
                                  " to be a vector of size equal to the number of channels in "
                                  "input, but got " +
                                  name + " of shape " + shape_str(t->shape()) +
                                  " and input of shape " + shape_str(xs));
  check_companion(op, input, weight, "weight");
  check_companion(op, input, bias, "bias");
  checked_numel(op, xs);
  std::size_t S = 1;
  for (std::size_t i = 2; i < xs.size(); ++i) S *= xs[i];
  const std::size_t Cg = C / G;

  auto s = std::make_shared<NormSpec>();
  s->op = op;
  s->backward_op = "group_norm_backward";
  s->x_shape = xs;
  s->layout = NormLayout{1, N * G, Cg * S, G, Cg, S == 0 ? 1 : S, false};
  s->stat_view = {1, std::int64_t(N * G), std::int64_t(Cg * S)};
  s->affine_view.assign(xs.size(), 1);
  s->affine_view[1] = std::int64_t(C);
  s->affine_shape = {C};
  s->eps = eps;
  s->batch_stats = true;
  auto stats = batch_stats_of(input, s->layout, eps, nullptr);
  return norm_forward(s, stats, input, weight, bias);
}

}  // namespace tapegrad
