#include <tapegrad/layers/conv.hpp>

#include <cmath>
#include <stdexcept>

#include <tapegrad/core/init.hpp>

namespace tapegrad {

namespace {

Shape shape_of_value(const Tensor& t) { return t.shape(); }

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

std::vector<Tensor> op_inputs(const Tensor& x, const Tensor& w, const Tensor& b) {
  return b.defined() ? std::vector<Tensor>{x, w, b} : std::vector<Tensor>{x, w};
}

std::string pair_str(const std::vector<std::int64_t>& v) {
  const auto a = v.at(0), b = v.size() > 1 ? v[1] : v[0];
  return "(" + std::to_string(a) + ", " + std::to_string(b) + ")";
}

bool is_default(const std::vector<std::int64_t>& v, std::int64_t d) {
  for (auto x : v)
    if (x != d) return false;
  return true;
}

// The checks PyTorch's module constructors make; per-call checks happen in the kernels.
void check_module_args(const char* name, std::int64_t in, std::int64_t out,
                       const std::vector<std::int64_t>& kernel, std::int64_t groups) {
  if (in <= 0 || out <= 0)
    throw std::invalid_argument(std::string(name) + ": in_channels and out_channels must be "
                                "positive, got in_channels=" + std::to_string(in) +
                                ", out_channels=" + std::to_string(out));
  if (groups <= 0)
    throw std::invalid_argument(std::string(name) + ": groups must be a positive integer, got " +
                                std::to_string(groups));
  if (in % groups != 0)
    throw std::invalid_argument(std::string(name) + ": in_channels must be divisible by groups "
                                "(in_channels=" + std::to_string(in) + ", groups=" +
                                std::to_string(groups) + ")");
  if (out % groups != 0)
    throw std::invalid_argument(std::string(name) + ": out_channels must be divisible by groups "
                                "(out_channels=" + std::to_string(out) + ", groups=" +
                                std::to_string(groups) + ")");
  if (kernel.empty() || kernel.size() > 2)
    throw std::invalid_argument(std::string(name) + ": kernel_size must be one value or a pair, "
                                "got " + std::to_string(kernel.size()) + " values");
  for (auto k : kernel)
    if (k <= 0)
      throw std::invalid_argument(std::string(name) + ": kernel_size must be positive, got " +
                                  pair_str(kernel));
}

Shape weight_shape(std::int64_t a, std::int64_t b, const std::vector<std::int64_t>& k) {
  return {static_cast<std::size_t>(a), static_cast<std::size_t>(b), static_cast<std::size_t>(k[0]),
          static_cast<std::size_t>(k.size() > 1 ? k[1] : k[0])};
}

// PyTorch's _ConvNd.reset_parameters: both layers use the weight's own fan-in.
void reset_conv(Tensor& weight, Tensor& bias, Generator& gen) {
  init::kaiming_uniform_(weight, gen, std::sqrt(5.0));
  if (bias.defined()) {
    const auto fans = init::calculate_fan_in_and_fan_out(weight.shape());
    const double fan_in = static_cast<double>(fans.fan_in);
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(fan_in) : 0.0;
    init::uniform_(bias, gen, -bound, bound);
  }
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options) {
  check_dtypes("conv2d", x, weight, bias);
  return dispatch(x.dtype(), [&]<class T>() {
    const xt::xarray<T>* b = bias.defined() ? &bias.value<T>() : nullptr;
    Tensor out = Tensor::from(kernels::conv2d_forward<T>(x.value<T>(), weight.value<T>(), b, options));
    return record("conv2d", out, op_inputs(x, weight, bias), [options](const GradContext& ctx) {
      const auto& dy = ctx.grad_output<T>();
      const auto& xv = ctx.input<T>(0);
      const auto& wv = ctx.input<T>(1);
      // dx = col2im(Wᵀ·dY); dW = dY·colsᵀ; db = Σ dY (docs/convolution.md).
      if (ctx.needs_grad(0))
        ctx.accumulate<T>(0, kernels::conv2d_backward_input<T>(dy, wv, shape_of_value(ctx.input_tensor(0)), options));
      if (ctx.needs_grad(1))
        ctx.accumulate<T>(1, kernels::conv2d_backward_weight<T>(dy, xv, shape_of_value(ctx.input_tensor(1)), options));
      if (ctx.num_inputs() > 2 && ctx.needs_grad(2))
        ctx.accumulate<T>(2, kernels::conv2d_backward_bias<T>(dy));
    });
  });
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const ConvTranspose2dOptions& options,
                        const std::optional<std::vector<std::int64_t>>& output_size) {
  check_dtypes("conv_transpose2d", x, weight, bias);
  return dispatch(x.dtype(), [&]<class T>() {
    const xt::xarray<T>* b = bias.defined() ? &bias.value<T>() : nullptr;
    Tensor out = Tensor::from(kernels::conv_transpose2d_forward<T>(
        x.value<T>(), weight.value<T>(), b, options, output_size));
    // The backward kernels read the output size (and so any output_size) from dY.
    return record("conv_transpose2d", out, op_inputs(x, weight, bias), [options](const GradContext& ctx) {
      const auto& dy = ctx.grad_output<T>();
      const auto& xv = ctx.input<T>(0);
      const auto& wv = ctx.input<T>(1);
      // dx = W·im2col(dY) (a conv2d of dY); dW = x·im2col(dY)ᵀ; db = Σ dY.
      if (ctx.needs_grad(0))
        ctx.accumulate<T>(0, kernels::conv_transpose2d_backward_input<T>(dy, wv, shape_of_value(ctx.input_tensor(0)), options));
      if (ctx.needs_grad(1))
        ctx.accumulate<T>(1, kernels::conv_transpose2d_backward_weight<T>(dy, xv, shape_of_value(ctx.input_tensor(1)), options));
      if (ctx.num_inputs() > 2 && ctx.needs_grad(2))
        ctx.accumulate<T>(2, kernels::conv_transpose2d_backward_bias<T>(dy));
    });
  });
}

// ---- Conv2d ----

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, KernelSize kernel_size,
               Generator& gen, Conv2dOptions options, bool bias, Dtype dtype)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_(kernel_size.values),
      options_(std::move(options)) {
  check_module_args("Conv2d", in_channels, out_channels, kernel_, options_.groups());
  if (options_.padding_kind() == kernels::PaddingKind::Same && !is_default(options_.stride(), 1))
    throw std::invalid_argument("Conv2d: padding='same' is not supported for strided convolutions");
  weight = register_parameter(
      "weight", Tensor::zeros(weight_shape(out_channels, in_channels / options_.groups(), kernel_), dtype));
  if (bias) this->bias = register_parameter("bias", Tensor::zeros({static_cast<std::size_t>(out_channels)}, dtype));
  reset_parameters(gen);
}

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, KernelSize kernel_size,
               Conv2dOptions options, bool bias, std::uint64_t seed, Dtype dtype)
    : Conv2d(in_channels, out_channels, std::move(kernel_size),
             *std::make_unique<Generator>(seed), std::move(options), bias, dtype) {}

