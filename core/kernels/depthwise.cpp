#include <omp.h>

#include <algorithm>
#include <tapegrad/core/kernels/depthwise.hpp>
#include <vector>

namespace tapegrad::kernels::detail {
namespace {

// Below this many multiply-adds a parallel region costs more than it saves.
constexpr std::int64_t kParallelWork = std::int64_t(1) << 15;

bool worth_parallel(std::int64_t work) { return !omp_in_parallel() && work >= kParallelWork; }

// yrow[j] += wt · xrow[j·sw] for j in [0, span).
template <class T>
inline void axpy_row(T* __restrict yrow, const T* __restrict xrow, T wt, std::int64_t span,
                     std::int64_t sw) {
  if (sw == 1) {
    for (std::int64_t j = 0; j < span; ++j) yrow[j] += wt * xrow[j];
  } else {
    for (std::int64_t j = 0; j < span; ++j) yrow[j] += wt * xrow[j * sw];
  }
}

// xrow[j·sw] += wt · yrow[j] for j in [0, span).
template <class T>
inline void scatter_axpy_row(T* __restrict xrow, const T* __restrict yrow, T wt, std::int64_t span,
                             std::int64_t sw) {
  if (sw == 1) {
    for (std::int64_t j = 0; j < span; ++j) xrow[j] += wt * yrow[j];
  } else {
    for (std::int64_t j = 0; j < span; ++j) xrow[j * sw] += wt * yrow[j];
  }
}

// acc[j] += yrow[j] · xrow[j·sw] for j in [0, span): the weight gradient's products,
// kept per column so the loop has no serial dependence and vectorises.
template <class T>
inline void mul_acc_row(T* __restrict acc, const T* __restrict yrow, const T* __restrict xrow,
                        std::int64_t span, std::int64_t sw) {
  if (sw == 1) {
    for (std::int64_t j = 0; j < span; ++j) acc[j] += yrow[j] * xrow[j];
  } else {
    for (std::int64_t j = 0; j < span; ++j) acc[j] += yrow[j] * xrow[j * sw];
  }
}

// ---- stride 1: whole planes as flat vectors ----
//
// With stride 1, store the input plane zero-padded with row pitch P = out_w + (kW−1)·d_w
// and the output with the same pitch. Then tap (u, v) adds w·x at the constant flat
// offset u·d_h·P + v·d_w for every output element, so each tap is a single axpy (or
// dot product) over the whole plane, without per-row bounds; the P − out_w extra
// columns of the output are never copied out. On the 56×56 planes of a typical
// depthwise layer this is 2-4× faster than walking the plane row by row.
struct FlatPlane {
  std::int64_t pitch = 0, rows = 0;  // padded input: rows × pitch (+ slack)
  std::int64_t out_len = 0;          // out_h · pitch
  std::int64_t size = 0;             // padded input elements including the slack
  std::vector<std::int64_t> offset;  // per tap
  explicit FlatPlane(const PlaneGeometry& g)
      : pitch(g.out_w + (g.kernel_w - 1) * g.dilation_w),
        rows(g.out_h + (g.kernel_h - 1) * g.dilation_h),
        out_len(g.out_h * pitch),
        size(rows * pitch + (g.kernel_w - 1) * g.dilation_w) {
    for (std::int64_t u = 0; u < g.kernel_h; ++u)
      for (std::int64_t v = 0; v < g.kernel_w; ++v)
        offset.push_back(u * g.dilation_h * pitch + v * g.dilation_w);
  }
};

// The flat layout pays when the padded plane is not much larger than the output: its
// pitch exceeds out_w by the dilated kernel's extent. (Sizes stay far from overflow:
// the extents are at most the output's, which the checks bound.)
bool flat_ok(const PlaneGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 &&
         (g.kernel_h - 1) * g.dilation_h <= std::max<std::int64_t>(g.out_h, 16) &&
         (g.kernel_w - 1) * g.dilation_w <= std::max<std::int64_t>(g.out_w, 16);
}

// Scratch per thread: padded input plane and output-pitched plane.
template <class T>
std::vector<T>& scratch(int which) {
  thread_local std::vector<T> buffers[2];
  return buffers[which];
}

// xp (rows × pitch + slack) <- x plane zero-padded: xp[r][c] = x[r − pad_top][c − pad_left].
template <class T>
void pad_plane(const T* x, const PlaneGeometry& g, const FlatPlane& f, T* xp) {
  std::fill(xp, xp + f.size, T(0));
  for (std::int64_t r = 0; r < f.rows; ++r) {
    const std::int64_t xr = r - g.pad_top;
    if (xr < 0 || xr >= g.height) continue;
    const std::int64_t c0 = std::max<std::int64_t>(0, g.pad_left);  // first padded column with data
    const std::int64_t c1 = std::min(f.pitch, g.pad_left + g.width);
    if (c1 > c0)
      std::copy(x + xr * g.width + (c0 - g.pad_left), x + xr * g.width + (c1 - g.pad_left),
                xp + r * f.pitch + c0);
  }
}

// x plane (+)= xp's data region (the inverse of pad_plane's placement).
template <class T>
void unpad_plane_add(const T* xp, const PlaneGeometry& g, const FlatPlane& f, T* x) {
  for (std::int64_t r = 0; r < f.rows; ++r) {
    const std::int64_t xr = r - g.pad_top;
    if (xr < 0 || xr >= g.height) continue;
    const std::int64_t c0 = std::max<std::int64_t>(0, g.pad_left);
    const std::int64_t c1 = std::min(f.pitch, g.pad_left + g.width);
    T* d = x + xr * g.width - g.pad_left;
    for (std::int64_t c = c0; c < c1; ++c) d[c] += xp[r * f.pitch + c];
  }
}

// out[q] += wt · in[q] for q in [0, n).
template <class T>
inline void axpy(T* __restrict out, const T* __restrict in, T wt, std::int64_t n) {
  for (std::int64_t q = 0; q < n; ++q) out[q] += wt * in[q];
}

// Σ a[q]·b[q] over [0, n): kLanes partial sums in T (vectorised), added in double.
template <class T>
inline double dot(const T* __restrict a, const T* __restrict b, std::int64_t n) {
  constexpr std::int64_t kLanes = 32;
  T lanes[kLanes] = {};
  std::int64_t q = 0;
  for (; q + kLanes <= n; q += kLanes)
    for (std::int64_t j = 0; j < kLanes; ++j) lanes[j] += a[q + j] * b[q + j];
  double s = 0.0;
  for (; q < n; ++q) s += static_cast<double>(a[q]) * static_cast<double>(b[q]);
  for (std::int64_t j = 0; j < kLanes; ++j) s += static_cast<double>(lanes[j]);
  return s;
}

// The sizes every kernel below works with: the tap table, taps per plane, channel
// multiplier, output row length and plane size, input row length and plane size, strides.
struct Sizes {
  std::vector<Tap> taps;
  std::int64_t n_taps, m, out_w, L, width, plane, sh, sw;
  Sizes(const PlaneGeometry& g, std::int64_t y_channels)
      : taps(tap_table(g)),
        n_taps(static_cast<std::int64_t>(taps.size())),
        m(y_channels / g.channels),
        out_w(g.out_w),
        L(g.out_h * g.out_w),
        width(g.width),
        plane(g.height * g.width),
        sh(g.stride_h),
        sw(g.stride_w) {}
};

}  // namespace

template <class T>
void depthwise_forward(const T* x, std::int64_t batch, std::int64_t x_sample,
                       const PlaneGeometry& g, std::int64_t y_channels, const T* w, const T* bias,
                       T* y) {
  const Sizes z(g, y_channels);
  const auto& taps = z.taps;
  const std::int64_t n_taps = z.n_taps, m = z.m, out_w = z.out_w, L = z.L;
  const std::int64_t width = z.width, plane = z.plane, sh = z.sh, sw = z.sw;
  if (flat_ok(g)) {
    const FlatPlane f(g);
    const std::int64_t in_planes = batch * g.channels;
#pragma omp parallel for schedule(static) if (worth_parallel(batch * y_channels * L * n_taps))
    for (std::int64_t p = 0; p < in_planes; ++p) {
      const std::int64_t n = p / g.channels, c = p % g.channels;
      std::vector<T>& xp = scratch<T>(0);
      std::vector<T>& yp = scratch<T>(1);
      xp.resize(static_cast<std::size_t>(f.size));
      yp.resize(static_cast<std::size_t>(f.out_len));
      pad_plane(x + n * x_sample + c * plane, g, f, xp.data());
      for (std::int64_t q = 0; q < m; ++q) {
        const std::int64_t o = c * m + q;
        std::fill(yp.begin(), yp.end(), T(0));
        for (std::int64_t k = 0; k < n_taps; ++k)
          axpy(yp.data(), xp.data() + f.offset[static_cast<std::size_t>(k)], w[o * n_taps + k],
               f.out_len);
        T* dst = y + (n * y_channels + o) * L;
        const T b = bias ? bias[o] : T(0);
        for (std::int64_t i = 0; i < g.out_h; ++i)
          for (std::int64_t j = 0; j < out_w; ++j)
            dst[i * out_w + j] = yp[static_cast<std::size_t>(i * f.pitch + j)] + b;
      }
    }
    return;
  }
  const std::int64_t planes = batch * y_channels;
#pragma omp parallel for schedule(static) if (worth_parallel(planes * L * n_taps))
  for (std::int64_t p = 0; p < planes; ++p) {
    const std::int64_t n = p / y_channels, o = p % y_channels;
    const T* src = x + n * x_sample + (o / m) * plane;
    T* dst = y + p * L;
    std::fill(dst, dst + L, bias ? bias[o] : T(0));
    for (std::int64_t k = 0; k < n_taps; ++k) {
      const Tap& t = taps[static_cast<std::size_t>(k)];
      const T wt = w[o * n_taps + k];
      const std::int64_t lo = t.cols.lo, span = t.cols.hi - lo;
      if (span <= 0) continue;  // the tap reads nothing (and its offsets may leave the plane)
      for (std::int64_t i = t.rows.lo; i < t.rows.hi; ++i)
        axpy_row(dst + i * out_w + lo, src + ((i * sh + t.off_h) * width + lo * sw + t.off_w), wt,
                 span, sw);
    }
  }
}

template <class T>
void depthwise_adjoint(const T* y, std::int64_t batch, std::int64_t x_sample,
                       const PlaneGeometry& g, std::int64_t y_channels, const T* w, T* x, bool init,
                       const T* init_bias) {
  const Sizes z(g, y_channels);
  const auto& taps = z.taps;
  const std::int64_t n_taps = z.n_taps, m = z.m, out_w = z.out_w, L = z.L;
  const std::int64_t width = z.width, plane = z.plane, sh = z.sh, sw = z.sw;
  const std::int64_t planes = batch * g.channels;
  if (flat_ok(g)) {
    const FlatPlane f(g);
#pragma omp parallel for schedule(static) if (worth_parallel(batch * y_channels * L * n_taps))
    for (std::int64_t p = 0; p < planes; ++p) {
      const std::int64_t n = p / g.channels, c = p % g.channels;
      std::vector<T>& xp = scratch<T>(0);
      std::vector<T>& yp = scratch<T>(1);
      xp.assign(static_cast<std::size_t>(f.size), T(0));
      yp.assign(static_cast<std::size_t>(f.out_len), T(0));  // the extra columns stay 0
      for (std::int64_t q = 0; q < m; ++q) {
        const std::int64_t o = c * m + q;
        const T* src = y + (n * y_channels + o) * L;
        for (std::int64_t i = 0; i < g.out_h; ++i)
          std::copy(src + i * out_w, src + (i + 1) * out_w, yp.data() + i * f.pitch);
        for (std::int64_t k = 0; k < n_taps; ++k)
          axpy(xp.data() + f.offset[static_cast<std::size_t>(k)], yp.data(), w[o * n_taps + k],
               f.out_len);
      }
      T* dst = x + n * x_sample + c * plane;
      if (init) std::fill(dst, dst + plane, init_bias ? init_bias[c] : T(0));
      unpad_plane_add(xp.data(), g, f, dst);
    }
    return;
  }
#pragma omp parallel for schedule(static) if (worth_parallel(batch * y_channels * L * n_taps))
  for (std::int64_t p = 0; p < planes; ++p) {
    const std::int64_t n = p / g.channels, c = p % g.channels;
    T* dst = x + n * x_sample + c * plane;
    if (init) std::fill(dst, dst + plane, init_bias ? init_bias[c] : T(0));
    for (std::int64_t q = 0; q < m; ++q) {  // the output channels reading input channel c
      const std::int64_t o = c * m + q;
      const T* src = y + (n * y_channels + o) * L;
      for (std::int64_t k = 0; k < n_taps; ++k) {
        const Tap& t = taps[static_cast<std::size_t>(k)];
        const T wt = w[o * n_taps + k];
        const std::int64_t lo = t.cols.lo, span = t.cols.hi - lo;
        if (span <= 0) continue;
        for (std::int64_t i = t.rows.lo; i < t.rows.hi; ++i)
          scatter_axpy_row(dst + ((i * sh + t.off_h) * width + lo * sw + t.off_w),
                           src + i * out_w + lo, wt, span, sw);
      }
    }
  }
}

template <class T>
void depthwise_weight_grad(const T* y, const T* x, std::int64_t batch, std::int64_t x_sample,
                           const PlaneGeometry& g, std::int64_t y_channels, T* dw) {
  const Sizes z(g, y_channels);
  const auto& taps = z.taps;
  const std::int64_t n_taps = z.n_taps, m = z.m, out_w = z.out_w, L = z.L;
  const std::int64_t width = z.width, plane = z.plane, sh = z.sh, sw = z.sw;
  if (flat_ok(g)) {
    const FlatPlane f(g);
#pragma omp parallel for schedule(static) if (worth_parallel(batch * y_channels * L * n_taps))
    for (std::int64_t c = 0; c < g.channels; ++c) {
      std::vector<T>& xp = scratch<T>(0);
      std::vector<T>& yp = scratch<T>(1);
      xp.resize(static_cast<std::size_t>(f.size));
      yp.assign(static_cast<std::size_t>(f.out_len), T(0));  // the extra columns stay 0
      std::vector<double> total(static_cast<std::size_t>(m * n_taps), 0.0);
      for (std::int64_t n = 0; n < batch; ++n) {
        pad_plane(x + n * x_sample + c * plane, g, f, xp.data());
        for (std::int64_t q = 0; q < m; ++q) {
          const T* src = y + (n * y_channels + c * m + q) * L;
          for (std::int64_t i = 0; i < g.out_h; ++i)
            std::copy(src + i * out_w, src + (i + 1) * out_w, yp.data() + i * f.pitch);
          for (std::int64_t k = 0; k < n_taps; ++k)
            total[static_cast<std::size_t>(q * n_taps + k)] +=
                dot(yp.data(), xp.data() + f.offset[static_cast<std::size_t>(k)], f.out_len);
        }
      }
      for (std::int64_t q = 0; q < m; ++q)
        for (std::int64_t k = 0; k < n_taps; ++k)
          dw[(c * m + q) * n_taps + k] =
              static_cast<T>(total[static_cast<std::size_t>(q * n_taps + k)]);
    }
    return;
  }
#pragma omp parallel for schedule(static) if (worth_parallel(batch * y_channels * L * n_taps))
  for (std::int64_t o = 0; o < y_channels; ++o) {
    // Per tap, one row of per-column partial sums over a sample's rows; each sample's
    // total is added in double.
    std::vector<T> acc(static_cast<std::size_t>(n_taps * out_w));
    std::vector<double> total(static_cast<std::size_t>(n_taps), 0.0);
    for (std::int64_t n = 0; n < batch; ++n) {
      const T* src = x + n * x_sample + (o / m) * plane;
      const T* grad = y + (n * y_channels + o) * L;
      std::fill(acc.begin(), acc.end(), T(0));
      for (std::int64_t k = 0; k < n_taps; ++k) {
        const Tap& t = taps[static_cast<std::size_t>(k)];
        const std::int64_t lo = t.cols.lo, span = t.cols.hi - lo;
        T* a = acc.data() + k * out_w;
        if (span <= 0) continue;  // the tap reads nothing (and its offsets may leave the plane)
        for (std::int64_t i = t.rows.lo; i < t.rows.hi; ++i)
          mul_acc_row(a, grad + i * out_w + lo,
                      src + ((i * sh + t.off_h) * width + lo * sw + t.off_w), span, sw);
        double s = 0.0;
        for (std::int64_t j = 0; j < span; ++j) s += static_cast<double>(a[j]);
        total[static_cast<std::size_t>(k)] += s;
      }
    }
    for (std::int64_t k = 0; k < n_taps; ++k)
      dw[o * n_taps + k] = static_cast<T>(total[static_cast<std::size_t>(k)]);
  }
}

#define TAPEGRAD_DEPTHWISE(T)                                                                    \
  template void depthwise_forward<T>(const T*, std::int64_t, std::int64_t, const PlaneGeometry&, \
                                     std::int64_t, const T*, const T*, T*);                      \
  template void depthwise_adjoint<T>(const T*, std::int64_t, std::int64_t, const PlaneGeometry&, \
                                     std::int64_t, const T*, T*, bool, const T*);                \
  template void depthwise_weight_grad<T>(const T*, const T*, std::int64_t, std::int64_t,         \
                                         const PlaneGeometry&, std::int64_t, T*);
TAPEGRAD_DEPTHWISE(float)
TAPEGRAD_DEPTHWISE(double)
#undef TAPEGRAD_DEPTHWISE

}  // namespace tapegrad::kernels::detail
