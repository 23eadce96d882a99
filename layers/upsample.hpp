#pragma once
// Upsample: interpolate() (core/ops/upsample.hpp) as a module, as torch.nn.Upsample.
#include <cstdint>
#include <optional>
#include <string>
#include <tapegrad/core/ops/upsample.hpp>
#include <tapegrad/layers/module.hpp>
#include <vector>

namespace tapegrad {

/// Resizes [N, C, H, W] to a size or by a scale factor (exactly one of them given).
class Upsample : public Module {
 public:
  explicit Upsample(std::optional<std::vector<std::int64_t>> size,
                    std::optional<std::vector<double>> scale_factor = std::nullopt,
                    InterpolateMode mode = InterpolateMode::Nearest,
                    std::optional<bool> align_corners = std::nullopt,
                    std::optional<bool> recompute_scale_factor = std::nullopt);
  Tensor forward(const Tensor& input) override;
  /// "scale_factor=2.0, mode='nearest'" or "size=(4, 6), mode='bilinear'".
  std::string extra_repr() const override;

 private:
  InterpolateOptions options_;
};

}  // namespace tapegrad
