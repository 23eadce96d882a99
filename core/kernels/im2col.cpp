#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <tapegrad/core/cpu.hpp>
#include <tapegrad/core/kernels/im2col.hpp>
#include <vector>

namespace tapegrad::kernels {
namespace detail {
namespace {

// Below this many touched elements an OpenMP region costs more than it saves.
constexpr std::int64_t kParallelThreshold = std::int64_t(1) << 15;

// The output positions j in [0, out) whose input index j·stride + offset lies in
// [0, size). Computing them once per kernel tap keeps the inner loops free of bounds
// tests (and lets stride 1 become a memcpy).
Range valid_range(std::int64_t offset, std::int64_t stride, std::int64_t size, std::int64_t out) {
  // ⌈−offset / stride⌉ without forming −offset + stride − 1, which can overflow when
  // both the padding and the stride are near 2^62 (valid options for a tiny output).
  const std::int64_t lo = offset >= 0 ? 0 : (-offset) / stride + ((-offset) % stride != 0);
  const std::int64_t last = size - 1 - offset;  // j·stride <= last
  const std::int64_t hi = last < 0 ? 0 : std::min(out, last / stride + 1);
  return {std::min(lo, hi), hi};
}

// ---- one row of im2col / col2im ----
//
// Small planes (the 7×7 and 14×14 maps of a typical encoder/decoder) make im2col a
// great many short rows, where loop overhead rather than memory traffic sets the
// speed. On AVX-512 a row of up to one vector (16 floats / 8 doubles) with stride 1
// or 2 is one or two masked loads, a permute and one masked store; everything else
// takes the plain loops, which the compiler vectorises well for long rows.

// Lane t of the result is element 2t of the 32 floats (a, b) / 16 doubles (a, b).
TAPEGRAD_TARGET_AVX512 inline __m512 even_lanes(__m512 a, __m512 b) {
  const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  return _mm512_permutex2var_ps(a, idx, b);
}
TAPEGRAD_TARGET_AVX512 inline __m512d even_lanes(__m512d a, __m512d b) {
  const __m512i idx = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  return _mm512_permutex2var_pd(a, idx, b);
}

// Masks of the first n lanes (n may exceed the lane count or be 0).
TAPEGRAD_TARGET_AVX512 inline __mmask16 first16(std::int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << std::max<std::int64_t>(n, 0)) - 1u);
}
TAPEGRAD_TARGET_AVX512 inline __mmask8 first8(std::int64_t n) {
  return n >= 8 ? __mmask8(0xFF) : __mmask8((1u << std::max<std::int64_t>(n, 0)) - 1u);
}

// im2col row: drow[j] = src[(j − lo)·sw] for lo <= j < hi, 0 elsewhere in [0, out_w).
TAPEGRAD_TARGET_AVX512 inline bool gather_row_simd(float* drow, const float* src, std::int64_t lo,
                                                   std::int64_t hi, std::int64_t out_w,
                                                   std::int64_t sw) {
  if (out_w > 16 || sw > 2) return false;
  const std::int64_t span = hi - lo;
  const __mmask16 valid = __mmask16(first16(span) << lo);
  __m512 v;
  if (sw == 1) {
    v = _mm512_maskz_expandloadu_ps(valid, src);  // lanes lo.. get src[0..span)
  } else {
    const std::int64_t n_in = 2 * span - 1;  // src[0], src[2], ..., src[2·(span − 1)]
    const __m512 a = _mm512_maskz_loadu_ps(first16(n_in), src);
    const __m512 b =
        n_in > 16 ? _mm512_maskz_loadu_ps(first16(n_in - 16), src + 16) : _mm512_setzero_ps();
    v = _mm512_maskz_expand_ps(valid, even_lanes(a, b));
  }
  _mm512_mask_storeu_ps(drow, first16(out_w), v);
  return true;
}
TAPEGRAD_TARGET_AVX512 inline bool gather_row_simd(double* drow, const double* src, std::int64_t lo,
                                                   std::int64_t hi, std::int64_t out_w,
                                                   std::int64_t sw) {
  if (out_w > 8 || sw > 2) return false;
  const std::int64_t span = hi - lo;
  const __mmask8 valid = __mmask8(first8(span) << lo);
  __m512d v;
  if (sw == 1) {
    v = _mm512_maskz_expandloadu_pd(valid, src);
  } else {
    const std::int64_t n_in = 2 * span - 1;
    const __m512d a = _mm512_maskz_loadu_pd(first8(n_in), src);
    const __m512d b =
        n_in > 8 ? _mm512_maskz_loadu_pd(first8(n_in - 8), src + 8) : _mm512_setzero_pd();
    v = _mm512_maskz_expand_pd(valid, even_lanes(a, b));
  }
  _mm512_mask_storeu_pd(drow, first8(out_w), v);
  return true;
}

// col2im row: drow[j·sw] += src[j] for 0 <= j < span.
TAPEGRAD_TARGET_AVX512 inline bool scatter_add_row_simd(float* drow, const float* src,
                                                        std::int64_t span, std::int64_t sw) {
  // Stride 1 stays with the plain loop: the rows of neighbouring taps overlap, and a
  // masked load right after an overlapping masked store stalls (no store forwarding).
  if (span > 16 || sw != 2) return false;
  const __m512 s = _mm512_maskz_loadu_ps(first16(span), src);
  // Spread s over the even lanes of two vectors: lane 2t <- s[t] (a: t < 8, b: t >= 8).
  const __m512i ia = _mm512_setr_epi32(0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0);
  const __m512i ib = _mm512_setr_epi32(8, 0, 9, 0, 10, 0, 11, 0, 12, 0, 13, 0, 14, 0, 15, 0);
  const std::int64_t n_out = 2 * span - 1;
  const __mmask16 ma = first16(n_out);
  _mm512_mask_storeu_ps(
      drow, ma,
      _mm512_add_ps(_mm512_maskz_loadu_ps(ma, drow), _mm512_maskz_permutexvar_ps(0x5555, ia, s)));
  if (n_out > 16) {
    const __mmask16 mb = first16(n_out - 16);
    _mm512_mask_storeu_ps(drow + 16, mb,
                          _mm512_add_ps(_mm512_maskz_loadu_ps(mb, drow + 16),
                                        _mm512_maskz_permutexvar_ps(0x5555, ib, s)));
  }
  return true;
}
TAPEGRAD_TARGET_AVX512 inline bool scatter_add_row_simd(double* drow, const double* src,
                                                        std::int64_t span, std::int64_t sw) {
  if (span > 8 || sw != 2) return false;
  const __m512d s = _mm512_maskz_loadu_pd(first8(span), src);
  const __m512i ia = _mm512_setr_epi64(0, 0, 1, 0, 2, 0, 3, 0);
  const __m512i ib = _mm512_setr_epi64(4, 0, 5, 0, 6, 0, 7, 0);
  const std::int64_t n_out = 2 * span - 1;
  const __mmask8 ma = first8(n_out);
  _mm512_mask_storeu_pd(
      drow, ma,
      _mm512_add_pd(_mm512_maskz_loadu_pd(ma, drow), _mm512_maskz_permutexvar_pd(0x55, ia, s)));
  if (n_out > 8) {
    const __mmask8 mb = first8(n_out - 8);
    _mm512_mask_storeu_pd(drow + 8, mb,
                          _mm512_add_pd(_mm512_maskz_loadu_pd(mb, drow + 8),
                                        _mm512_maskz_permutexvar_pd(0x55, ib, s)));
  }
  return true;
}

template <class T>
inline void gather_row(T* __restrict drow, const T* __restrict src, std::int64_t lo,
                       std::int64_t hi, std::int64_t out_w, std::int64_t sw, bool avx512) {
  if (avx512 && gather_row_simd(drow, src, lo, hi, out_w, sw)) return;
  const std::int64_t span = hi - lo;
  for (std::int64_t j = 0; j < lo; ++j) drow[j] = T(0);
  if (sw == 1) {
    for (std::int64_t j = 0; j < span; ++j) drow[lo + j] = src[j];
  } else {
    for (std::int64_t j = 0; j < span; ++j) drow[lo + j] = src[j * sw];
  }
  for (std::int64_t j = hi; j < out_w; ++j) drow[j] = T(0);
}

template <class T>
inline void scatter_add_row(T* __restrict drow, const T* __restrict src, std::int64_t span,
                            std::int64_t sw, bool avx512) {
  if (avx512 && scatter_add_row_simd(drow, src, span, sw)) return;
  if (sw == 1) {
    for (std::int64_t j = 0; j < span; ++j) drow[j] += src[j];
  } else {
    for (std::int64_t j = 0; j < span; ++j) drow[j * sw] += src[j];
  }
}

}  // namespace

