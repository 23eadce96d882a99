#pragma once
// LayerNorm and GroupNorm, as torch.nn's: normalisation per sample, the same in
// training and evaluation (no running statistics).
#include <cstddef>
#include <cstdint>
#include <string>
#include <tapegrad/layers/module.hpp>
#include <vector>

namespace tapegrad {

/// Normalises over the trailing dimensions normalized_shape of [*, normalized_shape];
/// parameters weight (ones) and bias (zeros) of that shape when elementwise_affine.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(std::vector<std::int64_t> normalized_shape, double eps = 1e-5,
                     bool elementwise_affine = true, Dtype dtype = Dtype::Float32);
  Tensor forward(const Tensor& input) override;
  const std::vector<std::int64_t>& normalized_shape() const { return normalized_shape_; }
  double eps() const { return eps_; }
  /// "(4,), eps=1e-05, elementwise_affine=true".
  std::string extra_repr() const override;

  /// normalized_shape each, undefined without elementwise_affine.
  Tensor weight, bias;

 private:
  std::vector<std::int64_t> normalized_shape_;
  double eps_;
};

/// Normalises [N, C, *] over groups of C / num_groups channels per sample; parameters
/// weight (ones) and bias (zeros) of [C] when affine.
class GroupNorm : public Module {
 public:
  /// Throws std::invalid_argument unless num_groups divides num_channels.
  GroupNorm(std::size_t num_groups, std::size_t num_channels, double eps = 1e-5, bool affine = true,
            Dtype dtype = Dtype::Float32);
  Tensor forward(const Tensor& input) override;
  std::size_t num_groups() const { return num_groups_; }
  std::size_t num_channels() const { return num_channels_; }
  /// "2, 6, eps=1e-05, affine=true".
  std::string extra_repr() const override;

  /// [C] each, undefined without affine.
  Tensor weight, bias;

 private:
  std::size_t num_groups_, num_channels_;
  double eps_;
};

}  // namespace tapegrad
