#pragma once
// Taped interpolation of [N, C, H, W], as torch.nn.functional.interpolate in PyTorch
// 1.13 for modes 'nearest' (the legacy rule src = floor(dst·scale)) and 'bilinear'.
// The op is a fixed linear map per plane; its backward is the transposed map (a
// scatter of the weights), itself a taped linear op, so interpolation is
// differentiable any number of times (docs/pooling.md).
#include <cstdint>
#include <optional>
#include <string>
#include <tapegrad/core/tensor.hpp>
#include <vector>

namespace tapegrad {

/// Interpolation modes implemented (PyTorch's 'nearest' and 'bilinear').
enum class InterpolateMode { Nearest, Bilinear };

/// "nearest" / "bilinear".
const char* interpolate_mode_name(InterpolateMode m);

/// Options of interpolate(), as torch.nn.functional.interpolate's arguments: exactly one
/// of size and scale_factor (one value for both axes or two).
struct InterpolateOptions {
  std::optional<std::vector<std::int64_t>> size;
  std::optional<std::vector<double>> scale_factor;
  InterpolateMode mode = InterpolateMode::Nearest;
  /// Bilinear only (absent means false, as PyTorch's default).
  std::optional<bool> align_corners;
  /// When true, the scale used is in/out of the computed size rather than 1/scale_factor.
  std::optional<bool> recompute_scale_factor;
};

/// Resizes the last two dims of a 4-D input: size, or floor(in·scale_factor).
Tensor interpolate(const Tensor& input, const InterpolateOptions& options);

}  // namespace tapegrad