std::vector<Tap> tap_table(const PlaneGeometry& g) {
  std::vector<Tap> taps;
  taps.reserve(static_cast<std::size_t>(g.kernel_h * g.kernel_w));
  for (std::int64_t u = 0; u < g.kernel_h; ++u)
    for (std::int64_t v = 0; v < g.kernel_w; ++v) {
      const std::int64_t off_h = u * g.dilation_h - g.pad_top;
      const std::int64_t off_w = v * g.dilation_w - g.pad_left;
      taps.push_back({off_h, off_w, valid_range(off_h, g.stride_h, g.height, g.out_h),
                      valid_range(off_w, g.stride_w, g.width, g.out_w)});
    }
  return taps;
}

// ---- whole planes no wider than one vector ----
//
// When an input row and an output row each fit one AVX-512 vector (the 7×7 and 14×14
// maps of the usual encoders and decoders), im2col loads each input row once and
// produces the rows of all kW taps with one permute each, and col2im sums the kW taps
// of an input row in registers before one read-modify-write of the row. Per tap, a
// permutation index and a lane mask encode stride, dilation and padding.
template <class T>
struct Simd;

template <>
struct Simd<float> {
  using V = __m512;
  using M = __mmask16;
  using Index = std::int32_t;
  static constexpr std::int64_t lanes = 16;
  TAPEGRAD_TARGET_AVX512 static M first(std::int64_t n) { return first16(n); }
  TAPEGRAD_TARGET_AVX512 static V load(M m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  TAPEGRAD_TARGET_AVX512 static void store(float* p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  TAPEGRAD_TARGET_AVX512 static V permute(M m, const Index* idx, V v) {
    return _mm512_maskz_permutexvar_ps(m, _mm512_loadu_si512(idx), v);
  }
  TAPEGRAD_TARGET_AVX512 static V add(V a, V b) { return _mm512_add_ps(a, b); }
  TAPEGRAD_TARGET_AVX512 static V zero() { return _mm512_setzero_ps(); }
};

template <>
struct Simd<double> {
  using V = __m512d;
  using M = __mmask8;
  using Index = std::int64_t;
  static constexpr std::int64_t lanes = 8;
  TAPEGRAD_TARGET_AVX512 static M first(std::int64_t n) { return first8(n); }
  TAPEGRAD_TARGET_AVX512 static V load(M m, const double* p) { return _mm512_maskz_loadu_pd(m, p); }
  TAPEGRAD_TARGET_AVX512 static void store(double* p, M m, V v) { _mm512_mask_storeu_pd(p, m, v); }
  TAPEGRAD_TARGET_AVX512 static V permute(M m, const Index* idx, V v) {
    return _mm512_maskz_permutexvar_pd(m, _mm512_loadu_si512(idx), v);
  }
  TAPEGRAD_TARGET_AVX512 static V add(V a, V b) { return _mm512_add_pd(a, b); }
  TAPEGRAD_TARGET_AVX512 static V zero() { return _mm512_setzero_pd(); }
};

// Lane maps of one tap column offset (v): gather lane j <- input column j·sw + off_w
// (for the j whose column is inside the row); scatter lane q <- output column j where
// q = j·sw + off_w.
template <class T>
struct LaneMap {
  alignas(64) typename Simd<T>::Index gather_idx[Simd<T>::lanes] = {};
  alignas(64) typename Simd<T>::Index scatter_idx[Simd<T>::lanes] = {};
  typename Simd<T>::M gather_mask = 0, scatter_mask = 0;
};

template <class T>
bool small_plane(const PlaneGeometry& g) {
  return g.width <= Simd<T>::lanes && g.out_w <= Simd<T>::lanes;
}

template <class T>
std::vector<LaneMap<T>> lane_maps(const PlaneGeometry& g) {
  std::vector<LaneMap<T>> maps(static_cast<std::size_t>(g.kernel_w));
  for (std::int64_t v = 0; v < g.kernel_w; ++v) {
    LaneMap<T>& m = maps[static_cast<std::size_t>(v)];
    const std::int64_t off_w = v * g.dilation_w - g.pad_left;
    const Range rj = valid_range(off_w, g.stride_w, g.width, g.out_w);
    for (std::int64_t j = rj.lo; j < rj.hi; ++j) {
      const std::int64_t q = j * g.stride_w + off_w;
      m.gather_idx[j] = static_cast<typename Simd<T>::Index>(q);
      m.gather_mask = static_cast<typename Simd<T>::M>(m.gather_mask | (1u << j));
      m.scatter_idx[q] = static_cast<typename Simd<T>::Index>(j);
      m.scatter_mask = static_cast<typename Simd<T>::M>(m.scatter_mask | (1u << q));
    }
  }
  return maps;
}

// im2col of one (channel, sample) plane `src` into the rows of its taps, `dst` being
// the first tap's segment (row stride ld_cols).
template <class T>
TAPEGRAD_TARGET_AVX512 void im2col_small_plane(const T* src, const PlaneGeometry& g,
                                               const std::vector<LaneMap<T>>& maps, T* dst,
                                               std::int64_t ld_cols) {
  using S = Simd<T>;
  const std::int64_t out_w = g.out_w, L = g.out_h * out_w;
  const typename S::M in_mask = S::first(g.width), out_mask = S::first(out_w);
  for (std::int64_t u = 0; u < g.kernel_h; ++u) {
    const std::int64_t off_h = u * g.dilation_h - g.pad_top;
    const Range ri = valid_range(off_h, g.stride_h, g.height, g.out_h);
    T* dst_u = dst + u * g.kernel_w * ld_cols;
    for (std::int64_t v = 0; v < g.kernel_w; ++v) {  // output rows with no input row
      T* d = dst_u + v * ld_cols;
      std::fill(d, d + ri.lo * out_w, T(0));
      std::fill(d + ri.hi * out_w, d + L, T(0));
    }
    for (std::int64_t i = ri.lo; i < ri.hi; ++i) {
      const typename S::V row = S::load(in_mask, src + (i * g.stride_h + off_h) * g.width);
      for (std::int64_t v = 0; v < g.kernel_w; ++v) {
        const LaneMap<T>& m = maps[static_cast<std::size_t>(v)];
        S::store(dst_u + v * ld_cols + i * out_w, out_mask,
                 S::permute(m.gather_mask, m.gather_idx, row));
      }
    }
  }
}

// col2im of one plane: adds the rows of its taps (`src` = first tap's segment) onto
// the plane `dst`.
template <class T>
TAPEGRAD_TARGET_AVX512 void col2im_small_plane(const T* src, std::int64_t ld_cols,
                                               const PlaneGeometry& g,
                                               const std::vector<LaneMap<T>>& maps, T* dst) {
  using S = Simd<T>;
  const std::int64_t out_w = g.out_w;
  const typename S::M in_mask = S::first(g.width), out_mask = S::first(out_w);
  for (std::int64_t u = 0; u < g.kernel_h; ++u) {
    const std::int64_t off_h = u * g.dilation_h - g.pad_top;
    const Range ri = valid_range(off_h, g.stride_h, g.height, g.out_h);
    const T* src_u = src + u * g.kernel_w * ld_cols;
    for (std::int64_t i = ri.lo; i < ri.hi; ++i) {
      typename S::V acc = S::zero();
      for (std::int64_t v = 0; v < g.kernel_w; ++v) {
        const LaneMap<T>& m = maps[static_cast<std::size_t>(v)];
        acc = S::add(acc, S::permute(m.scatter_mask, m.scatter_idx,
                                     S::load(out_mask, src_u + v * ld_cols + i * out_w)));
      }
      T* drow = dst + (i * g.stride_h + off_h) * g.width;
      S::store(drow, in_mask, S::add(S::load(in_mask, drow), acc));
    }
  }
}

template <class T>
void im2col_batch(const T* x, std::int64_t batch, std::int64_t sample_stride,
                  const PlaneGeometry& g, T* cols, std::int64_t ld_cols) {
  const std::vector<Tap> taps = tap_table(g);
  const std::int64_t n_taps = static_cast<std::int64_t>(taps.size());
  const std::int64_t out_w = g.out_w;
  const std::int64_t L = g.out_h * out_w;
  const std::int64_t plane = g.height * g.width;
  const std::int64_t sh = g.stride_h, sw = g.stride_w, width = g.width;
  const bool parallel = g.channels * n_taps * batch * L >= kParallelThreshold;

  const bool avx512 = cpu_isa() == Isa::Avx512;
  if (avx512 && small_plane<T>(g)) {
    const std::vector<LaneMap<T>> maps = lane_maps<T>(g);
#pragma omp parallel for schedule(static) if (parallel)
    for (std::int64_t p = 0; p < g.channels * batch; ++p) {
      const std::int64_t c = p / batch, n = p % batch;
      im2col_small_plane(x + n * sample_stride + c * plane, g, maps,
                         cols + c * n_taps * ld_cols + n * L, ld_cols);
    }
    return;
  }
  // One (channel, sample) plane per iteration: the plane stays in L1 while each of its
  // taps fills one contiguous segment of L columns (row c·taps + k, columns n·L...),
  // so threads write disjoint segments.
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t p = 0; p < g.channels * batch; ++p) {
    const std::int64_t c = p / batch, n = p % batch;
    const T* src = x + n * sample_stride + c * plane;
    for (std::int64_t k = 0; k < n_taps; ++k) {
      const Tap& t = taps[static_cast<std::size_t>(k)];
      T* dst = cols + (c * n_taps + k) * ld_cols + n * L;
      const std::int64_t lo = t.cols.lo, hi = t.cols.hi;
      std::fill(dst, dst + t.rows.lo * out_w, T(0));  // rows above the input
      // An empty span only zeroes the row: its source offset may lie outside the plane,
      // so no pointer is formed from it.
      for (std::int64_t i = t.rows.lo; i < t.rows.hi; ++i)
        gather_row(dst + i * out_w,
                   hi > lo ? src + ((i * sh + t.off_h) * width + lo * sw + t.off_w) : src, lo, hi,
                   out_w, sw, avx512);
      std::fill(dst + t.rows.hi * out_w, dst + L, T(0));  // rows below the input
    }
  }
}

template <class T>
void col2im_batch(const T* cols, std::int64_t ld_cols, std::int64_t batch,
                  std::int64_t sample_stride, const PlaneGeometry& g, T* x) {
  const std::vector<Tap> taps = tap_table(g);
  const std::int64_t n_taps = static_cast<std::int64_t>(taps.size());
  const std::int64_t out_w = g.out_w;
  const std::int64_t L = g.out_h * out_w;
  const std::int64_t plane = g.height * g.width;
  const std::int64_t sh = g.stride_h, sw = g.stride_w, width = g.width;
  const bool parallel = g.channels * n_taps * batch * L >= kParallelThreshold;

  // Windows overlap, so two taps may add to the same input element. Giving each thread
  // whole (sample, channel) planes, and walking the taps of a plane in order inside
  // one thread, makes the accumulation race-free without atomics.
  const bool avx512 = cpu_isa() == Isa::Avx512;
  if (avx512 && small_plane<T>(g)) {
    const std::vector<LaneMap<T>> maps = lane_maps<T>(g);
#pragma omp parallel for schedule(static) if (parallel)
    for (std::int64_t p = 0; p < g.channels * batch; ++p) {
      const std::int64_t c = p / batch, n = p % batch;
      col2im_small_plane(cols + c * n_taps * ld_cols + n * L, ld_cols, g, maps,
                         x + n * sample_stride + c * plane);
    }
    return;
  }
#pragma omp parallel for schedule(static) if (parallel)
  for (std::int64_t p = 0; p < g.channels * batch; ++p) {
    const std::int64_t c = p / batch, n = p % batch;
    T* dst = x + n * sample_stride + c * plane;
    for (std::int64_t k = 0; k < n_taps; ++k) {
      const Tap& t = taps[static_cast<std::size_t>(k)];
      const std::int64_t lo = t.cols.lo, span = t.cols.hi - lo;
      const T* src = cols + (c * n_taps + k) * ld_cols + n * L;
      if (span <= 0) continue;  // nothing to add (and the offsets may leave the plane)
      for (std::int64_t i = t.rows.lo; i < t.rows.hi; ++i)
        scatter_add_row(dst + ((i * sh + t.off_h) * width + lo * sw + t.off_w),
                        src + i * out_w + lo, span, sw, avx512);
    }
  }
}

template void im2col_batch<float>(const float*, std::int64_t, std::int64_t, const PlaneGeometry&,
                                  float*, std::int64_t);
template void im2col_batch<double>(const double*, std::int64_t, std::int64_t, const PlaneGeometry&,
                                   double*, std::int64_t);
template void col2im_batch<float>(const float*, std::int64_t, std::int64_t, std::int64_t,
                                  const PlaneGeometry&, float*);
template void col2im_batch<double>(const double*, std::int64_t, std::int64_t, std::int64_t,
                                   const PlaneGeometry&, double*);

}  // namespace detail

