#pragma once
// Thin, typed wrappers over CBLAS (OpenBLAS), plus the checks that keep
// OpenBLAS on its fast kernel. Every GEMM in tapegrad goes through here so
// there is one place to reason about threading and kernel selection.
#include <cstdint>
#include <string>

namespace tapegrad::blas {

/// Row-major C = alpha * op(A) * op(B) + beta * C, where op(A) is [m, k] and
/// op(B) is [k, n]; lda/ldb/ldc are the row strides of A, B and C as stored.
template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
          const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
          std::int64_t ldc);

/// Name of the OpenBLAS kernel in use (e.g. "SkylakeX", "Cooperlake", "Prescott").
std::string core_name();

/// True when OpenBLAS runs its generic fallback kernel on a CPU that has AVX-512.
bool using_slow_fallback();

/// Prints a one-time warning to stderr (naming the fix) when using_slow_fallback().
/// Called by the library on its first GEMM; callable by users.
void warn_if_slow_kernel();

/// Number of threads OpenBLAS uses; set_num_threads changes it for later calls.
int num_threads();
void set_num_threads(int n);

}  // namespace tapegrad::blas
