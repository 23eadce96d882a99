#include <tapegrad/layers/functional/im2col.hpp>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tapegrad::functional {
namespace detail {
namespace {

// Below this many touched elements an OpenMP region costs more than it saves.
constexpr std::int64_t kParallelThreshold = std::int64_t(1) << 15;

struct Range {
  std::int64_t lo, hi;  // [lo, hi), possibly empty (lo == hi)
};

// The output positions j in [0, out) whose input index j·stride + offset lies in
// [0, size). Computing them once per kernel tap keeps the inner loops free of bounds
// tests (and lets stride 1 become a memcpy).
Range valid_range(std::int64_t offset, std::int64_t stride, std::int64_t size, std::int64_t out) {
  const std::int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const std::int64_t last = size - 1 - offset;  // j·stride <= last
  const std::int64_t hi = last < 0 ? 0 : std::min(out, last / stride + 1);
  return {std::min(lo, hi), hi};
}

}  // namespace

template <class T>
void im2col_batch(const T* x, std::int64_t batch, std::int64_t sample_stride,
                  const PlaneGeometry& g, T* cols, std::int64_t ld_cols) {
  const std::int64_t taps = g.kernel_h * g.kernel_w;
  const std::int64_t rows = g.channels * taps;
  const std::int64_t out_w = g.out_w;
  const std::int64_t L = g.out_h * out_w;
  const std::int64_t plane = g.height * g.width;
  const bool parallel = rows * batch * L >= kParallelThreshold;

  // One (row, sample) pair fills one contiguous segment of L columns: each thread
  // writes its own segments, reading one input plane row by row.
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t n = 0; n < batch; ++n) {
      const std::int64_t c = r / taps;
      const std::int64_t u = (r / g.kernel_w) % g.kernel_h;
      const std::int64_t v = r % g.kernel_w;
      const T* src = x + n * sample_stride + c * plane;
      T* dst = cols + r * ld_cols + n * L;
      const std::int64_t off_h = u * g.dilation_h - g.pad_top;
      const std::int64_t off_w = v * g.dilation_w - g.pad_left;
      const Range ri = valid_range(off_h, g.stride_h, g.height, g.out_h);
      const Range rj = valid_range(off_w, g.stride_w, g.width, out_w);
      const std::int64_t span = rj.hi - rj.lo;
      std::fill(dst, dst + ri.lo * out_w, T(0));  // rows above the input
      for (std::int64_t i = ri.lo; i < ri.hi; ++i) {
        T* drow = dst + i * out_w;
        const T* srow = src + (i * g.stride_h + off_h) * g.width + (rj.lo * g.stride_w + off_w);
        std::fill(drow, drow + rj.lo, T(0));
        if (g.stride_w == 1) {
          std::memcpy(drow + rj.lo, srow, static_cast<std::size_t>(span) * sizeof(T));
        } else {
          for (std::int64_t t = 0; t < span; ++t) drow[rj.lo + t] = srow[t * g.stride_w];
        }
        std::fill(drow + rj.hi, drow + out_w, T(0));
      }
      std::fill(dst + ri.hi * out_w, dst + L, T(0));  // rows below the input
    }
  }
}

template <class T>
void col2im_batch(const T* cols, std::int64_t ld_cols, std::int64_t batch,
                  std::int64_t sample_stride, const PlaneGeometry& g, T* x) {
  const std::int64_t out_w = g.out_w;
  const std::int64_t L = g.out_h * out_w;
  const std::int64_t plane = g.height * g.width;
  const bool parallel = g.channels * g.kernel_h * g.kernel_w * batch * L >= kParallelThreshold;

  // Windows overlap, so two taps may add to the same input element. Giving each thread
  // whole (sample, channel) planes, and walking the taps of a plane in order inside
  // one thread, makes the accumulation race-free without atomics.
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t c = 0; c < g.channels; ++c) {
      T* dst = x + n * sample_stride + c * plane;
      for (std::int64_t u = 0; u < g.kernel_h; ++u) {
        const std::int64_t off_h = u * g.dilation_h - g.pad_top;
        const Range ri = valid_range(off_h, g.stride_h, g.height, g.out_h);
        for (std::int64_t v = 0; v < g.kernel_w; ++v) {
          const std::int64_t off_w = v * g.dilation_w - g.pad_left;
          const Range rj = valid_range(off_w, g.stride_w, g.width, out_w);
          const std::int64_t span = rj.hi - rj.lo;
          const std::int64_t r = (c * g.kernel_h + u) * g.kernel_w + v;
          const T* src = cols + r * ld_cols + n * L;
          for (std::int64_t i = ri.lo; i < ri.hi; ++i) {
            const T* srow = src + i * out_w + rj.lo;
            T* drow = dst + (i * g.stride_h + off_h) * g.width + (rj.lo * g.stride_w + off_w);
            if (g.stride_w == 1) {
              for (std::int64_t t = 0; t < span; ++t) drow[t] += srow[t];
            } else {
              for (std::int64_t t = 0; t < span; ++t) drow[t * g.stride_w] += srow[t];
            }
          }
        }
      }
    }
  }
}

template void im2col_batch<float>(const float*, std::int64_t, std::int64_t, const PlaneGeometry&,
                                  float*, std::int64_t);
template void im2col_batch<double>(const double*, std::int64_t, std::int64_t,
                                   const PlaneGeometry&, double*, std::int64_t);
template void col2im_batch<float>(const float*, std::int64_t, std::int64_t, std::int64_t,
                                  const PlaneGeometry&, float*);
