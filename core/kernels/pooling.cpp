// Pooling geometry, checks and kernels, following PyTorch 1.13's
// aten/src/ATen/native/{Pool.h, DilatedMaxPool2d.cpp, AveragePool2d.cpp,
// AdaptivePooling.h} and cpu/{MaxPoolKernel, AvgPoolKernel, AdaptiveMaxPoolKernel}.cpp.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <tapegrad/core/kernels/pooling.hpp>

namespace tapegrad::kernels {

namespace {

constexpr std::int64_t kParallelThreshold = 1 << 15;

[[noreturn]] void fail(const char* op, const std::string& msg) {
  throw std::invalid_argument(std::string(op) + ": " + msg);
}

std::int64_t div_rtn(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// An int-or-pair option: {v} means (v, v).
std::int64_t first(const std::vector<std::int64_t>& v) { return v[0]; }
std::int64_t second(const std::vector<std::int64_t>& v) { return v.size() == 1 ? v[0] : v[1]; }

// PyTorch's pooling_output_shape (with its checks) for one axis.
std::int64_t checked_output_size(const char* op, std::int64_t in, std::int64_t kernel,
                                 std::int64_t pad, std::int64_t stride, std::int64_t dilation,
                                 bool ceil_mode) {
  if (stride == 0) fail(op, "stride should not be zero");
  if (pad < 0) fail(op, "pad must be non-negative, but got pad: " + std::to_string(pad));
  if (pad > kernel / 2)
    fail(op, "pad should be at most half of kernel size, but got pad=" + std::to_string(pad) +
                 " and kernel_size=" + std::to_string(kernel));
  return pooling_output_size(in, kernel, pad, stride, dilation, ceil_mode);
}

// The parts of pool2d_shape_check that remain after the output sizes are known.
void shape_check(const char* op, const Shape& input, const Pool2dGeometry& g) {
  if (g.kernel_w <= 0 || g.kernel_h <= 0)
    fail(op, "kernel size should be greater than zero, but got kH: " + std::to_string(g.kernel_h) +
                 " kW: " + std::to_string(g.kernel_w));
  if (g.stride_w <= 0 || g.stride_h <= 0)
    fail(op, "stride should be greater than zero, but got dH: " + std::to_string(g.stride_h) +
                 " dW: " + std::to_string(g.stride_w));
  if (g.dilation_h <= 0 || g.dilation_w <= 0)
    fail(op, "dilation should be greater than zero, but got dilationH: " +
                 std::to_string(g.dilation_h) + " dilationW: " + std::to_string(g.dilation_w));
  const std::size_t nd = input.size();
  const bool valid_dims = input[1] != 0 && input[2] != 0;
  if (!((nd == 3 && input[0] != 0 && valid_dims) || (nd == 4 && valid_dims && input[3] != 0)))
    fail(op,
         "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but "
         "got:" +
             shape_str(input));
  if (g.kernel_w / 2 < g.pad_w || g.kernel_h / 2 < g.pad_h)
    fail(op, "pad should be smaller than or equal to half of kernel size, but got padW = " +
                 std::to_string(g.pad_w) + ", padH = " + std::to_string(g.pad_h) +
                 ", kW = " + std::to_string(g.kernel_w) + ", kH = " + std::to_string(g.kernel_h));
  if (g.out_w < 1 || g.out_h < 1)
    fail(op, "Given input size: (" + std::to_string(g.channels) + "x" + std::to_string(g.in_h) +
                 "x" + std::to_string(g.in_w) + "). Calculated output size: (" +
                 std::to_string(g.channels) + "x" + std::to_string(g.out_h) + "x" +
                 std::to_string(g.out_w) + "). Output size is too small");
}

Pool2dGeometry pool_geometry(const char* op, const Shape& input,
                             const std::vector<std::int64_t>& kernel_size,
                             const std::vector<std::int64_t>& stride,
                             const std::vector<std::int64_t>& padding,
                             const std::vector<std::int64_t>& dilation, bool ceil_mode) {
  Pool2dGeometry g;
  g.batched = input.size() == 4;
  g.batch = g.batched ? to_i64(op, input[0]) : 1;
  g.channels = to_i64(op, input[input.size() - 3]);
  g.in_h = to_i64(op, input[input.size() - 2]);
  g.in_w = to_i64(op, input[input.size() - 1]);
  g.kernel_h = first(kernel_size);
  g.kernel_w = second(kernel_size);
  const auto& s = stride.empty() ? kernel_size : stride;
  g.stride_h = first(s);
  g.stride_w = second(s);
  g.pad_h = first(padding);
  g.pad_w = second(padding);
  g.dilation_h = first(dilation);
  g.dilation_w = second(dilation);
  // Sizes the user controls: keep the window arithmetic far from overflow.
  for (std::int64_t v : {g.kernel_h, g.kernel_w, g.stride_h, g.stride_w, g.pad_h, g.pad_w,
                         g.dilation_h, g.dilation_w})
    if (v > kMaxNumel || v < -kMaxNumel)
      fail(op, "option value " + std::to_string(v) + " is out of range");
  g.out_h =
      checked_output_size(op, g.in_h, g.kernel_h, g.pad_h, g.stride_h, g.dilation_h, ceil_mode);
  g.out_w =
      checked_output_size(op, g.in_w, g.kernel_w, g.pad_w, g.stride_w, g.dilation_w, ceil_mode);
  shape_check(op, input, g);
  checked_numel(op, g.out_shape());
  return g;
}

}  // namespace

Shape Pool2dGeometry::out_shape() const {
  if (batched)
    return {std::size_t(batch), std::size_t(channels), std::size_t(out_h), std::size_t(out_w)};
  return {std::size_t(channels), std::size_t(out_h), std::size_t(out_w)};
}

std::int64_t pooling_output_size(std::int64_t in, std::int64_t kernel, std::int64_t pad,
                                 std::int64_t stride, std::int64_t dilation, bool ceil_mode) {
  std::int64_t out =
      div_rtn(in + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0), stride) +
      1;
  // The last window must start inside the input or the left padding.
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

Pool2dGeometry check_max_pool2d(const char* op, const Shape& input,
                                const std::vector<std::int64_t>& kernel_size,
                                const std::vector<std::int64_t>& stride,
                                const std::vector<std::int64_t>& padding,
                                const std::vector<std::int64_t>& dilation, bool ceil_mode) {
  if (kernel_size.size() != 1 && kernel_size.size() != 2)
    fail(op, "kernel_size must either be a single int, or a tuple of two ints");
  if (stride.size() > 2)
    fail(op, "stride must either be omitted, a single int, or a tuple of two ints");
  if (padding.size() != 1 && padding.size() != 2)
    fail(op, "padding must either be a single int, or a tuple of two ints");
  if (dilation.size() != 1 && dilation.size() != 2)
    fail(op, "dilation must be either a single int, or a tuple of two ints");
  if (input.size() != 3 && input.size() != 4)
    fail(op,
         "non-empty 3D or 4D (batch mode) tensor expected for input, but got " + shape_str(input));
  return pool_geometry(op, input, kernel_size, stride, padding, dilation, ceil_mode);
}

Pool2dGeometry check_avg_pool2d(const char* op, const Shape& input,
                                const std::vector<std::int64_t>& kernel_size,
                                const std::vector<std::int64_t>& stride,
                                const std::vector<std::int64_t>& padding, bool ceil_mode,
                                std::optional<std::int64_t> divisor_override) {
  if (kernel_size.size() != 1 && kernel_size.size() != 2)
    fail(op, "kernel_size must either be a single int, or a tuple of two ints");
  if (stride.size() > 2)
    fail(op, "stride must either be omitted, a single int, or a tuple of two ints");
  if (padding.size() != 1 && padding.size() != 2)
    fail(op, "padding must either be a single int, or a tuple of two ints");
  if (divisor_override && *divisor_override == 0) fail(op, "divisor must be not zero");
  if (input.size() != 3 && input.size() != 4)
    fail(op,
         "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but "
         "got:" +
             shape_str(input));
  return pool_geometry(op, input, kernel_size, stride, padding, {1}, ceil_mode);
}

namespace {

// The maximum of rows [ih0, ih1) step dh and columns [iw0, iw1) step dw of one plane
// (row length in_w) and its flat index, as PyTorch's CPU kernels choose it: the first
// maximum in window order, and a NaN replaces any earlier value (so the last NaN wins).
template <class T>
void window_max(const T* xp, std::int64_t in_w, std::int64_t ih0, std::int64_t ih1, std::int64_t dh,
                std::int64_t iw0, std::int64_t iw1, std::int64_t dw, T& max, std::int64_t& index) {
  std::int64_t best = ih0 * in_w + iw0;
  T best_val = -std::numeric_limits<T>::infinity();
  for (std::int64_t ih = ih0; ih < ih1; ih += dh)
    for (std::int64_t iw = iw0; iw < iw1; iw += dw) {
      const std::int64_t i = ih * in_w + iw;
      const T v = xp[i];
      if (v > best_val || std::isnan(v)) {
        best_val = v;
        best = i;
      }
    }
  max = best_val;
  index = best;
}

}  // namespace

template <class T>
void max_pool2d_forward(const Pool2dGeometry& g, const T* x, T* y, std::int64_t* idx) {
  const std::int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
#pragma omp parallel for schedule(static) if (g.planes() * out_plane >= kParallelThreshold)
  for (std::int64_t p = 0; p < g.planes(); ++p) {
    const T* xp = x + p * in_plane;
    for (std::int64_t oh = 0; oh < g.out_h; ++oh)
      for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
        std::int64_t ih0 = oh * g.stride_h - g.pad_h, iw0 = ow * g.stride_w - g.pad_w;
        const std::int64_t ih1 = std::min(ih0 + (g.kernel_h - 1) * g.dilation_h + 1, g.in_h);
        const std::int64_t iw1 = std::min(iw0 + (g.kernel_w - 1) * g.dilation_w + 1, g.in_w);
        while (ih0 < 0) ih0 += g.dilation_h;
        while (iw0 < 0) iw0 += g.dilation_w;
        const std::int64_t o = p * out_plane + oh * g.out_w + ow;
        window_max(xp, g.in_w, ih0, ih1, g.dilation_h, iw0, iw1, g.dilation_w, y[o], idx[o]);
      }
  }
}

PlaneMap avg_pool2d_map(const Pool2dGeometry& g, bool count_include_pad,
                        std::optional<std::int64_t> divisor_override) {
  PlaneMap m;
  m.in_size = g.in_h * g.in_w;
  m.out_size = g.out_h * g.out_w;
  for (std::int64_t oh = 0; oh < g.out_h; ++oh)
    for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
      std::int64_t ih0 = oh * g.stride_h - g.pad_h, iw0 = ow * g.stride_w - g.pad_w;
      std::int64_t ih1 = std::min(ih0 + g.kernel_h, g.in_h + g.pad_h);
      std::int64_t iw1 = std::min(iw0 + g.kernel_w, g.in_w + g.pad_w);
      const std::int64_t padded_count = (ih1 - ih0) * (iw1 - iw0);
      ih0 = std::max<std::int64_t>(ih0, 0);
      iw0 = std::max<std::int64_t>(iw0, 0);
      ih1 = std::min(ih1, g.in_h);
      iw1 = std::min(iw1, g.in_w);
      std::int64_t divisor = 1;
      if (ih0 < ih1 && iw0 < iw1) {
        divisor = divisor_override    ? *divisor_override
                  : count_include_pad ? padded_count
                                      : (ih1 - ih0) * (iw1 - iw0);
        for (std::int64_t ih = ih0; ih < ih1; ++ih)
          for (std::int64_t iw = iw0; iw < iw1; ++iw) m.add(ih * g.in_w + iw, 1.0);
      }
      m.divisor.push_back(double(divisor));
      m.end_output();
    }
  return m;
}

