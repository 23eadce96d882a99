#include <stdexcept>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/kernels/conv2d.hpp>
#include <tapegrad/core/ops/arithmetic.hpp>
#include <tapegrad/core/ops/conv.hpp>
#include <tapegrad/core/ops/pad.hpp>
#include <tapegrad/core/ops/shape.hpp>

namespace tapegrad {

using detail::new_array;
using kernels::ConvProblem;

namespace {

Shape y_shape(const ConvProblem& p) {
  return {std::size_t(p.batch), std::size_t(p.y_channels), std::size_t(p.plane.out_h),
          std::size_t(p.plane.out_w)};
}
Shape x_shape(const ConvProblem& p) {
  return {std::size_t(p.batch), std::size_t(p.plane.channels), std::size_t(p.plane.height),
          std::size_t(p.plane.width)};
}

std::vector<Tensor> with_bias(const Tensor& a, const Tensor& w, const Tensor& b) {
  return b.defined() ? std::vector<Tensor>{a, w, b} : std::vector<Tensor>{a, w};
}

Tensor problem_forward(const char* op, const Tensor& x, const Tensor& w, const Tensor& b,
                       const ConvProblem& p);
Tensor problem_adjoint(const char* op, const Tensor& y, const Tensor& w, const Tensor& b,
                       const ConvProblem& p);
Tensor problem_weight(const char* op, const Tensor& y, const Tensor& x, const Shape& w_shape,
                      const ConvProblem& p);

// out [C] = Σ over batch and plane of t [N, C, H, W]; its gradient broadcasts back.
Tensor channel_sum(const char* op, const Tensor& t) {
  const Shape s = t.shape();
  Tensor out = dispatch(t.dtype(), [&]<class T>() {
    Array<T> r = new_array<T>(op, {s[1]});
    kernels::channel_sum(t.value<T>().data(), std::int64_t(s[0]), std::int64_t(s[1]),
                         std::int64_t(s[2] * s[3]), r.data());
    return Tensor::from_array(std::move(r));
  });
  return record(
      op, out, {t},
      [s](const GradContext& ctx) {
        const Tensor g = reshape(ctx.grad_output(), {1, std::int64_t(s[1]), 1, 1});
        ctx.accumulate(0, expand(g, s));
      },
      Saved::none());
}

// y = conv(x, W) + b. The input gradient is the adjoint, the weight gradient the
// weight op, the bias gradient the channel sum of dY.
Tensor problem_forward(const char* op, const Tensor& x, const Tensor& w, const Tensor& b,
                       const ConvProblem& p) {
  OpScope scope(op);  // names the op if its scratch memory runs out
  Tensor out = dispatch(x.dtype(), [&]<class T>() {
    Array<T> y = new_array<T>(op, y_shape(p));
    kernels::conv_forward(p, x.value<T>().data(), w.value<T>().data(),
                          b.defined() ? b.value<T>().data() : nullptr, y.data());
    return Tensor::from_array(std::move(y));
  });
  const Shape ws = w.shape();
  return record(
      op, out, with_bias(x, w, b),
      [p, ws](const GradContext& ctx) {
        const Tensor& g = ctx.grad_output();
        if (ctx.needs_grad(0))
          ctx.accumulate(0, problem_adjoint("conv2d_backward_input", g, ctx.input(1), {}, p));
        if (ctx.needs_grad(1))
          ctx.accumulate(1, problem_weight("conv2d_backward_weight", g, ctx.input(0), ws, p));
        if (ctx.num_inputs() > 2 && ctx.needs_grad(2))
          ctx.accumulate(2, channel_sum("conv2d_backward_bias", g));
      },
      Saved{(w.requires_grad() ? 1u : 0u) | (x.requires_grad() ? 2u : 0u), false});
}

// x = convᵀ(y, W) + b. ⟨gx, convᵀ(y)⟩ = ⟨conv(gx), y⟩, so the gradient in y is the
// forward problem applied to gx and the gradient in W is the weight op with y as the
// output gradient and gx as the input.
Tensor problem_adjoint(const char* op, const Tensor& y, const Tensor& w, const Tensor& b,
                       const ConvProblem& p) {
  OpScope scope(op);  // names the op if its scratch memory runs out
  Tensor out = dispatch(y.dtype(), [&]<class T>() {
    Array<T> x = new_array<T>(op, x_shape(p));
    kernels::conv_adjoint(p, y.value<T>().data(), w.value<T>().data(), x.data(), true,
                          b.defined() ? b.value<T>().data() : nullptr);
    return Tensor::from_array(std::move(x));
  });
  const Shape ws = w.shape();
  return record(
      op, out, with_bias(y, w, b),
      [p, ws](const GradContext& ctx) {
        const Tensor& g = ctx.grad_output();
        if (ctx.needs_grad(0))
          ctx.accumulate(0, problem_forward("conv_adjoint_backward_input", g, ctx.input(1), {}, p));
        if (ctx.needs_grad(1))
          ctx.accumulate(1, problem_weight("conv_adjoint_backward_weight", ctx.input(0), g, ws, p));
        if (ctx.num_inputs() > 2 && ctx.needs_grad(2))
          ctx.accumulate(2, channel_sum("conv_adjoint_backward_bias", g));
      },
      Saved{(w.requires_grad() ? 1u : 0u) | (y.requires_grad() ? 2u : 0u), false});
}

// dW = Σ y ⊗ im2col(x) = the gradient of Σ⟨y, conv(x, W)⟩ in W. It is bilinear:
// ⟨gW, dW(y, x)⟩ = ⟨y, conv(x, gW)⟩, so the gradient in y is conv(x, gW) and the
// gradient in x is convᵀ(y, gW).
Tensor problem_weight(const char* op, const Tensor& y, const Tensor& x, const Shape& w_shape,
                      const ConvProblem& p) {
  OpScope scope(op);  // names the op if its scratch memory runs out
  Tensor out = dispatch(y.dtype(), [&]<class T>() {
    Array<T> dw = new_array<T>(op, w_shape);
    kernels::conv_weight_grad(p, y.value<T>().data(), x.value<T>().data(), dw.data());
    return Tensor::from_array(std::move(dw));
  });
  return record(
      op, out, {y, x},
      [p](const GradContext& ctx) {
        const Tensor& g = ctx.grad_output();
        if (ctx.needs_grad(0))
          ctx.accumulate(0, problem_forward("conv_weight_backward_grad", ctx.input(1), g, {}, p));
        if (ctx.needs_grad(1))
          ctx.accumulate(1, problem_adjoint("conv_weight_backward_input", ctx.input(0), g, {}, p));
      },
      Saved{(x.requires_grad() ? 1u : 0u) | (y.requires_grad() ? 2u : 0u), false});
}

void check_dtypes(const char* op, const Tensor& x, const Tensor& w, const Tensor& b) {
  check_defined(op, x, "input");
  check_defined(op, w, "weight");
  if (x.dtype() != w.dtype())
    throw std::invalid_argument(std::string(op) + ": Input type (" + dtype_name(x.dtype()) +
                                ") and weight type (" + dtype_name(w.dtype()) +
                                ") should be the same");
  if (b.defined() && b.dtype() != w.dtype())
    throw std::invalid_argument(std::string(op) + ": bias type (" + dtype_name(b.dtype()) +
                                ") and weight type (" + dtype_name(w.dtype()) +
                                ") should be the same");
}

std::optional<Shape> bias_shape(const Tensor& b) {
  if (!b.defined()) return std::nullopt;
  return b.shape();
}

// An unbatched [C, H, W] input runs as a batch of one.
Tensor batched(const Tensor& x, bool is_batched) {
  if (is_batched) return x;
  const Shape s = x.shape();
  return reshape(x, {1, std::int64_t(s[0]), std::int64_t(s[1]), std::int64_t(s[2])});
}
Tensor unbatched(const Tensor& y, bool is_batched) {
  if (is_batched) return y;
  const Shape s = y.shape();
  return reshape(y, {std::int64_t(s[1]), std::int64_t(s[2]), std::int64_t(s[3])});
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options) {
  check_dtypes("conv2d", x, weight, bias);
  const kernels::Conv2dGeometry g =
      kernels::check_conv2d(x.shape(), weight.shape(), bias_shape(bias), options, "conv2d");
  Tensor x4 = batched(x, g.batched);
  // Reflect / replicate / circular padding is an explicit (differentiable) pad first.
  if (kernels::has_explicit_padding(g))
    x4 = pad(x4, {g.pad_left, g.pad_right, g.pad_top, g.pad_bottom}, g.padding_mode);
  return unbatched(problem_forward("conv2d", x4, weight, bias, kernels::conv2d_problem(g)),
                   g.batched);
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const ConvTranspose2dOptions& options,
                        const std::optional<std::vector<std::int64_t>>& output_size) {
  check_dtypes("conv_transpose2d", x, weight, bias);
  const kernels::Conv2dGeometry g = kernels::check_conv_transpose2d(
      x.shape(), weight.shape(), bias_shape(bias), options, output_size);
  return unbatched(problem_adjoint("conv_transpose2d", batched(x, g.batched), weight, bias,
                                   kernels::conv_transpose2d_problem(g)),
                   g.batched);
}

}  // namespace tapegrad