template void col2im_batch<double>(const double*, std::int64_t, std::int64_t, std::int64_t,
                                   const PlaneGeometry&, double*);

}  // namespace detail

namespace {

[[noreturn]] void fail(const char* op, const std::string& what) {
  throw std::invalid_argument(std::string(op) + ": " + what);
}

std::string pair_str(const std::array<std::int64_t, 2>& a) {
  std::string s = "(";  // built by appending: GCC 12 warns (falsely) on "(" + string
  s += std::to_string(a[0]);
  s += ", ";
  s += std::to_string(a[1]);
  return s + ")";
}

// Checks the window parameters and the input shape, and returns the plane geometry
// (channels, sizes, output sizes) of one sample plus the batch size.
detail::PlaneGeometry plane_geometry(const char* op, const Shape& x, const Im2colParams& p,
                                     std::int64_t& batch) {
  if (x.size() != 3 && x.size() != 4)
    fail(op, "expected a 3D [C, H, W] or 4D [N, C, H, W] input shape, but got " +
                 shape_to_string(x));
  for (int d = 0; d < 2; ++d) {
    if (p.kernel[d] < 1) fail(op, "kernel size must be positive, but got " + pair_str(p.kernel));
    if (p.stride[d] < 1) fail(op, "stride must be positive, but got " + pair_str(p.stride));
    if (p.dilation[d] < 1)
      fail(op, "dilation must be positive, but got " + pair_str(p.dilation));
    if (p.padding[d] < 0)
      fail(op, "padding must be non-negative, but got " + pair_str(p.padding));
  }
  const std::size_t off = x.size() - 3;
  batch = x.size() == 4 ? static_cast<std::int64_t>(x[0]) : 1;
  detail::PlaneGeometry g;
  g.channels = static_cast<std::int64_t>(x[off]);
  g.height = static_cast<std::int64_t>(x[off + 1]);
  g.width = static_cast<std::int64_t>(x[off + 2]);
  g.kernel_h = p.kernel[0];
  g.kernel_w = p.kernel[1];
  g.stride_h = p.stride[0];
  g.stride_w = p.stride[1];
  g.pad_top = p.padding[0];
  g.pad_left = p.padding[1];
  g.dilation_h = p.dilation[0];
  g.dilation_w = p.dilation[1];
  const std::int64_t span_h = g.dilation_h * (g.kernel_h - 1) + 1;
  const std::int64_t span_w = g.dilation_w * (g.kernel_w - 1) + 1;
  const std::int64_t padded_h = g.height + 2 * g.pad_top, padded_w = g.width + 2 * g.pad_left;
  if (padded_h < span_h || padded_w < span_w)
    fail(op, "Calculated padded input size per channel: (" + std::to_string(padded_h) + " x " +
                 std::to_string(padded_w) + "). Kernel size: (" + std::to_string(span_h) + " x " +
                 std::to_string(span_w) + "). Kernel size can't be greater than actual input size");
  g.out_h = (padded_h - span_h) / g.stride_h + 1;
  g.out_w = (padded_w - span_w) / g.stride_w + 1;
  return g;
}

}  // namespace

template <class T>
xt::xarray<T> im2col(const xt::xarray<T>& input, const Im2colParams& params) {
  const Shape x(input.shape().begin(), input.shape().end());
  std::int64_t batch = 0;
  const detail::PlaneGeometry g = plane_geometry("im2col", x, params, batch);
  const std::int64_t rows = g.channels * g.kernel_h * g.kernel_w;
  const std::int64_t columns = batch * g.out_h * g.out_w;
  xt::xarray<T> cols = xt::xarray<T>::from_shape(
      {static_cast<std::size_t>(rows), static_cast<std::size_t>(columns)});
  if (cols.size() > 0)
    detail::im2col_batch(input.data(), batch, g.channels * g.height * g.width, g, cols.data(),
                         columns);
  return cols;
}

template <class T>
xt::xarray<T> col2im(const xt::xarray<T>& cols, const Shape& input_shape,
                     const Im2colParams& params) {
  std::int64_t batch = 0;
  const detail::PlaneGeometry g = plane_geometry("col2im", input_shape, params, batch);
  const std::size_t rows = static_cast<std::size_t>(g.channels * g.kernel_h * g.kernel_w);
  const std::size_t columns = static_cast<std::size_t>(batch * g.out_h * g.out_w);
  if (cols.dimension() != 2 || cols.shape()[0] != rows || cols.shape()[1] != columns)
    fail("col2im", "expected cols of size " + shape_to_string({rows, columns}) + " for input " +
                       shape_to_string(input_shape) + ", but got " +
                       shape_to_string(Shape(cols.shape().begin(), cols.shape().end())));
  xt::xarray<T> x = xt::zeros<T>(input_shape);
  if (cols.size() > 0)
    detail::col2im_batch(cols.data(), static_cast<std::int64_t>(columns), batch,
                         g.channels * g.height * g.width, g, x.data());
  return x;
}

template xt::xarray<float> im2col<float>(const xt::xarray<float>&, const Im2colParams&);
template xt::xarray<double> im2col<double>(const xt::xarray<double>&, const Im2colParams&);
template xt::xarray<float> col2im<float>(const xt::xarray<float>&, const Shape&,
                                         const Im2colParams&);
template xt::xarray<double> col2im<double>(const xt::xarray<double>&, const Shape&,
                                           const Im2colParams&);

}  // namespace tapegrad::functional