std::int64_t adaptive_start(std::int64_t i, std::int64_t out, std::int64_t in) {
  return (i / out) * in + ((i % out) * in) / out;
}
std::int64_t adaptive_end(std::int64_t i, std::int64_t out, std::int64_t in) {
  return 1 + ((i + 1) * in - 1) / out;
}

Pool2dGeometry check_adaptive_pool2d(const char* op, const Shape& input,
                                     const std::vector<std::optional<std::int64_t>>& output_size) {
  if (output_size.size() != 2)
    fail(op, "output_size must be 2, but got " + std::to_string(output_size.size()) + " values");
  const std::size_t nd = input.size();
  if (nd != 3 && nd != 4) fail(op, "Expected 3D or 4D tensor, but got " + shape_str(input));
  for (std::size_t i = 1; i < nd; ++i)
    if (input[i] == 0)
      fail(op,
           "Expected input to have non-zero size for non-batch dimensions, but input has sizes " +
               shape_str(input) + " with dimension " + std::to_string(i) + " being empty");
  Pool2dGeometry g;
  g.batched = nd == 4;
  g.batch = g.batched ? to_i64(op, input[0]) : 1;
  g.channels = to_i64(op, input[nd - 3]);
  g.in_h = to_i64(op, input[nd - 2]);
  g.in_w = to_i64(op, input[nd - 1]);
  g.out_h = output_size[0].value_or(g.in_h);
  g.out_w = output_size[1].value_or(g.in_w);
  if (g.out_h < 0 || g.out_w < 0)
    fail(op, "output_size must be non-negative, but got (" + std::to_string(g.out_h) + ", " +
                 std::to_string(g.out_w) + ")");
  checked_numel(op, g.out_shape());
  // The window arithmetic multiplies an output index by an input size.
  checked_mul(op, g.out_h + 1, g.in_h, "output_size * input size");
  checked_mul(op, g.out_w + 1, g.in_w, "output_size * input size");
  return g;
}

