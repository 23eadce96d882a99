#pragma once
// Internal: the SIMD traits of tapegrad's GEMM kernels (core/blas/kernel.cpp), one struct
// per (instruction set, element type), each function compiled for its instruction set with
// __attribute__((target)) rather than -march flags. Included only by kernel.cpp.

#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 warns about _mm512_undefined_ps() inside its own AVX-512 intrinsics (false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <new>
#include <tapegrad/core/cpu.hpp>
#include <utility>

#define TG_TARGET_AVX512 TAPEGRAD_TARGET_AVX512
#define TG_TARGET_AVX2 TAPEGRAD_TARGET_AVX2
#define TG_INLINE inline __attribute__((always_inline))
// Unrolling of the micro-kernel's K loop: 2 with GCC; none with clang, whose scheduler would hoist
// the next step's 12 broadcasts above the FMAs and spill accumulators.
#if defined(__clang__)
#define TG_UNROLL_K _Pragma("GCC unroll 1")
#else
#define TG_UNROLL_K _Pragma("GCC unroll 2")
#endif

namespace tapegrad::blas::detail {
namespace {

// Per-thread, 64-byte aligned scratch buffers that only grow (slot 0: packed A, 1: packed B).
template <class T>
T* scratch(int slot, std::size_t count) {
  struct Buffer {
    T* ptr = nullptr;
    std::size_t count = 0;
    ~Buffer() { ::operator delete(ptr, std::align_val_t(64)); }
  };
  thread_local Buffer buffers[2];
  Buffer& buf = buffers[slot];
  if (buf.count < count) {
    ::operator delete(buf.ptr, std::align_val_t(64));
    buf.ptr = static_cast<T*>(::operator new(count * sizeof(T), std::align_val_t(64)));
    buf.count = count;
  }
  return buf.ptr;
}

constexpr std::int64_t round_up(std::int64_t x, std::int64_t to) { return (x + to - 1) / to * to; }

}  // namespace

// ------------------------------------------------------------------------------------------------
// SIMD traits, one struct per (ISA, type). Each provides:
//   W (lanes), MR, NV (vectors per kernel row, NR = NV * W), MC, NC,
//   zero/load/loadm (masked, zero fill)/store/storem/set1/mask(n lanes),
//   madd(a, b, c) = a * b + c (fused on AVX2/AVX-512), mul, transpose(W x W block in place).
// ------------------------------------------------------------------------------------------------

namespace avx512 {

template <class T>
struct Simd;

template <>
struct Simd<float> {
  using T = float;
  using V = __m512;
  using M = __mmask16;
  static constexpr int W = 16;
  static constexpr int MR = 12;  // 12 x 32 tile: 24 accumulators + 2 B vectors + broadcast
  static constexpr int NV = 2;
  static constexpr int NR = NV * W;
  static constexpr std::int64_t MC = 192;   // A block 192 x 256 x 4 B = 192 KiB (L2: 1 MiB)
  static constexpr std::int64_t NC = 4096;  // B panel 256 x 4096 x 4 B = 4 MiB (L3)

  TG_TARGET_AVX512 TG_INLINE static V zero() { return _mm512_setzero_ps(); }
  TG_TARGET_AVX512 TG_INLINE static V load(const T* p) { return _mm512_loadu_ps(p); }
  TG_TARGET_AVX512 TG_INLINE static V loadm(const T* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  TG_TARGET_AVX512 TG_INLINE static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
  TG_TARGET_AVX512 TG_INLINE static void storem(T* p, V v, M m) { _mm512_mask_storeu_ps(p, m, v); }
  TG_TARGET_AVX512 TG_INLINE static V set1(T x) { return _mm512_set1_ps(x); }
  TG_TARGET_AVX512 TG_INLINE static V madd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  TG_TARGET_AVX512 TG_INLINE static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  TG_TARGET_AVX512 TG_INLINE static M mask(int n) { return static_cast<M>((1u << n) - 1u); }

  // In-place 16x16 transpose: r[i][j] -> r[j][i].
  TG_TARGET_AVX512 TG_INLINE static void transpose(V r[16]) {
    // Within each 128-bit lane, transpose 4x4 blocks of rows 4g..4g+3: afterwards s[4g + j]
    // holds, in lane L, column 4L + j of rows 4g..4g+3.
    __m512 s[16];
#pragma GCC unroll 16
    for (int g = 0; g < 4; ++g) {
      const __m512 t0 = _mm512_unpacklo_ps(r[4 * g], r[4 * g + 1]);
      const __m512 t1 = _mm512_unpackhi_ps(r[4 * g], r[4 * g + 1]);
      const __m512 t2 = _mm512_unpacklo_ps(r[4 * g + 2], r[4 * g + 3]);
      const __m512 t3 = _mm512_unpackhi_ps(r[4 * g + 2], r[4 * g + 3]);
      s[4 * g + 0] =
          _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
      s[4 * g + 1] =
          _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
      s[4 * g + 2] =
          _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
      s[4 * g + 3] =
          _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
    }
#pragma GCC unroll 16
    // Gather lane L of s[j], s[4+j], s[8+j], s[12+j] into column 4L + j.
    for (int j = 0; j < 4; ++j) {
      const __m512 x0 = _mm512_shuffle_f32x4(s[j], s[4 + j], 0x88);  // lanes 0,2 | 0,2
      const __m512 y0 = _mm512_shuffle_f32x4(s[j], s[4 + j], 0xDD);  // lanes 1,3 | 1,3
      const __m512 x1 = _mm512_shuffle_f32x4(s[8 + j], s[12 + j], 0x88);
      const __m512 y1 = _mm512_shuffle_f32x4(s[8 + j], s[12 + j], 0xDD);
      r[0 + j] = _mm512_shuffle_f32x4(x0, x1, 0x88);
      r[4 + j] = _mm512_shuffle_f32x4(y0, y1, 0x88);
      r[8 + j] = _mm512_shuffle_f32x4(x0, x1, 0xDD);
      r[12 + j] = _mm512_shuffle_f32x4(y0, y1, 0xDD);
    }
  }
};

template <>
struct Simd<double> {
  using T = double;
  using V = __m512d;
  using M = __mmask8;
  static constexpr int W = 8;
  static constexpr int MR = 12;  // 12 x 16 tile: 24 accumulators
  static constexpr int NV = 2;
  static constexpr int NR = NV * W;
  static constexpr std::int64_t MC = 192;   // A block 192 x 256 x 8 B = 384 KiB
  static constexpr std::int64_t NC = 2048;  // B panel 256 x 2048 x 8 B = 4 MiB

