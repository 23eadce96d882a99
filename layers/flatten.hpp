#pragma once
// Flatten and Unflatten: reshapes as modules, the usual bridge between conv
// feature maps [N, C, H, W] and Linear layers [N, C·H·W], and back.
#include <cstdint>
#include <string>
#include <tapegrad/layers/module.hpp>
#include <vector>

namespace tapegrad {

/// Merges dims start_dim..end_dim into one (negative dims count from the end):
/// [N, C, H, W] -> [N, C·H·W] with the defaults. As torch.nn.Flatten.
class Flatten : public Module {
 public:
  explicit Flatten(std::int64_t start_dim = 1, std::int64_t end_dim = -1)
      : start_dim_(start_dim), end_dim_(end_dim) {}
  Tensor forward(const Tensor& input) override;
  /// "start_dim=1, end_dim=-1".
  std::string extra_repr() const override;

 private:
  std::int64_t start_dim_;
  std::int64_t end_dim_;
};

/// Splits dim `dim` into `sizes` (one entry may be -1, inferred):
/// Unflatten(1, {C, H, W}) maps [N, C·H·W] -> [N, C, H, W]. As torch.nn.Unflatten.
class Unflatten : public Module {
 public:
  /// Throws std::invalid_argument if sizes is empty, has more than one -1, or has
  /// an entry that is neither -1 nor positive.
  Unflatten(std::int64_t dim, std::vector<std::int64_t> sizes);
  /// Throws std::invalid_argument naming the sizes, the dim and the input shape
  /// unless the sizes multiply to the extent of `dim`.
  Tensor forward(const Tensor& input) override;
  /// "dim=1, unflattened_size=(2, 5)".
  std::string extra_repr() const override;

 private:
  std::int64_t dim_;
  std::vector<std::int64_t> sizes_;
};

}  // namespace tapegrad
