#pragma once
// Options and argument checks of the 2-D convolution kernels (conv2d.hpp).
//
// The options mirror PyTorch's torch.nn.Conv2d / ConvTranspose2d arguments and are
// built fluently, like libtorch's:
//
//   auto o = Conv2dOptions{}.stride({2, 1}).padding(1).groups(4);
//   auto s = Conv2dOptions{}.padding("same").dilation(2).padding_mode("reflect");
//   auto t = ConvTranspose2dOptions{}.stride(2).padding(1).output_padding(1);
//
// stride, padding, dilation and output_padding take one value (used for both spatial
// dimensions) or a pair {height, width}. They are stored as given, so a list of the
// wrong length is reported by the checks, with the op name, rather than silently
// truncated. Everything is validated by check_conv2d / check_conv_transpose2d, which
// every kernel calls before doing any work.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <tapegrad/core/shape.hpp>
#include <vector>

namespace tapegrad::kernels {

/// How the input of a Conv2d is padded (PyTorch's padding_mode).
enum class PaddingMode { Zeros, Reflect, Replicate, Circular };

/// "zeros", "reflect", "replicate" or "circular".
const char* padding_mode_name(PaddingMode m);

/// Parses "zeros", "reflect", "replicate" or "circular"; anything else throws
/// std::invalid_argument naming `op` and the string.
PaddingMode parse_padding_mode(std::string_view name, std::string_view op = "conv2d");

/// How Conv2d padding was specified: explicit amounts, or PyTorch's "same"/"valid".
enum class PaddingKind { Explicit, Same, Valid };

/// Options of conv2d (PyTorch's Conv2d arguments other than the channel and kernel
/// sizes, which the weight carries). Defaults: stride 1, padding 0, dilation 1,
/// groups 1, padding_mode zeros.
class Conv2dOptions {
 public:
  Conv2dOptions() = default;

  /// Step between output positions, one value or {height, width}; must be positive.
  Conv2dOptions& stride(std::int64_t s) { return set(stride_, {s}); }
  Conv2dOptions& stride(std::initializer_list<std::int64_t> s) { return set(stride_, s); }
  Conv2dOptions& stride(std::vector<std::int64_t> s) { return set(stride_, std::move(s)); }

  /// Implicit padding on each side, one value or {height, width}; must be >= 0.
  Conv2dOptions& padding(std::int64_t p) { return set_padding({p}); }
  Conv2dOptions& padding(std::initializer_list<std::int64_t> p) { return set_padding(p); }
  Conv2dOptions& padding(std::vector<std::int64_t> p) { return set_padding(std::move(p)); }
  /// "valid" (no padding) or "same" (output size = input size; stride must be 1; an
  /// odd total padding puts the extra row/column at the bottom/right, as PyTorch
  /// does). Any other string throws std::invalid_argument at once.
  Conv2dOptions& padding(std::string_view kind);

  /// Spacing between kernel taps, one value or {height, width}; must be positive.
  Conv2dOptions& dilation(std::int64_t d) { return set(dilation_, {d}); }
  Conv2dOptions& dilation(std::initializer_list<std::int64_t> d) { return set(dilation_, d); }
  Conv2dOptions& dilation(std::vector<std::int64_t> d) { return set(dilation_, std::move(d)); }

  /// Number of blocked connections: input and output channels are split into
  /// `groups` groups and group g of the output sees only group g of the input.
  Conv2dOptions& groups(std::int64_t g) {
    groups_ = g;
    return *this;
  }

  /// Values used for the padding: zeros, or the input reflected, replicated or wrapped
  /// around (an explicit pad of the input followed by an unpadded convolution).
  Conv2dOptions& padding_mode(PaddingMode m) {
    padding_mode_ = m;
    return *this;
  }
  /// As above from PyTorch's spelling; an unknown string throws at once.
  Conv2dOptions& padding_mode(std::string_view m) {
    padding_mode_ = parse_padding_mode(m, "conv2d");
    return *this;
  }

  const std::vector<std::int64_t>& stride() const { return stride_; }
  /// The explicit padding (meaningful when padding_kind() is Explicit).
  const std::vector<std::int64_t>& padding() const { return padding_; }
  PaddingKind padding_kind() const { return padding_kind_; }
  const std::vector<std::int64_t>& dilation() const { return dilation_; }
  std::int64_t groups() const { return groups_; }
  PaddingMode padding_mode() const { return padding_mode_; }