template <class T>
void adaptive_max_pool2d_forward(const Pool2dGeometry& g, const T* x, T* y, std::int64_t* idx) {
  const std::int64_t in_plane = g.in_h * g.in_w, out_plane = g.out_h * g.out_w;
#pragma omp parallel for schedule(static) if (g.planes() * in_plane >= kParallelThreshold)
  for (std::int64_t p = 0; p < g.planes(); ++p) {
    const T* xp = x + p * in_plane;
    for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
      const std::int64_t ih0 = adaptive_start(oh, g.out_h, g.in_h);
      const std::int64_t ih1 = adaptive_end(oh, g.out_h, g.in_h);
      for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
        const std::int64_t iw0 = adaptive_start(ow, g.out_w, g.in_w);
        const std::int64_t iw1 = adaptive_end(ow, g.out_w, g.in_w);
        const std::int64_t o = p * out_plane + oh * g.out_w + ow;
        window_max(xp, g.in_w, ih0, ih1, 1, iw0, iw1, 1, y[o], idx[o]);
      }
    }
  }
}

PlaneMap adaptive_avg_pool2d_map(const Pool2dGeometry& g) {
  PlaneMap m;
  m.in_size = g.in_h * g.in_w;
  m.out_size = g.out_h * g.out_w;
  for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
    const std::int64_t ih0 = adaptive_start(oh, g.out_h, g.in_h);
    const std::int64_t ih1 = adaptive_end(oh, g.out_h, g.in_h);
    for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
      const std::int64_t iw0 = adaptive_start(ow, g.out_w, g.in_w);
      const std::int64_t iw1 = adaptive_end(ow, g.out_w, g.in_w);
      for (std::int64_t ih = ih0; ih < ih1; ++ih)
        for (std::int64_t iw = iw0; iw < iw1; ++iw) m.add(ih * g.in_w + iw, 1.0);
      m.divisor.push_back(double((ih1 - ih0) * (iw1 - iw0)));
      m.end_output();
    }
  }
  return m;
}

template void max_pool2d_forward<float>(const Pool2dGeometry&, const float*, float*, std::int64_t*);
template void max_pool2d_forward<double>(const Pool2dGeometry&, const double*, double*,
                                         std::int64_t*);
template void adaptive_max_pool2d_forward<float>(const Pool2dGeometry&, const float*, float*,
                                                 std::int64_t*);
template void adaptive_max_pool2d_forward<double>(const Pool2dGeometry&, const double*, double*,
                                                  std::int64_t*);

}  // namespace tapegrad::kernels
