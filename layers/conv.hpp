#pragma once
// Taped convolution ops and the Conv2d / ConvTranspose2d modules. The ops call the
// plain kernels of core/kernels/conv2d.hpp and record a closure that calls the
// hand-derived backward kernels, computing only the gradients that are needed.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <tapegrad/core/tape.hpp>
#include <tapegrad/core/kernels/conv2d.hpp>
#include <tapegrad/layers/module.hpp>

namespace tapegrad {

using kernels::Conv2dOptions;
using kernels::ConvTranspose2dOptions;
using kernels::PaddingMode;

/// y = conv2d(x, weight) + bias, recorded on the tape. x [N, C_in, H, W] or [C_in, H, W];
/// weight [C_out, C_in/groups, kH, kW]; bias [C_out] or an undefined Tensor.
/// H_out = floor((H + 2p − d(kH − 1) − 1)/s) + 1 (likewise W).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
              const Conv2dOptions& options = {});

/// y = conv_transpose2d(x, weight) + bias, recorded on the tape. weight
/// [C_in, C_out/groups, kH, kW]. H_out = (H − 1)s − 2p + d(kH − 1) + output_padding + 1;
/// `output_size` ({H_out, W_out} or the full shape) chooses output_padding instead.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
                        const ConvTranspose2dOptions& options = {},
                        const std::optional<std::vector<std::int64_t>>& output_size = std::nullopt);

/// A kernel size: one value for both dims, or {kH, kW}.
struct KernelSize {
  KernelSize(std::int64_t k) : values{k} {}  // NOLINT: implicit, like PyTorch's int or tuple
  KernelSize(std::initializer_list<std::int64_t> k) : values(k) {}
  std::vector<std::int64_t> values;
};

/// 2-D convolution layer, as torch.nn.Conv2d. Parameters: weight
/// [out_channels, in_channels/groups, kH, kW], bias [out_channels].
/// Output: [N, out_channels, floor((H + 2p − d(kH−1) − 1)/s) + 1, ...].
class Conv2d : public Module {
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

  /// Re-draws the parameters as the constructor does.
  void reset_parameters(Generator& gen);
  Tensor forward(const Tensor& input) override;
  /// "1, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1)", as PyTorch prints it.
  std::string extra_repr() const override;
  std::string name() const override { return "Conv2d"; }
  const Conv2dOptions& options() const { return options_; }

  Tensor weight;
  Tensor bias;

 private:
  std::int64_t in_channels_, out_channels_;
  std::vector<std::int64_t> kernel_;
  Conv2dOptions options_;
};

/// 2-D transposed convolution layer, as torch.nn.ConvTranspose2d. Parameters: weight
/// [in_channels, out_channels/groups, kH, kW], bias [out_channels].
/// Output: [N, out_channels, (H − 1)s − 2p + d(kH − 1) + output_padding + 1, ...].
class ConvTranspose2d : public Module {
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

  void reset_parameters(Generator& gen);
  Tensor forward(const Tensor& input) override;
  /// Forward with PyTorch's output_size: {H_out, W_out} or the full output shape.
  Tensor forward(const Tensor& input, const std::vector<std::int64_t>& output_size);
  std::string extra_repr() const override;
  std::string name() const override { return "ConvTranspose2d"; }
  const ConvTranspose2dOptions& options() const { return options_; }

  Tensor weight;
  Tensor bias;

 private:
  std::int64_t in_channels_, out_channels_;
  std::vector<std::int64_t> kernel_;
  ConvTranspose2dOptions options_;
};

}  // namespace tapegrad
