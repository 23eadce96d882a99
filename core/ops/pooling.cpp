#include <memory>
#include <stdexcept>
#include <string>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/kernels/pooling.hpp>
#include <tapegrad/core/ops/plane_ops.hpp>
#include <tapegrad/core/ops/pooling.hpp>

namespace tapegrad {

using detail::new_array;
using detail::PlaneIndex;
using kernels::Pool2dGeometry;

namespace {

// Values and indices of a max pooling (plain or adaptive); the value is recorded as a
// gather of the input by the indices, whose gradient is the scatter-add of dY.
template <class Kernel>
std::pair<Tensor, IndexTensor> max_pool_taped(const char* op, const Tensor& input,
                                              const Pool2dGeometry& g, Kernel kernel) {
  const Shape out_shape = g.out_shape();
  auto idx = std::make_shared<std::vector<std::int64_t>>(checked_numel(op, out_shape));
  Tensor out = dispatch(input.dtype(), [&]<class T>() {
    Array<T> y = new_array<T>(op, out_shape);
    kernel(g, input.value<T>().data(), y.data(), idx->data());
    return Tensor::from_array(std::move(y));
  });
  const PlaneIndex shared = idx;
  const Shape in_shape = input.shape();
  out = record(
      op, out, {input},
      [shared, in_shape](const GradContext& ctx) {
        ctx.accumulate(0, detail::plane_scatter_add("max_pool2d_backward", ctx.grad_output(),
                                                    shared, in_shape));
      },
      Saved::none(), idx->size() * sizeof(std::int64_t));
  return {out, IndexTensor(out_shape, *idx)};
}

}  // namespace

std::pair<Tensor, IndexTensor> max_pool2d_with_indices(const Tensor& input,
                                                       const std::vector<std::int64_t>& kernel_size,
                                                       const std::vector<std::int64_t>& stride,
                                                       const std::vector<std::int64_t>& padding,
                                                       const std::vector<std::int64_t>& dilation,
                                                       bool ceil_mode) {
  const char* op = "max_pool2d";
  check_defined(op, input);
  const Pool2dGeometry g = kernels::check_max_pool2d(op, input.shape(), kernel_size, stride,
                                                     padding, dilation, ceil_mode);
  return max_pool_taped(op, input, g,
                        [](const Pool2dGeometry& gg, const auto* x, auto* y, std::int64_t* idx) {
                          kernels::max_pool2d_forward(gg, x, y, idx);
                        });
}

Tensor max_pool2d(const Tensor& input, const std::vector<std::int64_t>& kernel_size,
                  const std::vector<std::int64_t>& stride, const std::vector<std::int64_t>& padding,
                  const std::vector<std::int64_t>& dilation, bool ceil_mode) {
  return max_pool2d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode).first;
}

std::pair<Tensor, IndexTensor> adaptive_max_pool2d_with_indices(
    const Tensor& input, const std::vector<std::optional<std::int64_t>>& output_size) {
  const char* op = "adaptive_max_pool2d";
  check_defined(op, input);
  const Pool2dGeometry g = kernels::check_adaptive_pool2d(op, input.shape(), output_size);
  return max_pool_taped(op, input, g,
                        [](const Pool2dGeometry& gg, const auto* x, auto* y, std::int64_t* idx) {
                          kernels::adaptive_max_pool2d_forward(gg, x, y, idx);
                        });
}

Tensor adaptive_max_pool2d(const Tensor& input,
                           const std::vector<std::optional<std::int64_t>>& output_size) {
  return adaptive_max_pool2d_with_indices(input, output_size).first;
}

Tensor avg_pool2d(const Tensor& input, const std::vector<std::int64_t>& kernel_size,
                  const std::vector<std::int64_t>& stride, const std::vector<std::int64_t>& padding,
                  bool ceil_mode, bool count_include_pad,
                  std::optional<std::int64_t> divisor_override) {
  const char* op = "avg_pool2d";
  check_defined(op, input);
  const Pool2dGeometry g = kernels::check_avg_pool2d(op, input.shape(), kernel_size, stride,
                                                     padding, ceil_mode, divisor_override);
  auto m = std::make_shared<const kernels::PlaneMap>(
      kernels::avg_pool2d_map(g, count_include_pad, divisor_override));
  return detail::plane_map(op, input, m, false, g.out_shape());
}

