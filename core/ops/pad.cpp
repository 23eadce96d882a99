#include <stdexcept>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/kernels/padding.hpp>
#include <tapegrad/core/ops/pad.hpp>

namespace tapegrad {

using detail::new_array;
using kernels::PaddingMode;

namespace {

struct PadPlan {
  Shape in, out;
  std::int64_t planes = 1, h = 1, w = 1;
  std::int64_t top = 0, bottom = 0, left = 0, right = 0;
  PaddingMode mode = PaddingMode::Zeros;
};

PadPlan plan(const Tensor& x, const std::vector<std::int64_t>& a, PaddingMode mode) {
  constexpr const char* op = "pad";
  if (a.size() != 2 && a.size() != 4)
    throw std::invalid_argument(std::string(op) +
                                ": Padding length must be 2 or 4 (pairs for the last one or two "
                                "dimensions), but got " +
                                list_str(a));
  PadPlan p;
  p.in = x.shape();
  const std::size_t dims = a.size() / 2;
  if (p.in.size() < dims || (mode != PaddingMode::Zeros && p.in.size() < dims + 1))
    throw std::invalid_argument(std::string(op) + ": Padding length " + std::to_string(a.size()) +
                                " is too large for an input of " + std::to_string(p.in.size()) +
                                " dimensions " + shape_str(p.in) +
                                (mode != PaddingMode::Zeros
                                     ? " (non-constant modes need a batch or channel dimension)"
                                     : ""));
  const std::size_t r = p.in.size();
  p.w = to_i64(op, p.in[r - 1]);
  p.left = a[0];
  p.right = a[1];
  if (dims == 2) {
    p.h = to_i64(op, p.in[r - 2]);
    p.top = a[2];
    p.bottom = a[3];
  }
  p.mode = mode;
  for (std::size_t d = 0; d + dims < r; ++d)
    p.planes = checked_mul(op, p.planes, to_i64(op, p.in[d]));
  auto axis = [&](std::int64_t size, std::int64_t before, std::int64_t after, std::size_t dim) {
    const std::int64_t n = checked_add(op, checked_add(op, size, before), after);
    const std::string what = "padding (" + std::to_string(before) + ", " + std::to_string(after) +
                             ") at dimension " + std::to_string(dim) + " of input " +
                             shape_str(p.in);
    if (n < 0 || (n == 0 && size > 0 && mode != PaddingMode::Zeros))
      throw std::invalid_argument(std::string(op) + ": The input size " + std::to_string(size) +
                                  ", plus negative padding " + std::to_string(before) + " and " +
                                  std::to_string(after) +
                                  " resulted in a negative output size, "
                                  "which is invalid. Check dimension " +
                                  std::to_string(dim) + " of your input.");
    if (mode == PaddingMode::Reflect && (before >= size || after >= size))
      throw std::invalid_argument(std::string(op) +
                                  ": Padding size should be less than the corresponding input "
                                  "dimension, but got: " +
                                  what);
    if (mode == PaddingMode::Circular && (before > size || after > size))
      throw std::invalid_argument(
          std::string(op) +
          ": Padding value causes wrapping around more than once, but got: " + what);
    if (mode != PaddingMode::Zeros && size == 0)
      throw std::invalid_argument(std::string(op) +
                                  ": non-constant padding of an empty dimension " + what);
    return n;
  };
  p.out = p.in;
  p.out[r - 1] = static_cast<std::size_t>(axis(p.w, p.left, p.right, r - 1));
  if (dims == 2) p.out[r - 2] = static_cast<std::size_t>(axis(p.h, p.top, p.bottom, r - 2));
  checked_numel(op, p.out);
  return p;
}

Tensor pad_backward(const Tensor& g, const PadPlan& p);

Tensor pad_forward(const Tensor& x, const PadPlan& p, double value) {
  Tensor out = dispatch(x.dtype(), [&]<class T>() {
    Array<T> y = new_array<T>("pad", p.out);
    if (y.size() > 0)  // the maps have one entry per padded row and column
      kernels::pad_planes(x.value<T>().data(), p.planes, p.h, p.w,
                          kernels::pad_maps(p.h, p.w, p.top, p.bottom, p.left, p.right, p.mode),
                          T(value), y.data());
    return Tensor::from_array(std::move(y));
  });
  return record(
      "pad", out, {x},
      [p](const GradContext& ctx) { ctx.accumulate(0, pad_backward(ctx.grad_output(), p)); },
      Saved::none());
}

// The adjoint of pad: sums each padded position's gradient onto the element it copied.
// Its own adjoint is pad again (with 0 for the constant).
Tensor pad_backward(const Tensor& g, const PadPlan& p) {
  Tensor out = dispatch(g.dtype(), [&]<class T>() {
    Array<T> dx = new_array<T>("pad_backward", p.in);
    if (dx.size() > 0)  // the maps have one entry per padded row and column
      kernels::fold_planes(g.value<T>().data(), p.planes, p.h, p.w,
                           kernels::pad_maps(p.h, p.w, p.top, p.bottom, p.left, p.right, p.mode),
                           dx.data());
    return Tensor::from_array(std::move(dx));
  });
  return record(
      "pad_backward", out, {g},
      [p](const GradContext& ctx) { ctx.accumulate(0, pad_forward(ctx.grad_output(), p, 0.0)); },
      Saved::none());
}

}  // namespace

Tensor pad(const Tensor& input, const std::vector<std::int64_t>& amounts, PaddingMode mode,
           double value) {
  check_defined("pad", input);
  const PadPlan p = plan(input, amounts, mode);
  return pad_forward(input, p, value);
}

}  // namespace tapegrad
