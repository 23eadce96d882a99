#include <cmath>
#include <stdexcept>
#include <tapegrad/core/init.hpp>
#include <tapegrad/layers/conv.hpp>

namespace tapegrad {

namespace {

// One value or a pair, printed as the pair PyTorch stores.
std::string pair_str(const std::vector<std::int64_t>& v) {
  return tuple_str({v.at(0), v.size() > 1 ? v[1] : v[0]});
}

bool is_default(const std::vector<std::int64_t>& v, std::int64_t d) {
  for (auto x : v)
    if (x != d) return false;
  return true;
}

// The checks PyTorch's module constructors make; per-call checks happen in the ops.
void check_module_args(const char* name, std::int64_t in, std::int64_t out,
                       const std::vector<std::int64_t>& kernel, std::int64_t groups) {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument(std::string(name) + ": " + what);
  };
  // Zero channels are allowed, as in PyTorch: a convolution over no input channels
  // outputs its bias (see docs/convolution.md).
  if (in < 0 || out < 0)
    fail("in_channels and out_channels must be non-negative, got in_channels=" +
         std::to_string(in) + ", out_channels=" + std::to_string(out));
  if (groups <= 0) fail("groups must be a positive integer, got " + std::to_string(groups));
  if (in % groups != 0)
    fail("in_channels must be divisible by groups (in_channels=" + std::to_string(in) +
         ", groups=" + std::to_string(groups) + ")");
  if (out % groups != 0)
    fail("out_channels must be divisible by groups (out_channels=" + std::to_string(out) +
         ", groups=" + std::to_string(groups) + ")");
  if (kernel.empty() || kernel.size() > 2)
    fail("kernel_size must be one value or a pair, got " + std::to_string(kernel.size()) +
         " values");
  for (auto k : kernel)
    if (k <= 0) fail("kernel_size must be positive, got " + pair_str(kernel));
}

}  // namespace

namespace detail {

ConvBase::ConvBase(const char* name, std::int64_t in_channels, std::int64_t out_channels,
                   std::vector<std::int64_t> kernel, std::int64_t groups, bool transposed,
                   bool bias, Dtype dtype, Generator& gen)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_(std::move(kernel)) {
  check_module_args(name, in_channels, out_channels, kernel_, groups);
  const std::int64_t kh = kernel_[0], kw = kernel_.size() > 1 ? kernel_[1] : kernel_[0];
  // Conv2d: [out, in/groups, kH, kW]; ConvTranspose2d: [in, out/groups, kH, kW].
  const std::int64_t w0 = transposed ? in_channels : out_channels;
  const std::int64_t w1 = (transposed ? out_channels : in_channels) / groups;
  const std::vector<std::int64_t> ws{w0, w1, kh, kw};
  checked_numel(name, ws);
  weight = register_parameter("weight", Tensor::zeros(Shape(ws.begin(), ws.end()), dtype));
  if (bias)
    this->bias = register_parameter("bias", Tensor::zeros({std::size_t(out_channels)}, dtype));
  reset_parameters(gen);
}

void ConvBase::reset_parameters(Generator& gen) {
  init::kaiming_uniform_(weight, gen, std::sqrt(5.0));
  if (bias.defined()) {
    const auto fans = init::calculate_fan_in_and_fan_out(weight.shape());
    const double fan_in = static_cast<double>(fans.fan_in);
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(fan_in) : 0.0;
    init::uniform_(bias, gen, -bound, bound);
  }
}

std::string ConvBase::common_repr(const std::vector<std::int64_t>& stride,
                                  const std::string& padding,
                                  const std::vector<std::int64_t>& dilation,
                                  const std::vector<std::int64_t>& output_padding,
                                  std::int64_t groups) const {
  // PyTorch's _ConvNd.extra_repr, in its order.
  std::string s = std::to_string(in_channels_) + ", " + std::to_string(out_channels_) +
                  ", kernel_size=" + pair_str(kernel_) + ", stride=" + pair_str(stride);
  if (!padding.empty()) s += ", padding=" + padding;
  if (!is_default(dilation, 1)) s += ", dilation=" + pair_str(dilation);
  if (!is_default(output_padding, 0)) s += ", output_padding=" + pair_str(output_padding);
  if (groups != 1) s += ", groups=" + std::to_string(groups);
  if (!bias.defined()) s += ", bias=false";
  return s;
}

}  // namespace detail

// ---- Conv2d ----

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, KernelSize kernel_size,
               Generator& gen, Conv2dOptions options, bool bias, Dtype dtype)
    : ConvBase(
          "Conv2d", in_channels, out_channels,
          (options.padding_kind() == kernels::PaddingKind::Same && !is_default(options.stride(), 1))
              ? throw std::invalid_argument(
                    "Conv2d: padding='same' is not supported for strided convolutions")
              : kernel_size.values,
          options.groups(), false, bias, dtype, gen),
      options_(std::move(options)) {}

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, KernelSize kernel_size,
               Conv2dOptions options, bool bias, std::uint64_t seed, Dtype dtype)
    : Conv2d(in_channels, out_channels, std::move(kernel_size), *std::make_unique<Generator>(seed),
             std::move(options), bias, dtype) {}

Tensor Conv2d::forward(const Tensor& input) { return conv2d(input, weight, bias, options_); }

std::string Conv2d::extra_repr() const {
  std::string padding;
  switch (options_.padding_kind()) {
    case kernels::PaddingKind::Same:
      padding = "same";
      break;
    case kernels::PaddingKind::Valid:
      padding = "valid";
      break;
    case kernels::PaddingKind::Explicit:
      if (!is_default(options_.padding(), 0)) padding = pair_str(options_.padding());
  }
  std::string s =
      common_repr(options_.stride(), padding, options_.dilation(), {0}, options_.groups());
  if (options_.padding_mode() != PaddingMode::Zeros)
    s += std::string(", padding_mode=") + kernels::padding_mode_name(options_.padding_mode());
  return s;
}

// ---- ConvTranspose2d ----

ConvTranspose2d::ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels,
                                 KernelSize kernel_size, Generator& gen,
                                 ConvTranspose2dOptions options, bool bias, Dtype dtype)
    : ConvBase("ConvTranspose2d", in_channels, out_channels,
               options.padding_mode() != PaddingMode::Zeros
                   ? throw std::invalid_argument(
                         std::string("ConvTranspose2d: Only \"zeros\" padding mode is supported "
                                     "for ConvTranspose2d, got \"") +
                         kernels::padding_mode_name(options.padding_mode()) + "\"")
                   : kernel_size.values,
               options.groups(), true, bias, dtype, gen),
      options_(std::move(options)) {}

ConvTranspose2d::ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels,
                                 KernelSize kernel_size, ConvTranspose2dOptions options, bool bias,
                                 std::uint64_t seed, Dtype dtype)
    : ConvTranspose2d(in_channels, out_channels, std::move(kernel_size),
                      *std::make_unique<Generator>(seed), std::move(options), bias, dtype) {}

Tensor ConvTranspose2d::forward(const Tensor& input) {
  return conv_transpose2d(input, weight, bias, options_);
}
Tensor ConvTranspose2d::forward(const Tensor& input, const std::vector<std::int64_t>& output_size) {
  return conv_transpose2d(input, weight, bias, options_, output_size);
}

std::string ConvTranspose2d::extra_repr() const {
  return common_repr(options_.stride(),
                     is_default(options_.padding(), 0) ? "" : pair_str(options_.padding()),
                     options_.dilation(), options_.output_padding(), options_.groups());
}

}  // namespace tapegrad