 private:
  Conv2dOptions& set(std::vector<std::int64_t>& field, std::vector<std::int64_t> v) {
    field = std::move(v);
    return *this;
  }
  Conv2dOptions& set_padding(std::vector<std::int64_t> p) {
    padding_ = std::move(p);
    padding_kind_ = PaddingKind::Explicit;
    return *this;
  }

  std::vector<std::int64_t> stride_{1};
  std::vector<std::int64_t> padding_{0};
  PaddingKind padding_kind_ = PaddingKind::Explicit;
  std::vector<std::int64_t> dilation_{1};
  std::int64_t groups_ = 1;
  PaddingMode padding_mode_ = PaddingMode::Zeros;
};

/// Options of conv_transpose2d (PyTorch's ConvTranspose2d arguments other than the
/// channel and kernel sizes). Defaults: stride 1, padding 0, output_padding 0,
/// dilation 1, groups 1. `padding` removes rows/columns from both sides of the full
/// output; `output_padding` adds rows/columns back on the bottom/right only (it must
/// be smaller than the stride or the dilation). Only the zeros padding mode exists,
/// as in PyTorch; padding_mode is accepted so that mistake gets a clear message.
class ConvTranspose2dOptions {
 public:
  ConvTranspose2dOptions() = default;

  ConvTranspose2dOptions& stride(std::int64_t s) { return set(stride_, {s}); }
  ConvTranspose2dOptions& stride(std::initializer_list<std::int64_t> s) { return set(stride_, s); }
  ConvTranspose2dOptions& stride(std::vector<std::int64_t> s) { return set(stride_, std::move(s)); }

  ConvTranspose2dOptions& padding(std::int64_t p) { return set(padding_, {p}); }
  ConvTranspose2dOptions& padding(std::initializer_list<std::int64_t> p) {
    return set(padding_, p);
  }
  ConvTranspose2dOptions& padding(std::vector<std::int64_t> p) {
    return set(padding_, std::move(p));
  }

  ConvTranspose2dOptions& output_padding(std::int64_t p) { return set(output_padding_, {p}); }
  ConvTranspose2dOptions& output_padding(std::initializer_list<std::int64_t> p) {
    return set(output_padding_, p);
  }
  ConvTranspose2dOptions& output_padding(std::vector<std::int64_t> p) {
    return set(output_padding_, std::move(p));
  }

  ConvTranspose2dOptions& dilation(std::int64_t d) { return set(dilation_, {d}); }
  ConvTranspose2dOptions& dilation(std::initializer_list<std::int64_t> d) {
    return set(dilation_, d);
  }
  ConvTranspose2dOptions& dilation(std::vector<std::int64_t> d) {
    return set(dilation_, std::move(d));
  }

  ConvTranspose2dOptions& groups(std::int64_t g) {
    groups_ = g;
    return *this;
  }

  /// Only PaddingMode::Zeros is supported; others are rejected by the checks.
  ConvTranspose2dOptions& padding_mode(PaddingMode m) {
    padding_mode_ = m;
    return *this;
  }
  ConvTranspose2dOptions& padding_mode(std::string_view m) {
    padding_mode_ = parse_padding_mode(m, "conv_transpose2d");
    return *this;
  }

  const std::vector<std::int64_t>& stride() const { return stride_; }
  const std::vector<std::int64_t>& padding() const { return padding_; }
  const std::vector<std::int64_t>& output_padding() const { return output_padding_; }
  const std::vector<std::int64_t>& dilation() const { return dilation_; }
  std::int64_t groups() const { return groups_; }
  PaddingMode padding_mode() const { return padding_mode_; }

 private:
  ConvTranspose2dOptions& set(std::vector<std::int64_t>& field, std::vector<std::int64_t> v) {
    field = std::move(v);
    return *this;
  }