  TG_TARGET_AVX512 TG_INLINE static V zero() { return _mm512_setzero_pd(); }
  TG_TARGET_AVX512 TG_INLINE static V load(const T* p) { return _mm512_loadu_pd(p); }
  TG_TARGET_AVX512 TG_INLINE static V loadm(const T* p, M m) { return _mm512_maskz_loadu_pd(m, p); }
  TG_TARGET_AVX512 TG_INLINE static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
  TG_TARGET_AVX512 TG_INLINE static void storem(T* p, V v, M m) { _mm512_mask_storeu_pd(p, m, v); }
  TG_TARGET_AVX512 TG_INLINE static V set1(T x) { return _mm512_set1_pd(x); }
  TG_TARGET_AVX512 TG_INLINE static V madd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  TG_TARGET_AVX512 TG_INLINE static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  TG_TARGET_AVX512 TG_INLINE static M mask(int n) { return static_cast<M>((1u << n) - 1u); }

  // In-place 8x8 transpose.
  TG_TARGET_AVX512 TG_INLINE static void transpose(V r[8]) {
    // t[2i + j] holds, in 128-bit lane L, column 2L + j of rows 2i, 2i+1.
    __m512d t[8];
#pragma GCC unroll 16
    for (int i = 0; i < 4; ++i) {
      t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 16
    for (int j = 0; j < 2; ++j) {
      const __m512d x0 = _mm512_shuffle_f64x2(t[j], t[2 + j], 0x88);
      const __m512d y0 = _mm512_shuffle_f64x2(t[j], t[2 + j], 0xDD);
      const __m512d x1 = _mm512_shuffle_f64x2(t[4 + j], t[6 + j], 0x88);
      const __m512d y1 = _mm512_shuffle_f64x2(t[4 + j], t[6 + j], 0xDD);
      r[0 + j] = _mm512_shuffle_f64x2(x0, x1, 0x88);
      r[2 + j] = _mm512_shuffle_f64x2(y0, y1, 0x88);
      r[4 + j] = _mm512_shuffle_f64x2(x0, x1, 0xDD);
      r[6 + j] = _mm512_shuffle_f64x2(y0, y1, 0xDD);
    }
  }
};

}  // namespace avx512

namespace avx2 {

template <class T>
struct Simd;

template <>
struct Simd<float> {
  using T = float;
  using V = __m256;
  using M = __m256i;
  static constexpr int W = 8;
  static constexpr int MR = 6;  // 6 x 16 tile: 12 accumulators + 2 B vectors + broadcast
  static constexpr int NV = 2;
  static constexpr int NR = NV * W;
  static constexpr std::int64_t MC = 192;
  static constexpr std::int64_t NC = 4096;

  TG_TARGET_AVX2 TG_INLINE static V zero() { return _mm256_setzero_ps(); }
  TG_TARGET_AVX2 TG_INLINE static V load(const T* p) { return _mm256_loadu_ps(p); }
  TG_TARGET_AVX2 TG_INLINE static V loadm(const T* p, M m) { return _mm256_maskload_ps(p, m); }
  TG_TARGET_AVX2 TG_INLINE static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
  TG_TARGET_AVX2 TG_INLINE static void storem(T* p, V v, M m) { _mm256_maskstore_ps(p, m, v); }
  TG_TARGET_AVX2 TG_INLINE static V set1(T x) { return _mm256_set1_ps(x); }
  TG_TARGET_AVX2 TG_INLINE static V madd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  TG_TARGET_AVX2 TG_INLINE static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  TG_TARGET_AVX2 TG_INLINE static M mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }

