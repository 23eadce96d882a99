#pragma once
// Pooling kernels over [planes, H, W] with PyTorch's CPU semantics: option checks and
// output sizes (ceil_mode's last window must start inside the input or the left
// padding), max pooling with flat indices into each H·W plane (the first maximum in
// window order wins; a NaN wins over everything, the last NaN over earlier ones, as
// PyTorch's `val > maxval || isnan(val)`), the adaptive windows
// [floor(i·H/out), ceil((i+1)·H/out)), and the average-pooling divisors as sparse
// plane maps (plane_map.hpp). Plain functions, no tape; core/ops/pooling.hpp has the
// taped ops.
#include <cstdint>
#include <optional>
#include <tapegrad/core/kernels/plane_map.hpp>
#include <tapegrad/core/shape.hpp>
#include <vector>

namespace tapegrad::kernels {

/// Sizes and options of one 2-D pooling, after the checks. An unbatched [C, H, W]
/// input has batch 1 and batched false.
struct Pool2dGeometry {
  std::int64_t batch = 1, channels = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  std::int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  std::int64_t pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  bool batched = true;
  std::int64_t planes() const { return batch * channels; }
  /// The output's shape, [N, C, H_out, W_out] or [C, H_out, W_out].
  Shape out_shape() const;
};

/// PyTorch's pooling_output_shape_pad_lr for one axis:
/// floor((in + 2·pad − dilation·(kernel − 1) − 1 + (ceil ? stride − 1 : 0)) / stride) + 1,
/// minus one when ceil_mode makes the last window start past the input and left padding.
std::int64_t pooling_output_size(std::int64_t in, std::int64_t kernel, std::int64_t pad,
                                 std::int64_t stride, std::int64_t dilation, bool ceil_mode);

/// max_pool2d's checks (kernel_size 1 or 2 values, stride 0-2 (empty: the kernel),
/// padding and dilation 1-2, 3-D or 4-D input, positive kernel/stride/dilation, padding at
/// most half the kernel, output at least 1×1), in PyTorch's order and wording, each
/// message prefixed by `op`.
Pool2dGeometry check_max_pool2d(const char* op, const Shape& input,
                                const std::vector<std::int64_t>& kernel_size,
                                const std::vector<std::int64_t>& stride,
                                const std::vector<std::int64_t>& padding,
                                const std::vector<std::int64_t>& dilation, bool ceil_mode);

/// avg_pool2d's checks (as max_pool2d's without dilation, plus divisor_override != 0).
Pool2dGeometry check_avg_pool2d(const char* op, const Shape& input,
                                const std::vector<std::int64_t>& kernel_size,
                                const std::vector<std::int64_t>& stride,
                                const std::vector<std::int64_t>& padding, bool ceil_mode,
                                std::optional<std::int64_t> divisor_override);

/// y [planes, H_out, W_out] and idx (flat indices into each input plane) of max pooling.
template <class T>
void max_pool2d_forward(const Pool2dGeometry& g, const T* x, T* y, std::int64_t* idx);

/// The averaging map of avg_pool2d: each window clipped to the padded input gives
/// count_include_pad's divisor, clipped to the input the other one and the summed
/// elements; an empty clipped window gives 0; divisor_override replaces both divisors.
PlaneMap avg_pool2d_map(const Pool2dGeometry& g, bool count_include_pad,
                        std::optional<std::int64_t> divisor_override);

/// First input index of adaptive window i of `out` over `in`: floor(i·in/out).
std::int64_t adaptive_start(std::int64_t i, std::int64_t out, std::int64_t in);
/// One past the last: ceil((i + 1)·in/out).
std::int64_t adaptive_end(std::int64_t i, std::int64_t out, std::int64_t in);

/// Checks of adaptive_{avg,max}_pool2d (3-D or 4-D input, non-empty C, H, W; output
/// sizes >= 0, an absent one keeps the input's) and the resulting geometry (kernel,
/// stride, padding unused).
Pool2dGeometry check_adaptive_pool2d(const char* op, const Shape& input,
                                     const std::vector<std::optional<std::int64_t>>& output_size);

/// y and idx of adaptive max pooling.
template <class T>
void adaptive_max_pool2d_forward(const Pool2dGeometry& g, const T* x, T* y, std::int64_t* idx);

/// The averaging map of adaptive_avg_pool2d (each window's mean).
PlaneMap adaptive_avg_pool2d_map(const Pool2dGeometry& g);

}  // namespace tapegrad::kernels