Tensor adaptive_avg_pool2d(const Tensor& input,
                           const std::vector<std::optional<std::int64_t>>& output_size) {
  const char* op = "adaptive_avg_pool2d";
  check_defined(op, input);
  const Pool2dGeometry g = kernels::check_adaptive_pool2d(op, input.shape(), output_size);
  auto m = std::make_shared<const kernels::PlaneMap>(kernels::adaptive_avg_pool2d_map(g));
  return detail::plane_map(op, input, m, false, g.out_shape());
}

Tensor max_unpool2d(const Tensor& input, const IndexTensor& indices,
                    const std::vector<std::int64_t>& kernel_size,
                    const std::vector<std::int64_t>& stride,
                    const std::vector<std::int64_t>& padding,
                    const std::optional<std::vector<std::int64_t>>& output_size) {
  const char* op = "max_unpool2d";
  check_defined(op, input);
  auto fail = [op](const std::string& m) {
    throw std::invalid_argument(std::string(op) + ": " + m);
  };
  if (kernel_size.size() != 1 && kernel_size.size() != 2)
    fail("kernel_size must either be a single int, or a tuple of two ints");
  if (stride.size() > 2)
    fail("stride must either be omitted, a single int, or a tuple of two ints");
  if (padding.size() != 1 && padding.size() != 2)
    fail("padding must either be a single int, or a tuple of two ints");
  const Shape in = input.shape();
  if (in.size() != 3 && in.size() != 4)
    fail("Input to max_unpooling2d should be a 3d or 4d Tensor, but got a tensor with " +
         std::to_string(in.size()) + " dimensions.");
  auto pair = [](const std::vector<std::int64_t>& v, std::size_t i) {
    return v.size() == 1 ? v[0] : v[i];
  };
  const auto& s = stride.empty() ? kernel_size : stride;
  // torch.nn.functional._unpool_output_size.
  std::vector<std::int64_t> size(2);
  for (std::size_t d = 0; d < 2; ++d)
    size[d] = (to_i64(op, in[in.size() - 2 + d]) - 1) * pair(s, d) + pair(kernel_size, d) -
              2 * pair(padding, d);
  if (output_size) {
    std::vector<std::int64_t> want = *output_size;
    if (want.size() == 4) want.erase(want.begin(), want.begin() + 2);
    if (want.size() != 2)
      fail("output_size should be a sequence containing 2 or 4 elements, but it has a length of '" +
           std::to_string(output_size->size()) + "'");
    for (std::size_t d = 0; d < 2; ++d) {
      const std::int64_t lo = size[d] - pair(s, d), hi = size[d] + pair(s, d);
      if (!(lo < want[d] && want[d] < hi))
        fail("invalid output_size \"" + list_str(*output_size) + "\" (dim " + std::to_string(d) +
             " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ")");
    }
    size = want;
  }
  if (in != indices.shape())
    fail("Expected shape of indices to be same as that of the input tensor (" + shape_str(in) +
         ") but got indices tensor with shape: " + shape_str(indices.shape()));
  for (std::size_t i = 1; i < in.size(); ++i)
    if (in[i] == 0)
      fail(
          "max_unpooling2d_forward_out_cpu(): Expected input to have non-zero size for non-batch "
          "dimensions, but got " +
          shape_str(in) + " with dimension " + std::to_string(i) + " being empty.");
  if (size[0] < 0 || size[1] < 0)
    fail("output size must be non-negative, but got " + list_str(size));
  Shape out_shape = in;
  out_shape[in.size() - 2] = std::size_t(size[0]);
  out_shape[in.size() - 1] = std::size_t(size[1]);
  checked_numel(op, out_shape);
  const std::int64_t out_plane = checked_mul(op, size[0], size[1]);
  for (std::int64_t v : indices.values())
    if (v < 0 || v >= out_plane)
      fail("Found an invalid max index: " + std::to_string(v) + " (output volumes are of size " +
           std::to_string(size[0]) + "x" + std::to_string(size[1]) + ")");
  const PlaneIndex idx = std::make_shared<const std::vector<std::int64_t>>(indices.values());
  Tensor out = dispatch(input.dtype(), [&]<class T>() {
    Array<T> y = new_array<T>(op, out_shape);
    kernels::scatter_planes(detail::plane_count(in), out_plane, detail::plane_size(in), idx->data(),
                            input.value<T>().data(), y.data());
    return Tensor::from_array(std::move(y));
  });
  // PyTorch's gradient: dX = dY gathered at the indices (also for repeated indices).
  return record(
      op, out, {input},
      [idx, in](const GradContext& ctx) {
        ctx.accumulate(0,
                       detail::plane_gather("max_unpool2d_backward", ctx.grad_output(), idx, in));
      },
      Saved::none(), idx->size() * sizeof(std::int64_t));
}

}  // namespace tapegrad
