#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/ops/arithmetic.hpp>
#include <tapegrad/core/ops/classification.hpp>
#include <tapegrad/core/ops/reduction.hpp>
#include <tapegrad/core/ops/shape.hpp>
#include <tapegrad/core/ops/softmax.hpp>

namespace tapegrad {

using detail::new_array;
using detail::scalar_like;

namespace {

std::string fail(const char* op, const std::string& what) { return std::string(op) + ": " + what; }

// Shortest text that reads back as v ("1.5", "0.1"), as PyTorch prints a double.
std::string number_str(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc{} ? std::string(buf, end) : std::to_string(v);
}

// The input seen as [N, C, S] (S = product of the extra dims), the target as [N, S].
struct NllGeometry {
  std::size_t n = 1, c = 0, s = 1;
  Shape out_shape;  // of reduction none: the target's shape
};

void check_weight(const char* op, const Tensor& weight, const Tensor& like, std::size_t c) {
  if (!weight.defined()) return;
  check_same_dtype(op, like, weight);
  if (weight.dim() != 1 || weight.numel() != c)
    throw std::invalid_argument(fail(
        op,
        "weight tensor should be defined either for all " + std::to_string(c) +
            " classes or no classes but got weight tensor of shape: " + shape_str(weight.shape())));
}

// PyTorch's checks of nll_loss_nd, nll_loss and nll_loss2d, in their order and words.
NllGeometry nll_geometry(const char* op, const Shape& in, const IndexTensor& target) {
  const Shape& ts = target.shape();
  if (in.empty()) throw std::invalid_argument(fail(op, "Expected 1 or more dimensions (got 0)"));
  NllGeometry g;
  if (in.size() == 1) {
    if (!ts.empty())
      throw std::invalid_argument(fail(op, "size mismatch (got input: " + shape_str(in) +
                                               ", target: " + shape_str(ts) +
                                               "); a [C] input takes a 0-d target"));
    g.c = in[0];
    return g;
  }
  if (ts.empty())
    throw std::invalid_argument(
        fail(op, "Expected input batch_size (" + std::to_string(in[0]) +
                     ") to match target batch_size (a 0-d target has none)"));
  if (in[0] != ts[0])
    throw std::invalid_argument(fail(op, "Expected input batch_size (" + std::to_string(in[0]) +
                                             ") to match target batch_size (" +
                                             std::to_string(ts[0]) + ")."));
  g.n = in[0];
  g.c = in[1];
  if (in.size() == 2) {
    if (ts.size() != 1)
      throw std::invalid_argument(
          fail(op, "0D or 1D target tensor expected, multi-target not supported"));
  } else {
    Shape expected{in[0]};
    expected.insert(expected.end(), in.begin() + 2, in.end());
    if (in.size() == 4 && ts.size() != 3)
      throw std::invalid_argument(
          fail(op,
               "only batches of spatial targets supported (3D tensors) but got targets of "
               "dimension: " +
                   std::to_string(ts.size())));
    if (ts != expected)
      throw std::invalid_argument(
          in.size() == 4
              ? fail(op, "input and target batch or spatial sizes don't match: target " +
                             shape_str(ts) + ", input " + shape_str(in))
              : fail(op, "Expected target size " + shape_str(expected) + ", got " + shape_str(ts)));
    for (std::size_t i = 2; i < in.size(); ++i) g.s *= in[i];
  }
  g.out_shape = ts;
  return g;
}

// Every target is ignore_index or a class in [0, C).
void check_targets(const char* op, const IndexTensor& target, std::int64_t ignore_index,
                   std::size_t c) {
  for (std::int64_t t : target.values())
    if (t != ignore_index && (t < 0 || t >= static_cast<std::int64_t>(c)))
      throw std::invalid_argument(fail(op, "Target " + std::to_string(t) + " is out of bounds."));
}

// Σ weight[t] over the targets that are not ignored (their count without weights).
template <class T>
double total_weight(const IndexTensor& target, const T* w, std::int64_t ignore_index) {
  double total = 0.0;
  for (std::int64_t t : target.values())
    if (t != ignore_index) total += w ? static_cast<double>(w[t]) : 1.0;
  return total;
}

bool any_non_ignored(const IndexTensor& target, std::int64_t ignore_index) {
  for (std::int64_t t : target.values())
    if (t != ignore_index) return true;
  return false;
}

template <class T>
const T* weight_data(const Tensor& weight) {
  return weight.defined() ? weight.value<T>().data() : nullptr;
}

}  // namespace

Tensor nll_loss(const Tensor& input, const IndexTensor& target, const Tensor& weight,
                std::int64_t ignore_index, Reduction reduction) {
  constexpr const char* op = "nll_loss";
  check_defined(op, input);
  const NllGeometry geo = nll_geometry(op, input.shape(), target);
  check_weight(op, weight, input, geo.c);
  check_targets(op, target, ignore_index, geo.c);
  Tensor out = dispatch(input.dtype(), [&]<class T>() {
    const T* x = input.value<T>().data();
    const T* w = weight_data<T>(weight);
    const std::int64_t* t = target.values().data();
    if (reduction == Reduction::None) {
      Array<T> r = new_array<T>(op, geo.out_shape);
      T* o = r.data();
      for (std::size_t n = 0; n < geo.n; ++n)
        for (std::size_t s = 0; s < geo.s; ++s) {
          const std::int64_t k = t[n * geo.s + s];
          o[n * geo.s + s] =
              k == ignore_index
                  ? T(0)
                  : -(w ? w[k] : T(1)) * x[(n * geo.c + static_cast<std::size_t>(k)) * geo.s + s];
        }
      return Tensor::from_array(std::move(r));
    }
    double total = 0.0;  // summed in double, then rounded once
    for (std::size_t n = 0; n < geo.n; ++n)
      for (std::size_t s = 0; s < geo.s; ++s) {
        const std::int64_t k = t[n * geo.s + s];
        if (k == ignore_index) continue;
        total -= static_cast<double>(w ? w[k] : T(1)) *
                 static_cast<double>(x[(n * geo.c + static_cast<std::size_t>(k)) * geo.s + s]);
      }
    // The mean of no targets is 0/0 = NaN, as PyTorch.
    if (reduction == Reduction::Mean) total /= total_weight(target, w, ignore_index);
    return Tensor::scalar(total, dtype_of<T>());
  });
  auto tgt = std::make_shared<const IndexTensor>(target);
  const Tensor w = weight.defined() ? weight.detach() : Tensor();
  const Shape in_shape = input.shape();
  return record(
      op, out, {input},
      [tgt, w, ignore_index, reduction, in_shape](const GradContext& ctx) {
        ctx.accumulate(
            0, nll_loss_backward(ctx.grad_output(), in_shape, *tgt, w, ignore_index, reduction));
      },
      Saved::none());
}

Tensor nll_loss_backward(const Tensor& grad, const Shape& input_shape, const IndexTensor& target,
                         const Tensor& weight, std::int64_t ignore_index, Reduction reduction) {
  constexpr const char* op = "nll_loss_backward";
  check_defined(op, grad, "grad");
  const NllGeometry geo = nll_geometry(op, input_shape, target);
  check_weight(op, weight, grad, geo.c);
  check_targets(op, target, ignore_index, geo.c);
  const Shape grad_shape = reduction == Reduction::None ? geo.out_shape : Shape{};
  if (grad.shape() != grad_shape)
    throw std::invalid_argument(fail(op, "grad of shape " + shape_str(grad.shape()) +
                                             " does not match the loss's shape " +
                                             shape_str(grad_shape)));
  Tensor out = dispatch(grad.dtype(), [&]<class T>() {
    const T* g = grad.value<T>().data();
    const T* w = weight_data<T>(weight);
    const std::int64_t* t = target.values().data();
    Array<T> r = new_array<T>(op, input_shape);
    std::fill(r.begin(), r.end(), T(0));
    T* o = r.data();
    // PyTorch divides the output gradient by the total weight first.
    T scale = reduction == Reduction::None ? T(0) : g[0];
    if (reduction == Reduction::Mean)
      scale = scale / static_cast<T>(total_weight(target, w, ignore_index));
    for (std::size_t n = 0; n < geo.n; ++n)
      for (std::size_t s = 0; s < geo.s; ++s) {
        const std::size_t i = n * geo.s + s;
        const std::int64_t k = t[i];
        if (k == ignore_index) continue;
        const T gi = reduction == Reduction::None ? g[i] : scale;
        o[(n * geo.c + static_cast<std::size_t>(k)) * geo.s + s] = -(w ? w[k] : T(1)) * gi;
      }
    return Tensor::from_array(std::move(r));
  });
  // Linear in grad; its adjoint is nll_loss itself with the same options.
  auto tgt = std::make_shared<const IndexTensor>(target);
  const Tensor w = weight.defined() ? weight.detach() : Tensor();
  return record(
      op, out, {grad},
      [tgt, w, ignore_index, reduction](const GradContext& ctx) {
        ctx.accumulate(0, nll_loss(ctx.grad_output(), *tgt, w, ignore_index, reduction));
      },
      Saved::none());
}

namespace {

// The weight as [1, C, 1, ...] (or [C] for a [C] input), to broadcast over the input.
Tensor class_weight_view(const Tensor& weight, std::size_t rank, std::size_t class_dim) {
  std::vector<std::int64_t> shape(rank, 1);
  shape[class_dim] = static_cast<std::int64_t>(weight.numel());
  return reshape(weight.detach(), shape);
}

}  // namespace

Tensor cross_entropy(const Tensor& input, const IndexTensor& target, const Tensor& weight,
                     std::int64_t ignore_index, Reduction reduction, double label_smoothing) {
  constexpr const char* op = "cross_entropy";
  check_defined(op, input);
  // nll_loss's checks, before any work and naming this op.
  const NllGeometry geo = nll_geometry(op, input.shape(), target);
  check_weight(op, weight, input, geo.c);
  check_targets(op, target, ignore_index, geo.c);
  if (label_smoothing > 1.0)
    throw std::invalid_argument(fail(
        op, "label_smoothing must be between 0.0 and 1.0. Got: " + number_str(label_smoothing)));
  const std::size_t class_dim = input.dim() == 1 ? 0 : 1;
  const Tensor lsm = log_softmax(input, static_cast<std::int64_t>(class_dim));
  const Tensor nll = nll_loss(lsm, target, weight, ignore_index, reduction);
  if (!(label_smoothing > 0.0)) return nll;  // PyTorch: ε ≤ 0 is no smoothing

  // smooth[n, ...] = −Σ_c weight[c]·lsm[n, c, ...], 0 at ignored targets.
  Tensor weighted =
      weight.defined() ? mul(lsm, class_weight_view(weight, input.dim(), class_dim)) : lsm;
  Tensor smooth = neg(sum(weighted, {static_cast<std::int64_t>(class_dim)}));
  const bool any_ignored = [&] {
    for (std::int64_t t : target.values())
      if (t == ignore_index) return true;
    return false;
  }();
  if (any_ignored) {
    Tensor keep = dispatch(input.dtype(), [&]<class T>() {
      Array<T> m = new_array<T>(op, target.shape());
      for (std::size_t i = 0; i < target.numel(); ++i)
        m.data()[i] = target[i] == ignore_index ? T(0) : T(1);
      return Tensor::from_array(std::move(m));
    });
    smooth = mul(smooth, keep);
  }
  Tensor ret;
  switch (reduction) {
    case Reduction::None:
      ret = smooth;
      break;
    case Reduction::Sum:
      ret = sum(smooth);
      break;
    case Reduction::Mean: {
      const double denom = dispatch(input.dtype(), [&]<class T>() {
        return total_weight(target, weight_data<T>(weight), ignore_index);
      });
      if (denom == 0.0 && !any_non_ignored(target, ignore_index)) {
        // Every target ignored: the value is 0/0 = NaN, but PyTorch's masked_fill
        // gives the (all masked) smoothing term a zero gradient, not 0·∞.
        ret = add(mul(sum(smooth), scalar_like(0.0, smooth)), scalar_like(NAN, smooth));
      } else {
        ret = div(sum(smooth), scalar_like(denom, smooth));
      }
      break;
    }
  }
  const double c = static_cast<double>(geo.c);
  return add(mul(nll, scalar_like(1.0 - label_smoothing, nll)),
             mul(ret, scalar_like(label_smoothing / c, ret)));
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight,
                     std::int64_t ignore_index, Reduction reduction, double label_smoothing) {
  constexpr const char* op = "cross_entropy";
  check_defined(op, input);
  check_defined(op, target, "target");
  check_same_dtype(op, input, target);
  if (ignore_index >= 0)
    throw std::invalid_argument(
        fail(op, "ignore_index is not supported for floating point target"));
  if (input.dim() == 0)
    throw std::invalid_argument(fail(op, "Expected 1 or more dimensions (got 0)"));
  if (input.shape() != target.shape())
    throw std::invalid_argument(fail(op, "Expected target of the input's shape " +
                                             shape_str(input.shape()) +
                                             " for class "
                                             "probabilities, got " +
                                             shape_str(target.shape())));
  const std::size_t class_dim = input.dim() == 1 ? 0 : 1;
  const std::size_t c = input.shape()[class_dim];
  if (weight.defined()) {
    check_same_dtype(op, input, weight);
    if (weight.dim() != 1 || weight.numel() != c)
      throw std::invalid_argument(
          fail(op, "weight tensor should be defined either for all " + std::to_string(c) +
                       " classes or no classes but got weight tensor of shape: " +
                       shape_str(weight.shape())));
  }
  if (label_smoothing > 1.0)
    throw std::invalid_argument(fail(
        op, "label_smoothing must be between 0.0 and 1.0. Got: " + number_str(label_smoothing)));
  const Tensor lsm = log_softmax(input, static_cast<std::int64_t>(class_dim));
  Tensor t = target;
  if (label_smoothing > 0.0)
    t = add(mul(target, scalar_like(1.0 - label_smoothing, target)),
            scalar_like(label_smoothing / static_cast<double>(c), target));
  Tensor prod = mul(lsm, t);
  if (weight.defined()) prod = mul(prod, class_weight_view(weight, input.dim(), class_dim));
  switch (reduction) {
    case Reduction::None:
      return neg(sum(prod, {static_cast<std::int64_t>(class_dim)}));
    case Reduction::Sum:
      return neg(sum(prod));
    case Reduction::Mean:
      break;
  }
  // numel / C samples; an empty input gives NaN, as PyTorch.
  const double samples = c == 0 ? 0.0 : static_cast<double>(input.numel() / c);
  if (input.numel() == 0) return mul(neg(sum(prod)), scalar_like(NAN, prod));
  return div(neg(sum(prod)), scalar_like(samples, prod));
}

}  // namespace tapegrad