  std::vector<std::int64_t> stride_{1};
  std::vector<std::int64_t> padding_{0};
  std::vector<std::int64_t> output_padding_{0};
  std::vector<std::int64_t> dilation_{1};
  std::int64_t groups_ = 1;
  PaddingMode padding_mode_ = PaddingMode::Zeros;
};

/// Everything one convolution call resolves from its arguments, after checking them:
/// sizes, per-side padding and the output size. For conv_transpose2d "in" is the
/// transposed convolution's input and "out" its output, pad_* is its `padding` (equal
/// on both sides) and output_padding_* the one in effect (from the options or from
/// output_size).
struct Conv2dGeometry {
  bool batched = true;  ///< input was [N, C, H, W] (else [C, H, W], output likewise)
  std::int64_t batch = 1;
  std::int64_t in_channels = 0, in_h = 0, in_w = 0;
  std::int64_t out_channels = 0, out_h = 0, out_w = 0;
  std::int64_t kernel_h = 0, kernel_w = 0;
  std::int64_t groups = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  std::int64_t output_padding_h = 0, output_padding_w = 0;
  PaddingMode padding_mode = PaddingMode::Zeros;

  /// [N, C_in, H, W], or [C_in, H, W] when unbatched.
  Shape input_shape() const;
  /// [N, C_out, H_out, W_out], or [C_out, H_out, W_out] when unbatched.
  Shape output_shape() const;
};

/// The shared argument check of conv2d, used by its forward and backward kernels.
/// Throws std::invalid_argument, with a message starting "<op>: " and naming the
/// offending values, for: input not 3-D/4-D; weight not 4-D [C_out, C_in/groups, kH,
/// kW]; stride/padding/dilation lists not of 1 or 2 values; stride or dilation < 1;
/// negative padding; groups < 1; padding "same" with a stride > 1; zero-sized weight
/// or non-batch input dimensions; C_out not divisible by groups; input channels other
/// than weight[1]·groups; a bias not of shape [C_out]; reflect padding not smaller
/// than the input (circular: larger than it); a dilated kernel larger than the padded
/// input. Output size: floor((H + pad_top + pad_bottom − d·(k−1) − 1) / s) + 1.
Conv2dGeometry check_conv2d(const Shape& input, const Shape& weight,
                            const std::optional<Shape>& bias, const Conv2dOptions& opts,
                            std::string_view op = "conv2d");

/// The shared argument check of conv_transpose2d, used by its forward and backward
/// kernels. Besides the checks of conv2d that apply (weight is [C_in, C_out/groups,
/// kH, kW] here, so C_in must divide by groups and the input must have weight[0]
/// channels), rejects: negative output_padding; output_padding not smaller than
/// either the stride or the dilation; a padding mode other than zeros; an empty or
/// negative output. Output size: (H − 1)·s − 2p + d·(k − 1) + output_padding + 1.
/// `output_size` (PyTorch's forward(input, output_size)) replaces output_padding: it
/// holds {H_out, W_out}, or the full output shape (4 values for batched input, 3 for
/// unbatched), and each size must lie in [min, min + stride − 1] where min is the size
/// with output_padding 0.
Conv2dGeometry check_conv_transpose2d(
    const Shape& input, const Shape& weight, const std::optional<Shape>& bias,
    const ConvTranspose2dOptions& opts,
    const std::optional<std::vector<std::int64_t>>& output_size = std::nullopt,
    std::string_view op = "conv_transpose2d");

namespace detail {
/// The check of a transposed convolution's backward kernels, which read the output size
/// from grad_output: a size equal to the one the options' output_padding gives is
/// accepted as such (output_padding may exceed stride − 1 when it is below the
/// dilation), anything else must be a valid output_size.
Conv2dGeometry check_conv_transpose2d_from_grad(const Shape& input, const Shape& weight,
                                                const ConvTranspose2dOptions& opts,
                                                const std::vector<std::int64_t>& output_size,
                                                std::string_view op);
}  // namespace detail

/// Output shape of conv2d for these arguments (checks them like the kernels do).
Shape conv2d_output_shape(const Shape& input, const Shape& weight, const Conv2dOptions& opts = {});

/// Output shape of conv_transpose2d for these arguments (checks them like the
/// kernels do).
Shape conv_transpose2d_output_shape(
    const Shape& input, const Shape& weight, const ConvTranspose2dOptions& opts = {},
    const std::optional<std::vector<std::int64_t>>& output_size = std::nullopt);

}  // namespace tapegrad::kernels
