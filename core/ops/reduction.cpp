#include <algorithm>
#include <stdexcept>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/ops/arithmetic.hpp>
#include <tapegrad/core/ops/reduction.hpp>
#include <tapegrad/core/ops/shape.hpp>

namespace tapegrad {

using detail::wrap_dim;

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
                                  " appears multiple times in the list of dims " + list_str(dims));
    axes.push_back(k);
  }
  if (rank == 0) axes.clear();
  std::sort(axes.begin(), axes.end());
  return axes;
}

// sum (or mean) over `dims`: the value is sum_to of the kept shape, reshaped; the
// gradient is expand of the (scaled) output gradient back to the input's shape.
Tensor reduce_sum(const char* op, const Tensor& a, const std::vector<std::int64_t>& dims,
                  bool keepdim, bool average) {
  check_defined(op, a);
  const Shape in = a.shape();
  const auto axes = reduce_axes(op, dims, in.size());
  Shape kept = in;
  std::vector<std::int64_t> out_shape;
  std::size_t count = 1;
  for (auto ax : axes) {
    count *= in[ax];
    kept[ax] = 1;
  }
  for (std::size_t i = 0; i < in.size(); ++i)
    if (keepdim || std::find(axes.begin(), axes.end(), i) == axes.end())
      out_shape.push_back(static_cast<std::int64_t>(kept[i]));
  Tensor r;
  {
    NoGradGuard no_grad;  // one entry for the whole reduction, recorded below
    r = sum_to(a, kept);
    if (r.id() == a.id()) r = a.clone_detached();
    if (average) r = mul(r, detail::scalar_like(1.0 / static_cast<double>(count), r));
    r = reshape(r, out_shape).detach();
  }
  const std::vector<std::int64_t> kept_signed(kept.begin(), kept.end());
  const double scale = average ? 1.0 / static_cast<double>(count) : 1.0;
  return record(
      op, r, {a},
      [in, kept_signed, scale](const GradContext& ctx) {
        Tensor g = reshape(ctx.grad_output(), kept_signed);
        if (scale != 1.0) g = mul(g, detail::scalar_like(scale, g));
        ctx.accumulate(0, expand(g, in));
      },
      Saved::none());
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

}  // namespace tapegrad