namespace {

[[noreturn]] void fail(const char* op, const std::string& what) {
  throw std::invalid_argument(std::string(op) + ": " + what);
}

std::string pair_str(const std::array<std::int64_t, 2>& a) { return tuple_str({a[0], a[1]}); }

// Checks the window parameters and the input shape, and returns the plane geometry
// (channels, sizes, output sizes) of one sample plus the batch size.
detail::PlaneGeometry plane_geometry(const char* op, const Shape& x, const Im2colParams& p,
                                     std::int64_t& batch) {
  if (x.size() != 3 && x.size() != 4)
    fail(op, "expected a 3D [C, H, W] or 4D [N, C, H, W] input shape, but got " + shape_str(x));
  for (int d = 0; d < 2; ++d) {
    if (p.kernel[d] < 1) fail(op, "kernel size must be positive, but got " + pair_str(p.kernel));
    if (p.stride[d] < 1) fail(op, "stride must be positive, but got " + pair_str(p.stride));
    if (p.dilation[d] < 1) fail(op, "dilation must be positive, but got " + pair_str(p.dilation));
    if (p.padding[d] < 0) fail(op, "padding must be non-negative, but got " + pair_str(p.padding));
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
Array<T> im2col(const Array<T>& input, const Im2colParams& params) {
  const Shape x(input.shape().begin(), input.shape().end());
  std::int64_t batch = 0;
  const detail::PlaneGeometry g = plane_geometry("im2col", x, params, batch);
  const std::int64_t rows = g.channels * g.kernel_h * g.kernel_w;
  const std::int64_t columns = batch * g.out_h * g.out_w;
  Array<T> cols =
      Array<T>::from_shape({static_cast<std::size_t>(rows), static_cast<std::size_t>(columns)});
  if (cols.size() > 0)
    detail::im2col_batch(input.data(), batch, g.channels * g.height * g.width, g, cols.data(),
                         columns);
  return cols;
}

template <class T>
Array<T> col2im(const Array<T>& cols, const Shape& input_shape, const Im2colParams& params) {
  std::int64_t batch = 0;
  const detail::PlaneGeometry g = plane_geometry("col2im", input_shape, params, batch);
  const std::size_t rows = static_cast<std::size_t>(g.channels * g.kernel_h * g.kernel_w);
  const std::size_t columns = static_cast<std::size_t>(batch * g.out_h * g.out_w);
  if (cols.dimension() != 2 || cols.shape()[0] != rows || cols.shape()[1] != columns)
    fail("col2im", "expected cols of size " + shape_str({rows, columns}) + " for input " +
                       shape_str(input_shape) + ", but got " +
                       shape_str(Shape(cols.shape().begin(), cols.shape().end())));
  Array<T> x = xt::zeros<T>(input_shape);
  if (cols.size() > 0)
    detail::col2im_batch(cols.data(), static_cast<std::int64_t>(columns), batch,
                         g.channels * g.height * g.width, g, x.data());
  return x;
}

template Array<float> im2col<float>(const Array<float>&, const Im2colParams&);
template Array<double> im2col<double>(const Array<double>&, const Im2colParams&);
template Array<float> col2im<float>(const Array<float>&, const Shape&, const Im2colParams&);
template Array<double> col2im<double>(const Array<double>&, const Shape&, const Im2colParams&);

}  // namespace tapegrad::kernels
