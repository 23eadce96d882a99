#include <string>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/ops/plane_ops.hpp>

namespace tapegrad::detail {

std::int64_t plane_size(const Shape& s) {
  return std::int64_t(s[s.size() - 2]) * std::int64_t(s[s.size() - 1]);
}
std::int64_t plane_count(const Shape& s) {
  std::int64_t n = 1;
  for (std::size_t i = 0; i + 2 < s.size(); ++i) n *= std::int64_t(s[i]);
  return n;
}

Tensor plane_map(const char* op, const Tensor& x, const SharedPlaneMap& m, bool transpose,
                 const Shape& out_shape) {
  check_defined(op, x);
  Tensor out = dispatch(x.dtype(), [&]<class T>() {
    Array<T> y = new_array<T>(op, out_shape);
    if (transpose)
      kernels::apply_plane_map_transpose(*m, plane_count(out_shape), x.value<T>().data(), y.data());
    else
      kernels::apply_plane_map(*m, plane_count(out_shape), x.value<T>().data(), y.data());
    return Tensor::from_array(std::move(y));
  });
  const Shape in_shape = x.shape();
  const std::size_t bytes = m->src.size() * (sizeof(std::int64_t) + sizeof(double));
  return record(
      op, out, {x},
      [m, transpose, in_shape](const GradContext& ctx) {
        ctx.accumulate(0, plane_map(transpose ? "plane_map_backward" : "plane_map_transpose",
                                    ctx.grad_output(), m, !transpose, in_shape));
      },
      Saved::none(), bytes);
}

Tensor plane_gather(const char* op, const Tensor& x, const PlaneIndex& idx,
                    const Shape& out_shape) {
  check_defined(op, x);
  const Shape in_shape = x.shape();
  Tensor out = dispatch(x.dtype(), [&]<class T>() {
    Array<T> y = new_array<T>(op, out_shape);
    kernels::gather_planes(plane_count(in_shape), plane_size(in_shape), plane_size(out_shape),
                           idx->data(), x.value<T>().data(), y.data());
    return Tensor::from_array(std::move(y));
  });
  return record(
      op, out, {x},
      [idx, in_shape](const GradContext& ctx) {
        ctx.accumulate(
            0, plane_scatter_add("plane_gather_backward", ctx.grad_output(), idx, in_shape));
      },
      Saved::none(), idx->size() * sizeof(std::int64_t));
}

Tensor plane_scatter_add(const char* op, const Tensor& g, const PlaneIndex& idx,
                         const Shape& out_shape) {
  check_defined(op, g, "grad");
  const Shape g_shape = g.shape();
  Tensor out = dispatch(g.dtype(), [&]<class T>() {
    Array<T> y = new_array<T>(op, out_shape);
    kernels::scatter_add_planes(plane_count(out_shape), plane_size(out_shape), plane_size(g_shape),
                                idx->data(), g.value<T>().data(), y.data());
    return Tensor::from_array(std::move(y));
  });
  return record(
      op, out, {g},
      [idx, g_shape](const GradContext& ctx) {
        ctx.accumulate(0,
                       plane_gather("plane_scatter_add_backward", ctx.grad_output(), idx, g_shape));
      },
      Saved::none(), idx->size() * sizeof(std::int64_t));
}

}  // namespace tapegrad::detail
