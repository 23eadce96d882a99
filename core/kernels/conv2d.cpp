#include <tapegrad/core/kernels/conv2d.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include <omp.h>

#include <tapegrad/core/blas.hpp>
#include <tapegrad/core/kernels/depthwise.hpp>

namespace tapegrad::kernels {

// ======================================================================================
// Options, geometry and argument checks
// ======================================================================================

std::string shape_to_string(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

const char* padding_mode_name(PaddingMode m) {
  switch (m) {
    case PaddingMode::Zeros:
      return "zeros";
    case PaddingMode::Reflect:
      return "reflect";
    case PaddingMode::Replicate:
      return "replicate";
    case PaddingMode::Circular:
      return "circular";
  }
  return "?";
}

PaddingMode parse_padding_mode(std::string_view name, std::string_view op) {
  if (name == "zeros") return PaddingMode::Zeros;
  if (name == "reflect") return PaddingMode::Reflect;
  if (name == "replicate") return PaddingMode::Replicate;
  if (name == "circular") return PaddingMode::Circular;
  throw std::invalid_argument(std::string(op) +
                              ": padding_mode must be one of 'zeros', 'reflect', 'replicate' or "
                              "'circular', but got padding_mode='" +
                              std::string(name) + "'");
}

Conv2dOptions& Conv2dOptions::padding(std::string_view kind) {
  if (kind == "same") {
    padding_kind_ = PaddingKind::Same;
  } else if (kind == "valid") {
    padding_kind_ = PaddingKind::Valid;
  } else {
    throw std::invalid_argument("conv2d: Invalid padding string '" + std::string(kind) +
                                "', should be one of 'valid' or 'same'");
  }
  padding_ = {0};
  return *this;
}

Shape Conv2dGeometry::input_shape() const {
  Shape s{std::size_t(in_channels), std::size_t(in_h), std::size_t(in_w)};
  if (batched) s.insert(s.begin(), std::size_t(batch));
  return s;
}

Shape Conv2dGeometry::output_shape() const {
  Shape s{std::size_t(out_channels), std::size_t(out_h), std::size_t(out_w)};
  if (batched) s.insert(s.begin(), std::size_t(batch));
  return s;
}

namespace {

using Pair = std::array<std::int64_t, 2>;

[[noreturn]] void fail(std::string_view op, const std::string& what) {
  throw std::invalid_argument(std::string(op) + ": " + what);
}

std::string list_str(const std::vector<std::int64_t>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(v[i]);
  }
  return out + "]";
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
    fail(op, "Expected 3D (unbatched) or 4D (batched) input, but got input of size: " +
                 shape_to_string(x));
}

void check_weight_rank(std::string_view op, const Shape& w, const char* layout) {
  if (w.size() != 4)
    fail(op, std::string("Expected 4D weight ") + layout +
                 ", but got weight of size: " + shape_to_string(w));
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

// Only the batch may be empty: a zero-sized channel or spatial extent, or an empty
// weight, has no meaningful convolution (and PyTorch rejects it too).
void check_nonempty(std::string_view op, const Shape& x, const Shape& w) {
  for (std::size_t d = x.size() - 3; d < x.size(); ++d)
    if (x[d] == 0)
      fail(op,
           "Expected input with non-zero channels, height and width (only the batch may be "
           "empty), but got input of size: " +
               shape_to_string(x));
  for (std::size_t v : w)
    if (v == 0)
      fail(op,
           "Expected weight with non-zero sizes, but got weight of size: " + shape_to_string(w));
}

void check_groups_divide(std::string_view op, const Shape& w, std::int64_t groups) {
  if (i64(w[0]) % groups != 0)
    fail(op, "Given groups=" + std::to_string(groups) + ", expected weight to be divisible by " +
                 std::to_string(groups) + " at dimension 0, but got weight of size " +
                 shape_to_string(w) + " instead");
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
                             " of input " + shape_to_string(x);
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
Conv2dGeometry input_geometry(const Shape& x) {
  Conv2dGeometry g;
  g.batched = x.size() == 4;
  const std::size_t off = g.batched ? 1 : 0;
  g.batch = g.batched ? i64(x[0]) : 1;
  g.in_channels = i64(x[off]);
  g.in_h = i64(x[off + 1]);
  g.in_w = i64(x[off + 2]);
  return g;
}

}  // namespace

Conv2dGeometry check_conv2d(const Shape& x, const Shape& w, const std::optional<Shape>& bias,
                            const Conv2dOptions& opts, std::string_view op) {
  check_input_rank(op, x);
  check_weight_rank(op, w, "[out_channels, in_channels/groups, kH, kW]");
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
  check_nonempty(op, x, w);
  check_groups_divide(op, w, groups);

  Conv2dGeometry g = input_geometry(x);
  g.out_channels = i64(w[0]);
  g.kernel_h = i64(w[2]);
  g.kernel_w = i64(w[3]);
  g.groups = groups;
  g.stride_h = stride[0];
  g.stride_w = stride[1];
  g.dilation_h = dilation[0];
  g.dilation_w = dilation[1];
  g.padding_mode = opts.padding_mode();

  if (g.in_channels != i64(w[1]) * groups)
    fail(op, "Given groups=" + std::to_string(groups) + ", weight of size " + shape_to_string(w) +
                 ", expected input" + shape_to_string(x) + " to have " +
                 std::to_string(i64(w[1]) * groups) + " channels, but got " +
                 std::to_string(g.in_channels) + " channels instead");
  if (bias && (bias->size() != 1 || (*bias)[0] != w[0]))
    fail(op, "Given weight of size " + shape_to_string(w) +
                 ", expected bias to be 1-dimensional with " + std::to_string(w[0]) +
                 " elements, but got bias of size " + shape_to_string(*bias) + " instead");

  const std::int64_t span_h = g.dilation_h * (g.kernel_h - 1) + 1;
  const std::int64_t span_w = g.dilation_w * (g.kernel_w - 1) + 1;
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

  const std::int64_t padded_h = g.in_h + g.pad_top + g.pad_bottom;
  const std::int64_t padded_w = g.in_w + g.pad_left + g.pad_right;
  if (padded_h < span_h || padded_w < span_w)
    fail(op, "Calculated padded input size per channel: (" + hw_str(padded_h, padded_w) +
                 "). Kernel size: (" + hw_str(span_h, span_w) +
                 "). Kernel size can't be greater than actual input size");
  g.out_h = (padded_h - span_h) / g.stride_h + 1;
  g.out_w = (padded_w - span_w) / g.stride_w + 1;
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
  check_weight_rank(op, w, "[in_channels, out_channels/groups, kH, kW]");
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
  check_nonempty(op, x, w);
  check_groups_divide(op, w, groups);

  Conv2dGeometry g = input_geometry(x);
  g.out_channels = i64(w[1]) * groups;
  g.kernel_h = i64(w[2]);
  g.kernel_w = i64(w[3]);
  g.groups = groups;
  g.stride_h = stride[0];
  g.stride_w = stride[1];
  g.dilation_h = dilation[0];
  g.dilation_w = dilation[1];
  g.pad_top = g.pad_bottom = padding[0];
  g.pad_left = g.pad_right = padding[1];

  if (g.in_channels != i64(w[0]))
    fail(op, "Given transposed=1, weight of size " + shape_to_string(w) + ", expected input" +
                 shape_to_string(x) + " to have " + std::to_string(w[0]) + " channels, but got " +
                 std::to_string(g.in_channels) + " channels instead");
  if (bias && (bias->size() != 1 || i64((*bias)[0]) != g.out_channels))
    fail(op, "Given transposed=1, weight of size " + shape_to_string(w) +
                 ", expected bias to be 1-dimensional with " + std::to_string(g.out_channels) +
                 " elements, but got bias of size " + shape_to_string(*bias) + " instead");

  // The output size with output_padding 0; output_padding (or output_size) adds up to
  // stride − 1 rows/columns at the bottom/right.
  const std::int64_t min_h =
      (g.in_h - 1) * g.stride_h - 2 * g.pad_top + g.dilation_h * (g.kernel_h - 1) + 1;
  const std::int64_t min_w =
      (g.in_w - 1) * g.stride_w - 2 * g.pad_left + g.dilation_w * (g.kernel_w - 1) + 1;
  Pair out_pad = out_pad_opt;
  if (output_size) {
    const std::size_t full = x.size();  // 4 for [N, C, H, W], 3 for [C, H, W]
    const std::vector<std::int64_t>& req = *output_size;
    if (req.size() != 2 && req.size() != full)
      fail(op, "for " + std::to_string(full) + "D input, output_size must have 2 or " +
                   std::to_string(full) + " elements (got " + std::to_string(req.size()) + ")");
    const std::int64_t want_h = req[req.size() - 2], want_w = req[req.size() - 1];
    const bool as_options =
        from_grad && want_h == min_h + out_pad_opt[0] && want_w == min_w + out_pad_opt[1];
    if (!as_options) {
      const std::int64_t max_h = min_h + g.stride_h - 1, max_w = min_w + g.stride_w - 1;
      if (want_h < min_h || want_h > max_h || want_w < min_w || want_w > max_w) {
        const std::string range = "[" + std::to_string(min_h) + ", " + std::to_string(min_w) +
                                  "] to [" + std::to_string(max_h) + ", " + std::to_string(max_w) +
                                  "]";
        if (from_grad)
          fail(op, "grad_output of spatial size [" + std::to_string(want_h) + ", " +
                       std::to_string(want_w) + "] does not fit input " + shape_to_string(x) +
                       ": expected [" + std::to_string(min_h + out_pad_opt[0]) + ", " +
                       std::to_string(min_w + out_pad_opt[1]) +
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
  g.out_h = min_h + out_pad[0];
  g.out_w = min_w + out_pad[1];
  if (g.out_h < 1 || g.out_w < 1)
    fail(op, "Given input size per channel: (" + hw_str(g.in_h, g.in_w) +
                 "). Calculated output size per channel: (" + hw_str(g.out_h, g.out_w) +
                 "). Output size is too small");
  return g;
}

}  // namespace

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

// ======================================================================================
// Kernels
// ======================================================================================

namespace {

constexpr std::int64_t kParallelThreshold = std::int64_t(1) << 15;

// Scratch memory per thread and element type. Training calls the same shapes every
// step, so after the first step no kernel allocates scratch memory again.
template <class T>
class Buffer {
 public:
  // Uninitialised storage for n elements (previous contents are not kept).
  T* get(std::int64_t n) {
    const auto need = static_cast<std::size_t>(std::max<std::int64_t>(n, 1));
    if (need > capacity_) {
      data_.reset();  // free first: peak memory stays at one buffer
      data_.reset(new T[need]);
      capacity_ = need;
    }
    return data_.get();
  }
  void release() {
    data_.reset();
    capacity_ = 0;
  }

 private:
  std::unique_ptr<T[]> data_;
  std::size_t capacity_ = 0;
};

template <class T>
struct Workspace {
  Buffer<T> cols;    // im2col columns / column gradients  [C_x·kH·kW, nb·L]
  Buffer<T> mat;     // GEMM output or gathered dY         [C_y, nb·L]
  Buffer<T> padded;  // explicitly padded input or its gradient
  Buffer<T> partial; // per-lane partial weight gradients [lanes, C_y, K]
};

template <class T>
Workspace<T>& workspace() {
  thread_local Workspace<T> ws;
  return ws;
}

// Budget (in elements) for the columns and the gathered output of one batch chunk:
// 128 KiB of floats, well inside a core's L2 cache, so the GEMM reads back columns
// that im2col has just written while they are still cached (on the autoencoder's
// 16->32 layer at 2 threads: 0.70 ms fwd+bwd with 2^15, 0.73-0.84 ms with 2^16-2^18). The batch is cut into chunks
// of whole samples within the budget; a sample larger than the budget is a chunk of
// its own.
constexpr std::int64_t kChunkElements = std::int64_t(1) << 15;

// A zero-padded convolution "x -> y" over a batch, the one computation everything
// here reduces to: x [N, C_x, H, W], weight [C_y, C_x/g, kH, kW], y [N, C_y, H_out,
// W_out], with top/left padding in `plane` (bottom/right padding only shows in
// H_out/W_out). conv2d is this with x its input; conv_transpose2d is its adjoint,
// with x the transposed conv's output and y its input.
struct ConvProblem {
  std::int64_t batch = 0, groups = 1, y_channels = 0;
  detail::PlaneGeometry plane;  // plane.channels = C_x

  std::int64_t spatial_out() const { return plane.out_h * plane.out_w; }  // L
  std::int64_t x_sample() const { return plane.channels * plane.height * plane.width; }
  std::int64_t y_sample() const { return y_channels * spatial_out(); }
  // Rows of one group's columns: K = C_x/g · kH · kW.
  std::int64_t k() const { return plane.channels / groups * plane.kernel_h * plane.kernel_w; }
};

// The batch cut into `count` chunks of consecutive samples, sizes differing by at most
// one: chunk c is [begin(c), begin(c + 1)).
struct Chunks {
  std::int64_t batch = 0, count = 1;
  std::int64_t begin(std::int64_t c) const { return c * batch / count; }
};

// Chunks within kChunkElements, in a multiple of kChunkMultiple (when the batch
// allows) so that 1, 2, 4 or 8 threads get equal shares. The chunking does not depend
// on the thread count, and neither does any sum (see conv_weight_grad): results are
// the same, bit for bit, on any number of threads.
constexpr std::int64_t kChunkMultiple = 8;

Chunks make_chunks(const ConvProblem& p) {
  const std::int64_t per_sample = (p.k() * p.groups + p.y_channels) * p.spatial_out();
  const std::int64_t cap = std::max<std::int64_t>(1, kChunkElements / std::max<std::int64_t>(per_sample, 1));
  std::int64_t count = (p.batch + cap - 1) / cap;
  count = (count + kChunkMultiple - 1) / kChunkMultiple * kChunkMultiple;
  return {p.batch, std::clamp<std::int64_t>(count, 1, std::max<std::int64_t>(p.batch, 1))};
}

// Each group sees one input channel (depthwise): the direct kernels of depthwise.hpp
// beat an im2col GEMM with only kH·kW rows. Not for groups = 1 (one-channel images):
// there the batch-level GEMM with its 9-row columns still wins (the autoencoder's first
// layer: 0.16 ms fwd+bwd against 1.2 ms).
bool use_depthwise(const ConvProblem& p) {
  return p.groups > 1 && p.groups == p.plane.channels && !p.plane.is_dense();
}

// OpenMP threads available to a kernel called here (1 inside someone's parallel region).
int team_size() { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

// mat [C, ld] (columns n·L + l of sample n) <- src [nb, C, L].
template <class T>
void gather_planes(const T* src, std::int64_t nb, std::int64_t channels, std::int64_t L, T* mat,
                   std::int64_t ld) {
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t n = 0; n < nb; ++n)
      std::memcpy(mat + c * ld + n * L, src + (n * channels + c) * L,
                  static_cast<std::size_t>(L) * sizeof(T));
}

// dst [nb, C, L] <- mat [C, ld] + bias[c] (bias may be null).
template <class T>
void scatter_planes(const T* mat, std::int64_t ld, std::int64_t nb, std::int64_t channels,
                    std::int64_t L, const T* bias, T* dst) {
  for (std::int64_t n = 0; n < nb; ++n)
    for (std::int64_t c = 0; c < channels; ++c) {
      const T* s = mat + c * ld + n * L;
      T* d = dst + (n * channels + c) * L;
      const T b = bias ? bias[c] : T(0);
      for (std::int64_t l = 0; l < L; ++l) d[l] = s[l] + b;
    }
}

// y [nb, C, L] += bias[c] on every plane.
template <class T>
void add_bias_planes(T* y, std::int64_t nb, std::int64_t channels, std::int64_t L, const T* bias) {
  for (std::int64_t n = 0; n < nb; ++n)
    for (std::int64_t c = 0; c < channels; ++c) {
      T* d = y + (n * channels + c) * L;
      const T b = bias[c];
      for (std::int64_t l = 0; l < L; ++l) d[l] += b;
    }
}

// Column matrix [G·K, nb·L] of the nb samples starting at xs, in the workspace. A single
// pointwise sample is its own column matrix [C_x, L], so im2col is skipped for it.
template <class T>
const T* chunk_columns(const ConvProblem& p, Workspace<T>& ws, const T* xs, std::int64_t nb) {
  if (p.plane.is_pointwise() && nb == 1) return xs;
  const std::int64_t ld = nb * p.spatial_out();
  T* c = ws.cols.get(p.groups * p.k() * ld);
  detail::im2col_batch(xs, nb, p.x_sample(), p.plane, c, ld);
  return c;
}

// A sample whose column matrix is larger than kBandElements is processed in bands of
// output rows, so its columns stay in L2 between im2col and the GEMM (3×3 conv 64->64
// on 56×56: the 7.2 MB matrix of a sample becomes bands of 8 rows, 1 MB). Windows of
// neighbouring bands overlap in the input rows, so the bands of one sample always run
// on one thread, in order.
constexpr std::int64_t kBandElements = std::int64_t(1) << 18;

struct Bands {
  std::int64_t rows = 0, count = 1;  // output rows per band (the last may have fewer)
};

Bands make_bands(const ConvProblem& p) {
  const std::int64_t per_row = p.groups * p.k() * p.plane.out_w;
  if (p.plane.is_pointwise() || per_row * p.plane.out_h <= kBandElements)
    return {p.plane.out_h, 1};
  const std::int64_t rows = std::max<std::int64_t>(1, kBandElements / std::max<std::int64_t>(per_row, 1));
  return {rows, (p.plane.out_h + rows - 1) / rows};
}

// The geometry of output rows [i0, i0 + rows) of a plane: fewer output rows, and the
// top padding moved down by i0 strides (negative once the band starts inside the
// input), with x itself unchanged.
detail::PlaneGeometry band_geometry(const detail::PlaneGeometry& g, std::int64_t i0,
                                    std::int64_t rows) {
  detail::PlaneGeometry b = g;
  b.out_h = std::min(rows, g.out_h - i0);
  b.pad_top = g.pad_top - i0 * g.stride_h;
  return b;
}

// Band b of a sample: its geometry, its column count and its first column in the
// sample's [C, L] output.
struct Band {
  detail::PlaneGeometry geometry;
  std::int64_t len = 0, col0 = 0;
};

Band band(const ConvProblem& p, const Bands& bands, std::int64_t b) {
  const std::int64_t i0 = b * bands.rows;
  const detail::PlaneGeometry g = band_geometry(p.plane, i0, bands.rows);
  return {g, g.out_h * g.out_w, i0 * g.out_w};
}

// Column matrix [G·K, len] of band `bd` of the sample at xs, in the workspace.
template <class T>
const T* band_columns(const ConvProblem& p, Workspace<T>& ws, const T* xs, const Band& bd) {
  T* cols = ws.cols.get(p.groups * p.k() * bd.len);
  detail::im2col_batch(xs, 1, p.x_sample(), bd.geometry, cols, bd.len);
  return cols;
}

// Runs body(c) for every chunk c. With more than one chunk and thread, the chunks are
// shared out statically over one parallel region and every GEMM inside runs
// single-threaded on its thread (the kernels' inner loops see the region and stay
// serial); otherwise the chunks run in turn and each GEMM and im2col parallelises
// itself. Either way OpenBLAS's own threads stay idle (blas::SerialScope).
template <class Body>
void for_each_chunk(const Chunks& chunks, int threads, Body&& body) {
  blas::SerialScope serial;
  if (threads > 1 && chunks.count > 1) {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (std::int64_t c = 0; c < chunks.count; ++c) body(c);
  } else {
    for (std::int64_t c = 0; c < chunks.count; ++c) body(c);
  }
}

// y = conv(x) + bias (bias may be null). Per chunk of nb samples and per group g:
//   cols  [C_x·kH·kW, nb·L] = im2col(x_chunk)
//   y_g   [C_y/g, nb·L]     = W_g [C_y/g, K] · cols_g [K, nb·L]
// then the [C_y, nb·L] result is scattered to [nb, C_y, L] with the bias added.
template <class T>
void apply_conv(const ConvProblem& p, const T* x, const T* w, const T* bias, T* y) {
  const std::int64_t L = p.spatial_out(), K = p.k(), G = p.groups;
  const std::int64_t cy_g = p.y_channels / G;
  if (p.plane.is_dense()) {
    // x is [N, C_x·H·W] = colsᵀ and y is [N, C_y]: no im2col, no scatter.
    for (std::int64_t g = 0; g < G; ++g)
      // y_g [N, C_y/g] = x_g [N, K] · W_gᵀ [K, C_y/g]
      blas::gemm<T>(false, true, p.batch, cy_g, K, T(1), x + g * K, p.x_sample(), w + g * cy_g * K,
                    K, T(0), y + g * cy_g, p.y_channels);
    if (bias) add_bias_planes(y, p.batch, p.y_channels, 1, bias);
    return;
  }
  if (use_depthwise(p)) {
    detail::depthwise_forward(x, p.batch, p.x_sample(), p.plane, p.y_channels, w, bias, y);
    return;
  }
  const int threads = team_size();
  const Chunks chunks = make_chunks(p);
  const Bands bands = make_bands(p);
  for_each_chunk(chunks, threads, [&](std::int64_t c) {
    Workspace<T>& ws = workspace<T>();
    const std::int64_t n0 = chunks.begin(c), nb = chunks.begin(c + 1) - n0;
    const std::int64_t ld = nb * L;
    if (nb == 1 && bands.count > 1) {
      // y_g[:, band] [C_y/g, B] = W_g · cols_g(band) [K, B], written in place (ldc = L).
      T* yn = y + n0 * p.y_sample();
      for (std::int64_t b = 0; b < bands.count; ++b) {
        const Band bd = band(p, bands, b);
        const T* cols = band_columns(p, ws, x + n0 * p.x_sample(), bd);
        for (std::int64_t g = 0; g < G; ++g)
          blas::gemm<T>(false, false, cy_g, bd.len, K, T(1), w + g * cy_g * K, K,
                        cols + g * K * bd.len, bd.len, T(0), yn + g * cy_g * L + bd.col0, L);
        if (bias)
          for (std::int64_t o = 0; o < p.y_channels; ++o) {
            T* d = yn + o * L + bd.col0;
            for (std::int64_t l = 0; l < bd.len; ++l) d[l] += bias[o];
          }
      }
      return;
    }
    const T* cols = chunk_columns(p, ws, x + n0 * p.x_sample(), nb);
    // A single sample's output block [C_y, L] is already the GEMM's layout.
    T* out = nb == 1 ? y + n0 * p.y_sample() : ws.mat.get(p.y_channels * ld);
    for (std::int64_t g = 0; g < G; ++g)
      // y_g [C_y/g, nb·L] = W_g [C_y/g, K] · cols_g [K, nb·L]
      blas::gemm<T>(false, false, cy_g, ld, K, T(1), w + g * cy_g * K, K, cols + g * K * ld, ld,
                    T(0), out + g * cy_g * ld, ld);
    if (nb > 1)
      scatter_planes(out, ld, nb, p.y_channels, L, bias, y + n0 * p.y_sample());
    else if (bias)
      add_bias_planes(out, 1, p.y_channels, L, bias);
  });
}

// x = x0 + convᵀ(y), the adjoint of apply_conv in x. x0 is x's current content, or,
// with `init`, bias[c] on every plane of channel c (zero when bias is null): each chunk
// then initialises its own samples, while they are in its thread's cache. Per chunk and
// group:
//   dcols_g [K, nb·L] = W_gᵀ [K, C_y/g] · y_g [C_y/g, nb·L]
//   x_chunk += col2im(dcols)
// Chunks hold whole samples, so no two threads add to the same part of x.
template <class T>
void apply_conv_adjoint(const ConvProblem& p, const T* y, const T* w, T* x, bool init,
                        const T* bias = nullptr) {
  const std::int64_t L = p.spatial_out(), K = p.k(), G = p.groups;
  const std::int64_t cy_g = p.y_channels / G;
  const std::int64_t x_plane = p.plane.height * p.plane.width;
  auto initialise = [&](T* xs, std::int64_t nb) {
    if (!init) return;
    for (std::int64_t n = 0; n < nb; ++n)
      for (std::int64_t c = 0; c < p.plane.channels; ++c) {
        T* d = xs + n * p.x_sample() + c * x_plane;
        std::fill(d, d + x_plane, bias ? bias[c] : T(0));
      }
  };
  if (p.plane.is_dense()) {
    initialise(x, p.batch);
    for (std::int64_t g = 0; g < G; ++g)
      // x_g [N, K] += y_g [N, C_y/g] · W_g [C_y/g, K]
      blas::gemm<T>(false, false, p.batch, K, cy_g, T(1), y + g * cy_g, p.y_channels,
                    w + g * cy_g * K, K, T(1), x + g * K, p.x_sample());
    return;
  }
  if (use_depthwise(p)) {
    detail::depthwise_adjoint(y, p.batch, p.x_sample(), p.plane, p.y_channels, w, x, init, bias);
    return;
  }
  const bool pointwise = p.plane.is_pointwise();
  const int threads = team_size();
  const Chunks chunks = make_chunks(p);
  const Bands bands = make_bands(p);
  for_each_chunk(chunks, threads, [&](std::int64_t c) {
    Workspace<T>& ws = workspace<T>();
    const std::int64_t n0 = chunks.begin(c), nb = chunks.begin(c + 1) - n0;
    const std::int64_t ld = nb * L;
    // y_chunk as [C_y, nb·L]: a single sample already is.
    const T* ymat = y + n0 * p.y_sample();
    if (nb > 1) {
      T* m = ws.mat.get(p.y_channels * ld);
      gather_planes(ymat, nb, p.y_channels, L, m, ld);
      ymat = m;
    }
    T* xs = x + n0 * p.x_sample();
    initialise(xs, nb);
    if (nb == 1 && bands.count > 1) {
      // dcols(band) [K, B] = W_gᵀ · y_g[:, band], then col2im of the band onto x.
      for (std::int64_t b = 0; b < bands.count; ++b) {
        const Band bd = band(p, bands, b);
        T* dcols = ws.cols.get(G * K * bd.len);
        for (std::int64_t g = 0; g < G; ++g)
          blas::gemm<T>(true, false, K, bd.len, cy_g, T(1), w + g * cy_g * K, K,
                        ymat + g * cy_g * L + bd.col0, L, T(0), dcols + g * K * bd.len, bd.len);
        detail::col2im_batch(dcols, bd.len, 1, p.x_sample(), bd.geometry, xs);
      }
      return;
    }
    if (pointwise && nb == 1) {
      // col2im of a pointwise sample is the identity: accumulate straight into x.
      for (std::int64_t g = 0; g < G; ++g)
        // x_g [K, L] += W_gᵀ [K, C_y/g] · y_g [C_y/g, L]
        blas::gemm<T>(true, false, K, ld, cy_g, T(1), w + g * cy_g * K, K, ymat + g * cy_g * ld, ld,
                      T(1), xs + g * K * ld, ld);
      return;
    }
    T* dcols = ws.cols.get(G * K * ld);
    for (std::int64_t g = 0; g < G; ++g)
      // dcols_g [K, nb·L] = W_gᵀ [K, C_y/g] · y_g [C_y/g, nb·L]
      blas::gemm<T>(true, false, K, ld, cy_g, T(1), w + g * cy_g * K, K, ymat + g * cy_g * ld, ld,
                    T(0), dcols + g * K * ld, ld);
    detail::col2im_batch(dcols, ld, nb, p.x_sample(), p.plane, xs);
  });
}

// dw = Σ_n y_n ⊗ im2col(x_n): the gradient of Σ⟨dY, conv(x)⟩ in the weight. Per chunk
// and group:
//   dW_g(chunk) [C_y/g, K] = y_g [C_y/g, nb·L] · cols_gᵀ [nb·L, K]
// The chunks are split into up to kChunkMultiple consecutive runs ("lanes"); a lane
// sums its chunks in order into its own partial dW, and the partials are added in lane
// order. Lanes do not depend on the thread count (threads take whole lanes), so
// neither does the sum.
template <class T>
void conv_weight_grad(const ConvProblem& p, const T* y, const T* x, T* dw) {
  const std::int64_t L = p.spatial_out(), K = p.k(), G = p.groups;
  const std::int64_t cy_g = p.y_channels / G;
  const std::int64_t dw_size = p.y_channels * K;
  if (p.batch == 0) {
    std::fill(dw, dw + dw_size, T(0));
    return;
  }
  if (p.plane.is_dense()) {
    for (std::int64_t g = 0; g < G; ++g)
      // dW_g [C_y/g, K] = y_gᵀ [C_y/g, N] · x_g [N, K]
      blas::gemm<T>(true, false, cy_g, K, p.batch, T(1), y + g * cy_g, p.y_channels, x + g * K,
                    p.x_sample(), T(0), dw + g * cy_g * K, K);
    return;
  }
  if (use_depthwise(p)) {
    detail::depthwise_weight_grad(y, x, p.batch, p.x_sample(), p.plane, p.y_channels, dw);
    return;
  }
  const int threads = team_size();
  const Chunks chunks = make_chunks(p);
  const Bands bands = make_bands(p);
  const std::int64_t lanes = std::min(kChunkMultiple, chunks.count);
  auto lane_begin = [&](std::int64_t j) { return j * chunks.count / lanes; };
  // Lane j's partial lives at partials + j·dw_size; lane 0's is dw itself.
  T* partials = lanes == 1 ? dw : workspace<T>().partial.get(lanes * dw_size);
  auto chunk = [&](std::int64_t c, T* out, T beta) {
    Workspace<T>& ws = workspace<T>();
    const std::int64_t n0 = chunks.begin(c), nb = chunks.begin(c + 1) - n0;
    const std::int64_t ld = nb * L;
    if (nb == 1 && bands.count > 1) {
      // dW_g (+)= y_g[:, band] [C_y/g, B] · cols_g(band)ᵀ [B, K], bands in order
      const T* yn = y + n0 * p.y_sample();
      for (std::int64_t b = 0; b < bands.count; ++b) {
        const Band bd = band(p, bands, b);
        const T* cols = band_columns(p, ws, x + n0 * p.x_sample(), bd);
        for (std::int64_t g = 0; g < G; ++g)
          blas::gemm<T>(false, true, cy_g, K, bd.len, T(1), yn + g * cy_g * L + bd.col0, L,
                        cols + g * K * bd.len, bd.len, b == 0 ? beta : T(1), out + g * cy_g * K, K);
      }
      return;
    }
    const T* cols = chunk_columns(p, ws, x + n0 * p.x_sample(), nb);
    const T* ymat = y + n0 * p.y_sample();
    if (nb > 1) {
      T* m = ws.mat.get(p.y_channels * ld);
      gather_planes(ymat, nb, p.y_channels, L, m, ld);
      ymat = m;
    }
    for (std::int64_t g = 0; g < G; ++g)
      blas::gemm<T>(false, true, cy_g, K, ld, T(1), ymat + g * cy_g * ld, ld, cols + g * K * ld,
                    ld, beta, out + g * cy_g * K, K);
  };
  auto lane = [&](std::int64_t j) {
    T* out = j == 0 ? dw : partials + j * dw_size;
    for (std::int64_t c = lane_begin(j); c < lane_begin(j + 1); ++c)
      chunk(c, out, c == lane_begin(j) ? T(0) : T(1));
  };
  blas::SerialScope serial;
  if (threads > 1 && lanes > 1) {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (std::int64_t j = 0; j < lanes; ++j) lane(j);
  } else {
    for (std::int64_t j = 0; j < lanes; ++j) lane(j);
  }
  if (lanes == 1) return;
  // dw = ((dw_0 + p_1) + p_2) + ...: blocks of elements over the threads, the partials
  // in lane order along contiguous (vectorised) rows.
  constexpr std::int64_t kBlock = 1024;
  const std::int64_t blocks = (dw_size + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && dw_size * lanes >= kParallelThreshold)
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    const std::int64_t i0 = blk * kBlock, i1 = std::min(dw_size, i0 + kBlock);
    for (std::int64_t j = 1; j < lanes; ++j) {
      const T* part = partials + j * dw_size;
      for (std::int64_t i = i0; i < i1; ++i) dw[i] += part[i];
    }
  }
}

// ---- explicit padding (reflect / replicate / circular) ----

// For each position of a padded axis (`before` + size + `after` long), the input index
// it copies, following PyTorch's reflection_pad2d, replication_pad2d and circular pad.
std::vector<std::int64_t> pad_source_index(std::int64_t size, std::int64_t before,
                                           std::int64_t after, PaddingMode mode) {
  std::vector<std::int64_t> src(static_cast<std::size_t>(before + size + after));
  for (std::int64_t i = 0; i < before + size + after; ++i) {
    std::int64_t j = i - before;
    switch (mode) {
      case PaddingMode::Reflect:  // mirror about the edge element (not repeated)
        if (j < 0) j = -j;
        if (j >= size) j = 2 * (size - 1) - j;
        break;
      case PaddingMode::Replicate:  // repeat the edge element
        j = std::clamp<std::int64_t>(j, 0, size - 1);
        break;
      case PaddingMode::Circular:  // wrap around (at most once, checked)
        j = ((j % size) + size) % size;
        break;
      case PaddingMode::Zeros:
        break;
    }
    src[static_cast<std::size_t>(i)] = j;
  }
  return src;
}

struct PadMaps {
  std::vector<std::int64_t> rows, cols;
  std::int64_t padded_h() const { return static_cast<std::int64_t>(rows.size()); }
  std::int64_t padded_w() const { return static_cast<std::int64_t>(cols.size()); }
};

PadMaps pad_maps(const Conv2dGeometry& g) {
  return {pad_source_index(g.in_h, g.pad_top, g.pad_bottom, g.padding_mode),
          pad_source_index(g.in_w, g.pad_left, g.pad_right, g.padding_mode)};
}

// xp [planes, Hp, Wp] <- x [planes, H, W] through the index maps.
template <class T>
void pad_planes(const T* x, std::int64_t planes, std::int64_t h, std::int64_t w, const PadMaps& m,
                T* xp) {
  const std::int64_t hp = m.padded_h(), wp = m.padded_w();
#pragma omp parallel for schedule(static) if (planes * hp * wp >= kParallelThreshold)
  for (std::int64_t p = 0; p < planes; ++p) {
    const T* src = x + p * h * w;
    T* dst = xp + p * hp * wp;
    for (std::int64_t i = 0; i < hp; ++i) {
      const T* srow = src + m.rows[std::size_t(i)] * w;
      T* drow = dst + i * wp;
      for (std::int64_t j = 0; j < wp; ++j) drow[j] = srow[m.cols[std::size_t(j)]];
    }
  }
}

// The adjoint of pad_planes: dx [planes, H, W] = Σ of dxp over the padded positions
// that copy each input element (dx is overwritten).
template <class T>
void fold_planes(const T* dxp, std::int64_t planes, std::int64_t h, std::int64_t w,
                 const PadMaps& m, T* dx) {
  const std::int64_t hp = m.padded_h(), wp = m.padded_w();
#pragma omp parallel for schedule(static) if (planes * hp * wp >= kParallelThreshold)
  for (std::int64_t p = 0; p < planes; ++p) {
    const T* src = dxp + p * hp * wp;
    T* dst = dx + p * h * w;
    std::fill(dst, dst + h * w, T(0));
    for (std::int64_t i = 0; i < hp; ++i) {
      T* drow = dst + m.rows[std::size_t(i)] * w;
      const T* srow = src + i * wp;
      for (std::int64_t j = 0; j < wp; ++j) drow[m.cols[std::size_t(j)]] += srow[j];
    }
  }
}

bool explicit_padding(const Conv2dGeometry& g) {
  return g.padding_mode != PaddingMode::Zeros &&
         (g.pad_top | g.pad_bottom | g.pad_left | g.pad_right) != 0;
}

// The zero-padded convolution conv2d computes. With a non-zeros padding mode the input
// is padded explicitly first, so the problem sees the padded size and no padding.
ConvProblem conv2d_problem(const Conv2dGeometry& g) {
  const bool padded = explicit_padding(g);
  ConvProblem p;
  p.batch = g.batch;
  p.groups = g.groups;
  p.y_channels = g.out_channels;
  detail::PlaneGeometry& q = p.plane;
  q.channels = g.in_channels;
  q.height = padded ? g.in_h + g.pad_top + g.pad_bottom : g.in_h;
  q.width = padded ? g.in_w + g.pad_left + g.pad_right : g.in_w;
  q.out_h = g.out_h;
  q.out_w = g.out_w;
  q.kernel_h = g.kernel_h;
  q.kernel_w = g.kernel_w;
  q.stride_h = g.stride_h;
  q.stride_w = g.stride_w;
  q.pad_top = padded ? 0 : g.pad_top;
  q.pad_left = padded ? 0 : g.pad_left;
  q.dilation_h = g.dilation_h;
  q.dilation_w = g.dilation_w;
  return p;
}

// The convolution whose adjoint conv_transpose2d is: it maps the transposed conv's
// output [N, C_out, H_out, W_out] to its input [N, C_in, H, W] with the same weight
// ([C_in, C_out/g, kH, kW] is exactly a conv weight [C_y, C_x/g, kH, kW]), stride,
// padding, dilation and groups. Its output size is the transposed conv's input size,
// which can be one less than the conv formula gives when output_padding >= stride.
ConvProblem transpose_problem(const Conv2dGeometry& g) {
  ConvProblem p;
  p.batch = g.batch;
  p.groups = g.groups;
  p.y_channels = g.in_channels;
  detail::PlaneGeometry& q = p.plane;
  q.channels = g.out_channels;
  q.height = g.out_h;
  q.width = g.out_w;
  q.out_h = g.in_h;
  q.out_w = g.in_w;
  q.kernel_h = g.kernel_h;
  q.kernel_w = g.kernel_w;
  q.stride_h = g.stride_h;
  q.stride_w = g.stride_w;
  q.pad_top = g.pad_top;
  q.pad_left = g.pad_left;
  q.dilation_h = g.dilation_h;
  q.dilation_w = g.dilation_w;
  return p;
}

template <class T>
Shape shape_of(const xt::xarray<T>& a) {
  return Shape(a.shape().begin(), a.shape().end());
}

template <class T>
std::optional<Shape> optional_shape(const xt::xarray<T>* a) {
  if (!a) return std::nullopt;
  return shape_of(*a);
}

template <class T>
void check_grad_output(std::string_view op, const xt::xarray<T>& grad_output,
                       const Shape& expected) {
  const Shape got = shape_of(grad_output);
  if (got != expected)
    fail(op, "expected grad_output of size " + shape_to_string(expected) +
                 ", but got grad_output of size " + shape_to_string(got));
}

// The input of the zero-padded problem: x itself, or x padded explicitly into the
// thread's workspace.
template <class T>
const T* conv_source(const Conv2dGeometry& g, const T* x) {
  if (!explicit_padding(g)) return x;
  const PadMaps m = pad_maps(g);
  T* xp = workspace<T>().padded.get(g.batch * g.in_channels * m.padded_h() * m.padded_w());
  pad_planes(x, g.batch * g.in_channels, g.in_h, g.in_w, m, xp);
  return xp;
}

template <class T>
xt::xarray<T> bias_grad(std::string_view op, const xt::xarray<T>& dy) {
  const Shape s = shape_of(dy);
  if (s.size() != 3 && s.size() != 4)
    fail(op, "Expected 3D (unbatched) or 4D (batched) grad_output, but got grad_output of size: " +
                 shape_to_string(s));
  const std::size_t off = s.size() - 3;
  const std::int64_t n = s.size() == 4 ? i64(s[0]) : 1;
  const std::int64_t channels = i64(s[off]);
  const std::int64_t L = i64(s[off + 1] * s[off + 2]);
  xt::xarray<T> db = xt::xarray<T>::from_shape({s[off]});
  const T* d = dy.data();
  T* out = db.data();
  // Summed in double: the sum runs over N·H·W terms, the longest reduction here. A
  // single running sum would wait on the add latency for every term (0.67 ms for
  // 8×64×56×56); kLanes independent partial sums let the compiler keep whole vector
  // registers of them busy.
  constexpr std::int64_t kLanes = 32;
#pragma omp parallel for schedule(static) if (n * channels * L >= kParallelThreshold)
  for (std::int64_t c = 0; c < channels; ++c) {
    double lanes[kLanes] = {};
    double tail = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
      const T* plane = d + (i * channels + c) * L;
      std::int64_t l = 0;
      for (; l + kLanes <= L; l += kLanes)
        for (std::int64_t j = 0; j < kLanes; ++j) lanes[j] += static_cast<double>(plane[l + j]);
      for (; l < L; ++l) tail += static_cast<double>(plane[l]);
    }
    double acc = tail;
    for (std::int64_t j = 0; j < kLanes; ++j) acc += lanes[j];
    out[c] = static_cast<T>(acc);
  }
  return db;
}

// Spatial size of a transposed conv's grad_output, passed to the check as output_size.
template <class T>
std::vector<std::int64_t> grad_output_size(std::string_view op, const xt::xarray<T>& dy,
                                           const Shape& input_shape) {
  const Shape s = shape_of(dy);
  if (s.size() != input_shape.size() || (s.size() != 3 && s.size() != 4))
    fail(op, "expected grad_output with the rank of the input " + shape_to_string(input_shape) +
                 ", but got grad_output of size " + shape_to_string(s));
  return {i64(s[s.size() - 2]), i64(s[s.size() - 1])};
}

}  // namespace

// ---- conv2d ----

template <class T>
xt::xarray<T> conv2d_forward(const xt::xarray<T>& input, const xt::xarray<T>& weight,
                             const std::type_identity_t<xt::xarray<T>>* bias,
                             const Conv2dOptions& opts) {
  const Conv2dGeometry g =
      check_conv2d(shape_of(input), shape_of(weight), optional_shape(bias), opts, "conv2d");
  xt::xarray<T> out = xt::xarray<T>::from_shape(g.output_shape());
  if (out.size() == 0) return out;
  const T* src = conv_source(g, input.data());
  apply_conv(conv2d_problem(g), src, weight.data(), bias ? bias->data() : nullptr, out.data());
  return out;
}

template <class T>
xt::xarray<T> conv2d_backward_input(const xt::xarray<T>& grad_output, const xt::xarray<T>& weight,
                                    const Shape& input_shape, const Conv2dOptions& opts) {
  constexpr std::string_view op = "conv2d_backward_input";
  const Conv2dGeometry g = check_conv2d(input_shape, shape_of(weight), std::nullopt, opts, op);
  check_grad_output(op, grad_output, g.output_shape());
  if (g.batch == 0) return xt::zeros<T>(input_shape);
  xt::xarray<T> dx = xt::xarray<T>::from_shape(input_shape);
  const ConvProblem p = conv2d_problem(g);
  if (!explicit_padding(g)) {
    apply_conv_adjoint(p, grad_output.data(), weight.data(), dx.data(), true);
    return dx;
  }
  // dL/dx_padded, then fold each padded position's gradient onto the input element
  // it was copied from.
  const PadMaps m = pad_maps(g);
  const std::int64_t padded_size = g.batch * g.in_channels * m.padded_h() * m.padded_w();
  T* dxp = workspace<T>().padded.get(padded_size);
  apply_conv_adjoint(p, grad_output.data(), weight.data(), dxp, true);
  fold_planes(dxp, g.batch * g.in_channels, g.in_h, g.in_w, m, dx.data());
  return dx;
}

template <class T>
xt::xarray<T> conv2d_backward_weight(const xt::xarray<T>& grad_output, const xt::xarray<T>& input,
                                     const Shape& weight_shape, const Conv2dOptions& opts) {
  constexpr std::string_view op = "conv2d_backward_weight";
  const Conv2dGeometry g = check_conv2d(shape_of(input), weight_shape, std::nullopt, opts, op);
  check_grad_output(op, grad_output, g.output_shape());
  xt::xarray<T> dw = xt::xarray<T>::from_shape(weight_shape);
  const T* src = g.batch > 0 ? conv_source(g, input.data()) : input.data();
  conv_weight_grad(conv2d_problem(g), grad_output.data(), src, dw.data());
  return dw;
}

template <class T>
xt::xarray<T> conv2d_backward_bias(const xt::xarray<T>& grad_output) {
  return bias_grad("conv2d_backward_bias", grad_output);
}

// ---- conv_transpose2d ----

template <class T>
xt::xarray<T> conv_transpose2d_forward(
    const xt::xarray<T>& input, const xt::xarray<T>& weight,
    const std::type_identity_t<xt::xarray<T>>* bias, const ConvTranspose2dOptions& opts,
    const std::optional<std::vector<std::int64_t>>& output_size) {
  const Conv2dGeometry g = check_conv_transpose2d(shape_of(input), shape_of(weight),
                                                  optional_shape(bias), opts, output_size);
  xt::xarray<T> out = xt::xarray<T>::from_shape(g.output_shape());
  if (out.size() == 0) return out;
  // y = b + col2im(W_gᵀ · x_g): the adjoint of the conv y -> x.
  apply_conv_adjoint(transpose_problem(g), input.data(), weight.data(), out.data(), true,
                     bias ? bias->data() : nullptr);
  return out;
}

template <class T>
xt::xarray<T> conv_transpose2d_backward_input(const xt::xarray<T>& grad_output,
                                              const xt::xarray<T>& weight, const Shape& input_shape,
                                              const ConvTranspose2dOptions& opts) {
  constexpr std::string_view op = "conv_transpose2d_backward_input";
  const Conv2dGeometry g =
      check_transpose_impl(input_shape, shape_of(weight), std::nullopt, opts,
                           grad_output_size(op, grad_output, input_shape), op, true);
  check_grad_output(op, grad_output, g.output_shape());
  xt::xarray<T> dx = xt::xarray<T>::from_shape(input_shape);
  if (dx.size() == 0) return dx;
  // dx = conv2d(dY, W): im2col(dY) then W_g · cols_g.
  apply_conv(transpose_problem(g), grad_output.data(), weight.data(),
             static_cast<const T*>(nullptr), dx.data());
  return dx;
}

template <class T>
xt::xarray<T> conv_transpose2d_backward_weight(const xt::xarray<T>& grad_output,
                                               const xt::xarray<T>& input,
                                               const Shape& weight_shape,
                                               const ConvTranspose2dOptions& opts) {
  constexpr std::string_view op = "conv_transpose2d_backward_weight";
  const Shape input_shape = shape_of(input);
  const Conv2dGeometry g =
      check_transpose_impl(input_shape, weight_shape, std::nullopt, opts,
                           grad_output_size(op, grad_output, input_shape), op, true);
  check_grad_output(op, grad_output, g.output_shape());
  xt::xarray<T> dw = xt::xarray<T>::from_shape(weight_shape);
  // dW_g [C_in/g, C_out/g·kH·kW] = x_g · im2col(dY)_gᵀ: the conv weight gradient with
  // the roles of input and output swapped.
  conv_weight_grad(transpose_problem(g), input.data(), grad_output.data(), dw.data());
  return dw;
}

template <class T>
xt::xarray<T> conv_transpose2d_backward_bias(const xt::xarray<T>& grad_output) {
  return bias_grad("conv_transpose2d_backward_bias", grad_output);
}

void release_conv_workspace() {
  for (auto* b : {&workspace<float>().cols, &workspace<float>().mat, &workspace<float>().padded})
    b->release();
  for (auto* b : {&workspace<double>().cols, &workspace<double>().mat, &workspace<double>().padded})
    b->release();
}

// ---- explicit instantiations ----

#define TAPEGRAD_CONV_INSTANTIATE(T)                                                            \
  template xt::xarray<T> conv2d_forward<T>(const xt::xarray<T>&, const xt::xarray<T>&,          \
                                           const xt::xarray<T>*, const Conv2dOptions&);         \
  template xt::xarray<T> conv2d_backward_input<T>(const xt::xarray<T>&, const xt::xarray<T>&,   \
                                                  const Shape&, const Conv2dOptions&);          \
  template xt::xarray<T> conv2d_backward_weight<T>(const xt::xarray<T>&, const xt::xarray<T>&,  \
                                                   const Shape&, const Conv2dOptions&);         \
  template xt::xarray<T> conv2d_backward_bias<T>(const xt::xarray<T>&);                         \
  template xt::xarray<T> conv_transpose2d_forward<T>(                                           \
      const xt::xarray<T>&, const xt::xarray<T>&, const xt::xarray<T>*,                         \
      const ConvTranspose2dOptions&, const std::optional<std::vector<std::int64_t>>&);          \
  template xt::xarray<T> conv_transpose2d_backward_input<T>(                                    \
      const xt::xarray<T>&, const xt::xarray<T>&, const Shape&, const ConvTranspose2dOptions&); \
  template xt::xarray<T> conv_transpose2d_backward_weight<T>(                                   \
      const xt::xarray<T>&, const xt::xarray<T>&, const Shape&, const ConvTranspose2dOptions&); \
  template xt::xarray<T> conv_transpose2d_backward_bias<T>(const xt::xarray<T>&);

TAPEGRAD_CONV_INSTANTIATE(float)
TAPEGRAD_CONV_INSTANTIATE(double)
#undef TAPEGRAD_CONV_INSTANTIATE

}  // namespace tapegrad::kernels
