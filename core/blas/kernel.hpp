// Single-threaded, deterministic GEMM for tapegrad (float and double).
//
// Row-major C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C.
// op(A) = A (A is m x k, row stride lda) or A^T (A stored k x m, row stride lda); same for B.
//
// Determinism rule (per ISA): element C[i][j] is always computed by the same sequence of
// floating-point operations, whatever m and n are, which tile it lands in, and whether the caller
// computes C whole or as separate calls on blocks of rows or columns:
//   * K is cut into blocks of the fixed length kKc<T> (the last block may be shorter).
//   * Within a K block, acc = 0; acc = fma(a[i][p], b[p][j], acc) for increasing p.
//   * Block 0:      C = alpha * acc                 if beta == 0 (C is not read)
//                   C = fma(alpha, acc, beta * C)   otherwise (beta == 1: fma(alpha, acc, C))
//     Block b > 0:  C = fma(alpha, acc, C)
//   * k == 0:       C = beta * C (or 0 if beta == 0).
//   * Generic ISA (x86-64 baseline has no FMA): every fma(x, y, z) above is x * y + z with the
//     product and the sum rounded separately (kept so even if the build enables FMA).
// AVX2 and AVX-512 therefore give identical bits; Generic differs from them.
// See kernel.cpp for the blocking scheme. blas::gemm (gemm.hpp) is the entry point users and
// the rest of tapegrad call; it splits large products over threads and picks the ISA.
#pragma once

#include <cstdint>
#include <tapegrad/core/cpu.hpp>

namespace tapegrad::blas::detail {

// Fixed K-block length used by gemm<T> (part of the determinism contract above).
template <class T>
constexpr std::int64_t kKc = 256;

// Row-major C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C.
// beta == 0: C is not read (NaN/Inf in C do not propagate). k == 0: C = beta * C.
// alpha == 0 is not special-cased (NaN/Inf in A or B still propagate).
// `isa` must be supported by the CPU (at most tapegrad::cpu_isa()); it selects the code path.
template <class T>
void gemm(Isa isa, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
          T alpha, const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
          std::int64_t ldc);

extern template void gemm<float>(Isa, bool, bool, std::int64_t, std::int64_t, std::int64_t, float,
                                 const float*, std::int64_t, const float*, std::int64_t, float,
                                 float*, std::int64_t);
extern template void gemm<double>(Isa, bool, bool, std::int64_t, std::int64_t, std::int64_t, double,
                                  const double*, std::int64_t, const double*, std::int64_t, double,
                                  double*, std::int64_t);

}  // namespace tapegrad::blas::detail