  // In-place 8x8 transpose.
  TG_TARGET_AVX2 TG_INLINE static void transpose(V r[8]) {
    __m256 s[8];  // s[4g + j], lane L: column 4L + j of rows 4g..4g+3
#pragma GCC unroll 16
    for (int g = 0; g < 2; ++g) {
      const __m256 t0 = _mm256_unpacklo_ps(r[4 * g], r[4 * g + 1]);
      const __m256 t1 = _mm256_unpackhi_ps(r[4 * g], r[4 * g + 1]);
      const __m256 t2 = _mm256_unpacklo_ps(r[4 * g + 2], r[4 * g + 3]);
      const __m256 t3 = _mm256_unpackhi_ps(r[4 * g + 2], r[4 * g + 3]);
      s[4 * g + 0] =
          _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
      s[4 * g + 1] =
          _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
      s[4 * g + 2] =
          _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
      s[4 * g + 3] =
          _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
    }
#pragma GCC unroll 16
    for (int j = 0; j < 4; ++j) {
      r[j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x20);
      r[4 + j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x31);
    }
  }
};

template <>
struct Simd<double> {
  using T = double;
  using V = __m256d;
  using M = __m256i;
  static constexpr int W = 4;
  static constexpr int MR = 6;  // 6 x 8 tile
  static constexpr int NV = 2;
  static constexpr int NR = NV * W;
  static constexpr std::int64_t MC = 96;
  static constexpr std::int64_t NC = 2048;

  TG_TARGET_AVX2 TG_INLINE static V zero() { return _mm256_setzero_pd(); }
  TG_TARGET_AVX2 TG_INLINE static V load(const T* p) { return _mm256_loadu_pd(p); }
  TG_TARGET_AVX2 TG_INLINE static V loadm(const T* p, M m) { return _mm256_maskload_pd(p, m); }
  TG_TARGET_AVX2 TG_INLINE static void store(T* p, V v) { _mm256_storeu_pd(p, v); }
  TG_TARGET_AVX2 TG_INLINE static void storem(T* p, V v, M m) { _mm256_maskstore_pd(p, m, v); }
  TG_TARGET_AVX2 TG_INLINE static V set1(T x) { return _mm256_set1_pd(x); }
  TG_TARGET_AVX2 TG_INLINE static V madd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  TG_TARGET_AVX2 TG_INLINE static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  TG_TARGET_AVX2 TG_INLINE static M mask(int n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }

  // In-place 4x4 transpose.
  TG_TARGET_AVX2 TG_INLINE static void transpose(V r[4]) {
    const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]);  // lane L: column 2L of rows 0,1
    const __m256d t1 = _mm256_unpackhi_pd(r[0], r[1]);  // lane L: column 2L+1 of rows 0,1
    const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]);
    const __m256d t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
  }
};

}  // namespace avx2

namespace generic {

// 16-byte GNU vector types (the attribute cannot be applied to a dependent type).
template <class T>
struct Vec16;
template <>
struct Vec16<float> {
  typedef float type __attribute__((vector_size(16)));
};
template <>
struct Vec16<double> {
  typedef double type __attribute__((vector_size(16)));
};

// Portable fallback on GNU vector extensions (SSE2 at the x86-64 baseline).
template <class T>
struct Simd {
  static constexpr int W = 16 / sizeof(T);
  using V = typename Vec16<T>::type;
  using M = int;  // number of active lanes
  static constexpr int MR = 4;
  static constexpr int NV = 2;
  static constexpr int NR = NV * W;
  static constexpr std::int64_t MC = 128;
  static constexpr std::int64_t NC = 2048;

  static V zero() { return V{}; }
  static V load(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
  }
  static V loadm(const T* p, M m) {
    V v{};
    std::memcpy(&v, p, sizeof(T) * m);
    return v;
  }
  static void store(T* p, V v) { std::memcpy(p, &v, sizeof(V)); }
  static void storem(T* p, V v, M m) { std::memcpy(p, &v, sizeof(T) * m); }
  static V set1(T x) {  // not V{} + x, which would turn -0.0 into +0.0
    if constexpr (W == 4)
      return V{x, x, x, x};
    else
      return V{x, x};
  }
  // Products are rounded on their own. If the build enables FMA globally (-march=...), the
  // empty asm hides each product from the compiler, which would otherwise contract a * b + c
  // into an FMA (in some kernels and not others), changing the Generic path's rounding.
  static V mul(V a, V b) {
    V prod = a * b;
#if defined(__FMA__) || defined(__FMA4__)
    __asm__("" : "+x"(prod));
#endif
    return prod;
  }
  static V madd(V a, V b, V c) { return mul(a, b) + c; }
  static M mask(int n) { return n; }
  static void transpose(V r[W]) {
    V t[W];
#pragma GCC unroll 16
    for (int i = 0; i < W; ++i)
#pragma GCC unroll 16
      for (int j = 0; j < W; ++j) t[j][i] = r[i][j];
#pragma GCC unroll 16
    for (int i = 0; i < W; ++i) r[i] = t[i];
  }
};

}  // namespace generic
}  // namespace tapegrad::blas::detail

// Instantiate the algorithm once per ISA.