void Conv2d::reset_parameters(Generator& gen) { reset_conv(weight, bias, gen); }

Tensor Conv2d::forward(const Tensor& input) { return conv2d(input, weight, bias, options_); }

std::string Conv2d::extra_repr() const {
  std::string s = std::to_string(in_channels_) + ", " + std::to_string(out_channels_) +
                  ", kernel_size=" + pair_str(kernel_) + ", stride=" + pair_str(options_.stride());
  if (options_.padding_kind() == kernels::PaddingKind::Same) s += ", padding=same";
  else if (options_.padding_kind() == kernels::PaddingKind::Valid) s += ", padding=valid";
  else if (!is_default(options_.padding(), 0)) s += ", padding=" + pair_str(options_.padding());
  if (!is_default(options_.dilation(), 1)) s += ", dilation=" + pair_str(options_.dilation());
  if (options_.groups() != 1) s += ", groups=" + std::to_string(options_.groups());
  if (!bias.defined()) s += ", bias=false";
  if (options_.padding_mode() != PaddingMode::Zeros)
    s += std::string(", padding_mode=") + kernels::padding_mode_name(options_.padding_mode());
  return s;
}

// ---- ConvTranspose2d ----

ConvTranspose2d::ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels,
                                 KernelSize kernel_size, Generator& gen,
                                 ConvTranspose2dOptions options, bool bias, Dtype dtype)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_(kernel_size.values),
      options_(std::move(options)) {
  check_module_args("ConvTranspose2d", in_channels, out_channels, kernel_, options_.groups());
  if (options_.padding_mode() != PaddingMode::Zeros)
    throw std::invalid_argument(std::string("ConvTranspose2d: Only \"zeros\" padding mode is supported, got \"") +
                                kernels::padding_mode_name(options_.padding_mode()) + "\"");
  weight = register_parameter(
      "weight", Tensor::zeros(weight_shape(in_channels, out_channels / options_.groups(), kernel_), dtype));
  if (bias) this->bias = register_parameter("bias", Tensor::zeros({static_cast<std::size_t>(out_channels)}, dtype));
  reset_parameters(gen);
}

ConvTranspose2d::ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels,
                                 KernelSize kernel_size, ConvTranspose2dOptions options,
                                 bool bias, std::uint64_t seed, Dtype dtype)
    : ConvTranspose2d(in_channels, out_channels, std::move(kernel_size),
                      *std::make_unique<Generator>(seed), std::move(options), bias, dtype) {}

void ConvTranspose2d::reset_parameters(Generator& gen) { reset_conv(weight, bias, gen); }

Tensor ConvTranspose2d::forward(const Tensor& input) {
  return conv_transpose2d(input, weight, bias, options_);
}
Tensor ConvTranspose2d::forward(const Tensor& input, const std::vector<std::int64_t>& output_size) {
  return conv_transpose2d(input, weight, bias, options_, output_size);
}

std::string ConvTranspose2d::extra_repr() const {
  std::string s = std::to_string(in_channels_) + ", " + std::to_string(out_channels_) +
                  ", kernel_size=" + pair_str(kernel_) + ", stride=" + pair_str(options_.stride());
  if (!is_default(options_.padding(), 0)) s += ", padding=" + pair_str(options_.padding());
  if (!is_default(options_.output_padding(), 0))
    s += ", output_padding=" + pair_str(options_.output_padding());
  if (!is_default(options_.dilation(), 1)) s += ", dilation=" + pair_str(options_.dilation());
  if (options_.groups() != 1) s += ", groups=" + std::to_string(options_.groups());
  if (!bias.defined()) s += ", bias=false";
  return s;
}

}  // namespace tapegrad
