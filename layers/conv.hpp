#pragma once
// The Conv2d and ConvTranspose2d modules: they own the weight and bias and call the
// taped ops of core/ops/conv.hpp.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <tapegrad/core/ops/conv.hpp>
#include <tapegrad/layers/module.hpp>
#include <vector>

namespace tapegrad {

/// A kernel size: one value for both dims, or {kH, kW}.
struct KernelSize {
  KernelSize(std::int64_t k) : values{k} {}  // NOLINT: implicit, like PyTorch's int or tuple
  KernelSize(std::initializer_list<std::int64_t> k) : values(k) {}
  std::vector<std::int64_t> values;
};

namespace detail {

/// What Conv2d and ConvTranspose2d share: channel counts, the kernel, the parameters
/// and PyTorch's initialisation (_ConvNd).
class ConvBase : public Module {
 public:
  /// Re-draws the parameters as the constructor does: weight ~ kaiming_uniform(a=√5),
  /// bias ~ U(±1/√fan_in), fan_in from the weight's dims 1..3.
  void reset_parameters(Generator& gen);

  Tensor weight;
  Tensor bias;

 protected:
  /// Checks the arguments as PyTorch's constructors do (naming `name`) and creates a
  /// weight of shape [w0, w1/groups... as given] and a bias of `out_channels`.
  ConvBase(const char* name, std::int64_t in_channels, std::int64_t out_channels,
           std::vector<std::int64_t> kernel, std::int64_t groups, bool transposed, bool bias,
           Dtype dtype, Generator& gen);
  /// "in, out, kernel_size=(kH, kW), stride=(sH, sW)" and the options that differ from
  /// their defaults (`padding` already formatted, empty when default), as PyTorch
  /// prints them.
  std::string common_repr(const std::vector<std::int64_t>& stride, const std::string& padding,
                          const std::vector<std::int64_t>& dilation,
                          const std::vector<std::int64_t>& output_padding,
                          std::int64_t groups) const;

  std::int64_t in_channels_, out_channels_;
  std::vector<std::int64_t> kernel_;
};

}  // namespace detail

/// 2-D convolution layer, as torch.nn.Conv2d. Parameters: weight
/// [out_channels, in_channels/groups, kH, kW], bias [out_channels].
/// Output: [N, out_channels, floor((H + 2p − d(kH−1) − 1)/s) + 1, ...].
class Conv2d : public detail::ConvBase {
 public:
  /// Initialised as PyTorch: weight ~ kaiming_uniform(a=√5) = U(±1/√fan_in), bias ~
  /// U(±1/√fan_in), fan_in = in_channels/groups·kH·kW, drawing from `gen`.
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, KernelSize kernel_size,
         Generator& gen, Conv2dOptions options = {}, bool bias = true,
         Dtype dtype = Dtype::Float32);
  /// As above with a private Generator(seed).
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, KernelSize kernel_size,
         Conv2dOptions options = {}, bool bias = true, std::uint64_t seed = 0,
         Dtype dtype = Dtype::Float32);

  Tensor forward(const Tensor& input) override;
  /// "1, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1)", as PyTorch prints it.
  std::string extra_repr() const override;
  std::string name() const override { return "Conv2d"; }
  const Conv2dOptions& options() const { return options_; }

 private:
  Conv2dOptions options_;
};

/// 2-D transposed convolution layer, as torch.nn.ConvTranspose2d. Parameters: weight
/// [in_channels, out_channels/groups, kH, kW], bias [out_channels].
/// Output: [N, out_channels, (H − 1)s − 2p + d(kH − 1) + output_padding + 1, ...].
class ConvTranspose2d : public detail::ConvBase {
 public:
  /// Initialised as PyTorch: kaiming_uniform(a=√5) with fan_in computed from the
  /// weight's dim 1 (out_channels/groups·kH·kW), bias ~ U(±1/√fan_in).
  ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, KernelSize kernel_size,
                  Generator& gen, ConvTranspose2dOptions options = {}, bool bias = true,
                  Dtype dtype = Dtype::Float32);
  /// As above with a private Generator(seed).
  ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, KernelSize kernel_size,
                  ConvTranspose2dOptions options = {}, bool bias = true, std::uint64_t seed = 0,
                  Dtype dtype = Dtype::Float32);

  Tensor forward(const Tensor& input) override;
  /// Forward with PyTorch's output_size: {H_out, W_out} or the full output shape.
  Tensor forward(const Tensor& input, const std::vector<std::int64_t>& output_size);
  std::string extra_repr() const override;
  std::string name() const override { return "ConvTranspose2d"; }
  const ConvTranspose2dOptions& options() const { return options_; }

 private:
  ConvTranspose2dOptions options_;
};

}  // namespace tapegrad
