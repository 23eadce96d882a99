#pragma once
// Pooling modules, thin wrappers over the ops of core/ops/pooling.hpp with PyTorch's
// constructor defaults and printouts (torch.nn.MaxPool2d, ...). A size option given as
// one value prints as an int, as two as a tuple, as PyTorch prints what it was given.
#include <cstdint>
#include <optional>
#include <string>
#include <tapegrad/core/index_tensor.hpp>
#include <tapegrad/layers/module.hpp>
#include <utility>
#include <vector>

namespace tapegrad {

/// Max pooling; stride defaults to the kernel size.
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(std::vector<std::int64_t> kernel_size, std::vector<std::int64_t> stride = {},
                     std::vector<std::int64_t> padding = {0},
                     std::vector<std::int64_t> dilation = {1}, bool return_indices = false,
                     bool ceil_mode = false);
  Tensor forward(const Tensor& input) override;
  /// The output and the flat indices of the maxima (for MaxUnpool2d).
  std::pair<Tensor, IndexTensor> forward_with_indices(const Tensor& input);
  bool return_indices() const { return return_indices_; }
  /// "kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False".
  std::string extra_repr() const override;

 private:
  std::vector<std::int64_t> kernel_size_, stride_, padding_, dilation_;
  bool return_indices_, ceil_mode_;
};

/// The partial inverse of MaxPool2d; stride defaults to the kernel size.
class MaxUnpool2d : public Module {
 public:
  explicit MaxUnpool2d(std::vector<std::int64_t> kernel_size, std::vector<std::int64_t> stride = {},
                       std::vector<std::int64_t> padding = {0});
  /// Unpools `input` by the indices of a MaxPool2d; output_size as max_unpool2d's.
  Tensor forward(const Tensor& input, const IndexTensor& indices,
                 const std::optional<std::vector<std::int64_t>>& output_size = std::nullopt);
  using Module::forward;
  /// "kernel_size=(2, 2), stride=(2, 2), padding=(0, 0)" (always pairs, as PyTorch).
  std::string extra_repr() const override;

 private:
  std::vector<std::int64_t> kernel_size_, stride_, padding_;
};

/// Average pooling; stride defaults to the kernel size.
class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(std::vector<std::int64_t> kernel_size, std::vector<std::int64_t> stride = {},
                     std::vector<std::int64_t> padding = {0}, bool ceil_mode = false,
                     bool count_include_pad = true,
                     std::optional<std::int64_t> divisor_override = std::nullopt);
  Tensor forward(const Tensor& input) override;
  /// "kernel_size=2, stride=2, padding=0" (PyTorch prints only these).
  std::string extra_repr() const override;

 private:
  std::vector<std::int64_t> kernel_size_, stride_, padding_;
  bool ceil_mode_, count_include_pad_;
  std::optional<std::int64_t> divisor_override_;
};

/// Adaptive average pooling to a fixed output size (std::nullopt keeps the input's).
class AdaptiveAvgPool2d : public Module {
 public:
  /// One value (both axes) or two.
  explicit AdaptiveAvgPool2d(std::vector<std::optional<std::int64_t>> output_size);
  Tensor forward(const Tensor& input) override;
  /// "output_size=(5, 7)", "output_size=5", "output_size=(None, 7)".
  std::string extra_repr() const override;

 private:
  std::vector<std::optional<std::int64_t>> output_size_;
};

/// Adaptive max pooling to a fixed output size (std::nullopt keeps the input's).
class AdaptiveMaxPool2d : public Module {
 public:
  /// One value (both axes) or two.
  explicit AdaptiveMaxPool2d(std::vector<std::optional<std::int64_t>> output_size,
                             bool return_indices = false);
  Tensor forward(const Tensor& input) override;
  /// The output and the flat indices of the maxima.
  std::pair<Tensor, IndexTensor> forward_with_indices(const Tensor& input);
  bool return_indices() const { return return_indices_; }
  /// "output_size=(5, 7)".
  std::string extra_repr() const override;

 private:
  std::vector<std::optional<std::int64_t>> output_size_;
  bool return_indices_;
};

}  // namespace tapegrad
