// The argument checks of conv2d and conv_transpose2d, shared by the forward and
// backward kernels and the taped ops: each resolves its arguments into a
// Conv2dGeometry or throws std::invalid_argument naming the op and the values.
#include <array>
#include <stdexcept>
#include <string>
#include <tapegrad/core/kernels/conv_options.hpp>

namespace tapegrad::kernels {

namespace {

using Pair = std::array<std::int64_t, 2>;

[[noreturn]] void fail(std::string_view op, const std::string& what) {
  throw std::invalid_argument(std::string(op) + ": " + what);
}

std::string hw_str(std::int64_t h, std::int64_t w) {
  return std::to_string(h) + " x " + std::to_string(w);
}

std::int64_t i64(std::size_t v) { return static_cast<std::int64_t>(v); }

// One value for both spatial dimensions or one per dimension, as PyTorch's
// _pair / expand_param_if_needed accept.
Pair expand_pair(std::string_view op, const char* name, const std::vector<std::int64_t>& v) {
  if (v.size() == 1) return {v[0], v[0]};
  if (v.size() == 2) return {v[0], v[1]};
  fail(op, std::string("expected ") + name +
               " to be a single integer value or a list of 2 values to match the convolution "
               "dimensions, but got " +
               name + "=" + list_str(v));
}

void check_input_rank(std::string_view op, const Shape& x) {
  if (x.size() != 3 && x.size() != 4)
    fail(op, "Expected 3D (unbatched) or 4D (batched) input to " + std::string(op) +
                 ", but got input of size: " + shape_str(x));
  checked_numel(op, x);  // every later product of these sizes fits in int64
}

// PyTorch views an unbatched input as a batch of one before this check, so the
// message names the batched shape.
void check_weight_rank(std::string_view op, const Shape& x, const Shape& w, const char* layout) {
  if (w.size() != 4) {
    Shape batched = x;
    if (batched.size() == 3) batched.insert(batched.begin(), 1);
    fail(op, "Expected " + std::to_string(w.size()) + "-dimensional input for " +
                 std::to_string(w.size()) + "-dimensional weight " + shape_str(w) + ", but got " +
                 std::to_string(batched.size()) + "-dimensional input of size " +
                 shape_str(batched) + " instead (the weight is " + layout + ")");
  }
  checked_numel(op, w);
}

// d·(k − 1) + 1: the extent of a dilated kernel, checked (a dilation of 2^61 with a
// 5-wide kernel must be an error, not a wrapped-around size).
std::int64_t kernel_span(std::string_view op, std::int64_t dilation, std::int64_t kernel) {
  return checked_add(op, checked_mul(op, dilation, kernel - 1, "dilation * (kernel_size - 1)"), 1,
                     "dilation * (kernel_size - 1) + 1");
}

void check_common_options(std::string_view op, const std::vector<std::int64_t>& stride_v,
                          Pair stride, const std::vector<std::int64_t>& dilation_v, Pair dilation,
                          const std::vector<std::int64_t>& padding_v, Pair padding,
                          std::int64_t groups) {
  if (stride[0] < 1 || stride[1] < 1)
    fail(op, "non-positive stride is not supported, but got stride=" + list_str(stride_v));
  if (dilation[0] < 1 || dilation[1] < 1)
    fail(op, "dilation should be greater than zero, but got dilation=" + list_str(dilation_v));
  if (padding[0] < 0 || padding[1] < 0)
    fail(op, "negative padding is not supported, but got padding=" + list_str(padding_v));
  if (groups < 1)
    fail(op, "non-positive groups is not supported, but got groups=" + std::to_string(groups));
}

// A convolution over zero input channels is a sum over nothing: the output is the
// bias, and PyTorch accepts it. Empty spatial extents or kernels have no meaningful
// output size, so they are rejected (after the channel checks, as in PyTorch).
void check_nonempty_extents(std::string_view op, const Shape& x, const Shape& w) {
  for (std::size_t d = x.size() - 2; d < x.size(); ++d)
    if (x[d] == 0)
      fail(op,
           "Expected input with non-zero height and width (the batch and the channels may be "
           "empty), but got input of size: " +
               shape_str(x));
  if (w[2] == 0 || w[3] == 0)
    fail(op, "Expected a kernel with non-zero height and width, but got weight of size: " +
                 shape_str(w));
}

void check_groups_divide(std::string_view op, const Shape& w, std::int64_t groups) {
  if (i64(w[0]) < groups)
    fail(op, "Given groups=" + std::to_string(groups) + ", expected weight to be at least " +
                 std::to_string(groups) + " at dimension 0, but got weight of size " +
                 shape_str(w) + " instead");
  if (i64(w[0]) % groups != 0)
    fail(op, "Given groups=" + std::to_string(groups) + ", expected weight to be divisible by " +
                 std::to_string(groups) + " at dimension 0, but got weight of size " +
                 shape_str(w) + " instead");
}

// PyTorch's explicit padding functions refuse pads that would read past the far side
// of the input: reflect needs pad < size (the border itself is not repeated),
// circular needs pad <= size (wrapping around at most once).
void check_padding_mode_sizes(std::string_view op, const Shape& x, const Conv2dGeometry& g) {
  if (g.padding_mode != PaddingMode::Reflect && g.padding_mode != PaddingMode::Circular) return;
  const bool reflect = g.padding_mode == PaddingMode::Reflect;
  const std::size_t h_dim = x.size() - 2;
  struct Axis {
    std::int64_t before, after, size;
    std::size_t dim;
  };
  for (const Axis& a : {Axis{g.pad_left, g.pad_right, g.in_w, h_dim + 1},
                        Axis{g.pad_top, g.pad_bottom, g.in_h, h_dim}}) {
    const bool ok = reflect ? (a.before < a.size && a.after < a.size)
                            : (a.before <= a.size && a.after <= a.size);
    if (ok) continue;
    const std::string pads = "padding (" + std::to_string(a.before) + ", " +
                             std::to_string(a.after) + ") at dimension " + std::to_string(a.dim) +
                             " of input " + shape_str(x);
    if (reflect)
      fail(op,
           "padding_mode='reflect': Padding size should be less than the corresponding input "
           "dimension, but got: " +
               pads);
    fail(op,
         "padding_mode='circular': Padding value causes wrapping around more than once (padding "
         "must not exceed the input size), but got: " +
             pads);
  }
}

// The geometry's input part, from a checked [N, C, H, W] or [C, H, W] shape.
// The geometry both checks share, from a checked [N, C, H, W] or [C, H, W] input and
// 4-D weight: input sizes, kernel, groups, stride and dilation.
Conv2dGeometry base_geometry(const Shape& x, const Shape& w, std::int64_t groups, Pair stride,
                             Pair dilation) {
  Conv2dGeometry g;
  g.batched = x.size() == 4;
  const std::size_t off = g.batched ? 1 : 0;
  g.batch = g.batched ? i64(x[0]) : 1;
  g.in_channels = i64(x[off]);
  g.in_h = i64(x[off + 1]);
  g.in_w = i64(x[off + 2]);
  g.kernel_h = i64(w[2]);
  g.kernel_w = i64(w[3]);
  g.groups = groups;
  g.stride_h = stride[0];
  g.stride_w = stride[1];
  g.dilation_h = dilation[0];
  g.dilation_w = dilation[1];
  return g;
}

}  // namespace

Conv2dGeometry check_conv2d(const Shape& x, const Shape& w, const std::optional<Shape>& bias,
                            const Conv2dOptions& opts, std::string_view op) {
  check_input_rank(op, x);
  check_weight_rank(op, x, w, "[out_channels, in_channels/groups, kH, kW]");
  const Pair stride = expand_pair(op, "stride", opts.stride());
  const bool explicit_padding = opts.padding_kind() == PaddingKind::Explicit;
  const Pair padding = explicit_padding ? expand_pair(op, "padding", opts.padding()) : Pair{0, 0};
  const Pair dilation = expand_pair(op, "dilation", opts.dilation());
  const std::int64_t groups = opts.groups();
  check_common_options(op, opts.stride(), stride, opts.dilation(), dilation, opts.padding(),
                       padding, groups);
  if (opts.padding_kind() == PaddingKind::Same && (stride[0] != 1 || stride[1] != 1))
    fail(op, "padding='same' is not supported for strided convolutions, but got stride=" +
                 list_str(opts.stride()));
  check_groups_divide(op, w, groups);

  Conv2dGeometry g = base_geometry(x, w, groups, stride, dilation);
  g.out_channels = i64(w[0]);
  g.padding_mode = opts.padding_mode();

  if (g.in_channels != i64(w[1]) * groups)
    fail(op, "Given groups=" + std::to_string(groups) + ", weight of size " + shape_str(w) +
                 ", expected input" + shape_str(x) + " to have " +
                 std::to_string(i64(w[1]) * groups) + " channels, but got " +
                 std::to_string(g.in_channels) + " channels instead");
  if (bias && (bias->size() != 1 || (*bias)[0] != w[0]))
    fail(op, "Given weight of size " + shape_str(w) + ", expected bias to be 1-dimensional with " +
                 std::to_string(w[0]) + " elements, but got bias of size " + shape_str(*bias) +
                 " instead");
  check_nonempty_extents(op, x, w);

  const std::int64_t span_h = kernel_span(op, g.dilation_h, g.kernel_h);
  const std::int64_t span_w = kernel_span(op, g.dilation_w, g.kernel_w);
  if (opts.padding_kind() == PaddingKind::Same) {
    // Total padding d·(k − 1) keeps the size at stride 1; when it is odd the extra
    // row/column goes to the bottom/right, as in PyTorch's _convolution_mode.
    g.pad_top = (span_h - 1) / 2;
    g.pad_bottom = (span_h - 1) - g.pad_top;
    g.pad_left = (span_w - 1) / 2;
    g.pad_right = (span_w - 1) - g.pad_left;
  } else {
    g.pad_top = g.pad_bottom = padding[0];
    g.pad_left = g.pad_right = padding[1];
  }
  check_padding_mode_sizes(op, x, g);

  const std::int64_t padded_h = checked_add(op, checked_add(op, g.in_h, g.pad_top, "padded height"),
                                            g.pad_bottom, "padded height");
  const std::int64_t padded_w = checked_add(op, checked_add(op, g.in_w, g.pad_left, "padded width"),
                                            g.pad_right, "padded width");
  if (padded_h < span_h || padded_w < span_w)
    fail(op, "Calculated padded input size per channel: (" + hw_str(padded_h, padded_w) +
                 "). Kernel size: (" + hw_str(span_h, span_w) +
                 "). Kernel size can't be greater than actual input size");
  g.out_h = (padded_h - span_h) / g.stride_h + 1;
  g.out_w = (padded_w - span_w) / g.stride_w + 1;
  checked_numel(op, g.output_shape());
  return g;
}

namespace {

// The check of conv_transpose2d. `from_grad` is set by the backward kernels, which
// read the output size from grad_output: a size equal to the one the options'
// output_padding gives is accepted as such (output_padding may exceed stride − 1 when
// it is below the dilation), anything else must be a valid output_size.
Conv2dGeometry check_transpose_impl(const Shape& x, const Shape& w,
                                    const std::optional<Shape>& bias,
                                    const ConvTranspose2dOptions& opts,
                                    const std::optional<std::vector<std::int64_t>>& output_size,
                                    std::string_view op, bool from_grad) {
  check_input_rank(op, x);
  check_weight_rank(op, x, w, "[in_channels, out_channels/groups, kH, kW]");
  const Pair stride = expand_pair(op, "stride", opts.stride());
  const Pair padding = expand_pair(op, "padding", opts.padding());
  const Pair out_pad_opt = expand_pair(op, "output_padding", opts.output_padding());
  const Pair dilation = expand_pair(op, "dilation", opts.dilation());
  const std::int64_t groups = opts.groups();
  check_common_options(op, opts.stride(), stride, opts.dilation(), dilation, opts.padding(),
                       padding, groups);
  if (out_pad_opt[0] < 0 || out_pad_opt[1] < 0)
    fail(op, "negative output_padding is not supported, but got output_padding=" +
                 list_str(opts.output_padding()));
  if (opts.padding_mode() != PaddingMode::Zeros)
    fail(op, std::string("Only 'zeros' padding mode is supported for conv_transpose2d, but got "
                         "padding_mode='") +
                 padding_mode_name(opts.padding_mode()) + "'");
  check_groups_divide(op, w, groups);

  Conv2dGeometry g = base_geometry(x, w, groups, stride, dilation);
  g.out_channels = i64(w[1]) * groups;
  g.pad_top = g.pad_bottom = padding[0];
  g.pad_left = g.pad_right = padding[1];

  if (g.in_channels != i64(w[0]))
    fail(op, "Given transposed=1, weight of size " + shape_str(w) + ", expected input" +
                 shape_str(x) + " to have " + std::to_string(w[0]) + " channels, but got " +
                 std::to_string(g.in_channels) + " channels instead");
  if (bias && (bias->size() != 1 || i64((*bias)[0]) != g.out_channels))
    fail(op, "Given transposed=1, weight of size " + shape_str(w) +
                 ", expected bias to be 1-dimensional with " + std::to_string(g.out_channels) +
                 " elements, but got bias of size " + shape_str(*bias) + " instead");
  check_nonempty_extents(op, x, w);

  // The output size with output_padding 0; output_padding (or output_size) adds up to
  // stride − 1 rows/columns at the bottom/right.
  // (H − 1)·s − 2p + d·(k − 1) + 1, every step checked: a stride of 2^62 must not wrap.
  auto min_size = [&](std::int64_t in, std::int64_t stride, std::int64_t pad, std::int64_t dil,
                      std::int64_t k, const char* what) {
    const std::int64_t up =
        checked_mul(op, in - 1, stride, std::string("(input ") + what + " - 1) * stride");
    const std::int64_t span = kernel_span(op, dil, k);
    return checked_add(op, up, span, what) - checked_mul(op, 2, pad, "2 * padding");
  };
  const std::int64_t min_h =
      min_size(g.in_h, g.stride_h, g.pad_top, g.dilation_h, g.kernel_h, "height");
  const std::int64_t min_w =
      min_size(g.in_w, g.stride_w, g.pad_left, g.dilation_w, g.kernel_w, "width");
  Pair out_pad = out_pad_opt;
  if (output_size) {
    const std::size_t full = x.size();  // 4 for [N, C, H, W], 3 for [C, H, W]
    const std::vector<std::int64_t>& req = *output_size;
    if (req.size() != 2 && req.size() != full)
      fail(op, "for " + std::to_string(full) + "D input, output_size must have 2 or " +
                   std::to_string(full) + " elements (got " + std::to_string(req.size()) + ")");
    const std::int64_t want_h = req[req.size() - 2], want_w = req[req.size() - 1];
    const bool as_options = from_grad &&
                            want_h == checked_add(op, min_h, out_pad_opt[0], "output size") &&
                            want_w == checked_add(op, min_w, out_pad_opt[1], "output size");
    if (!as_options) {
      const std::int64_t max_h = checked_add(op, min_h, g.stride_h - 1, "output size"),
                         max_w = checked_add(op, min_w, g.stride_w - 1, "output size");
      if (want_h < min_h || want_h > max_h || want_w < min_w || want_w > max_w) {
        const std::string range = "[" + std::to_string(min_h) + ", " + std::to_string(min_w) +
                                  "] to [" + std::to_string(max_h) + ", " + std::to_string(max_w) +
                                  "]";
        if (from_grad)
          fail(op, "grad_output of spatial size [" + std::to_string(want_h) + ", " +
                       std::to_string(want_w) + "] does not fit input " + shape_str(x) +
                       ": expected [" +
                       std::to_string(checked_add(op, min_h, out_pad_opt[0], "output size")) +
                       ", " +
                       std::to_string(checked_add(op, min_w, out_pad_opt[1], "output size")) +
                       "] (from output_padding) or an output_size from " + range);
        fail(op, "requested an output size of " + list_str(req) + ", but valid sizes range from " +
                     range + " (for an input of [" + std::to_string(g.in_h) + ", " +
                     std::to_string(g.in_w) + "])");
      }
      out_pad = {want_h - min_h, want_w - min_w};
    }
  }
  g.output_padding_h = out_pad[0];
  g.output_padding_w = out_pad[1];
  // output_padding only adds rows that no input position reaches unless it is smaller
  // than the stride (the rows of the last step) or the dilation (the gaps of the
  // dilated kernel); PyTorch rejects anything else.
  if (!((out_pad[1] < g.stride_w || out_pad[1] < g.dilation_w) &&
        (out_pad[0] < g.stride_h || out_pad[0] < g.dilation_h)))
    fail(op,
         "output padding must be smaller than either stride or dilation, but got "
         "output_padding_height: " +
             std::to_string(out_pad[0]) + " output_padding_width: " + std::to_string(out_pad[1]) +
             " stride_height: " + std::to_string(g.stride_h) + " stride_width: " +
             std::to_string(g.stride_w) + " dilation_height: " + std::to_string(g.dilation_h) +
             " dilation_width: " + std::to_string(g.dilation_w));
  g.out_h = checked_add(op, min_h, out_pad[0], "output size");
  g.out_w = checked_add(op, min_w, out_pad[1], "output size");
  if (g.out_h < 1 || g.out_w < 1)
    fail(op, "Given input size per channel: (" + hw_str(g.in_h, g.in_w) +
                 "). Calculated output size per channel: (" + hw_str(g.out_h, g.out_w) +
                 "). Output size is too small");
  checked_numel(op, g.output_shape());
  return g;
}

}  // namespace

namespace detail {
Conv2dGeometry check_conv_transpose2d_from_grad(const Shape& input, const Shape& weight,
                                                const ConvTranspose2dOptions& opts,
                                                const std::vector<std::int64_t>& output_size,
                                                std::string_view op) {
  return check_transpose_impl(input, weight, std::nullopt, opts, output_size, op, true);
}
}  // namespace detail

Conv2dGeometry check_conv_transpose2d(const Shape& x, const Shape& w,
                                      const std::optional<Shape>& bias,
                                      const ConvTranspose2dOptions& opts,
                                      const std::optional<std::vector<std::int64_t>>& output_size,
                                      std::string_view op) {
  return check_transpose_impl(x, w, bias, opts, output_size, op, false);
}

Shape conv2d_output_shape(const Shape& x, const Shape& w, const Conv2dOptions& opts) {
  return check_conv2d(x, w, std::nullopt, opts).output_shape();
}

Shape conv_transpose2d_output_shape(const Shape& x, const Shape& w,
                                    const ConvTranspose2dOptions& opts,
                                    const std::optional<std::vector<std::int64_t>>& output_size) {
  return check_conv_transpose2d(x, w, std::nullopt, opts, output_size).output_shape();
}

}  // namespace tapegrad::kernels
