#pragma once
// Thin, typed wrappers over CBLAS (OpenBLAS), plus the checks that keep
// OpenBLAS on its fast kernel. Every GEMM in tapegrad goes through here so
// there is one place to reason about threading and kernel selection.
#include <cstdint>
#include <string>

namespace tapegrad::blas {

/// Row-major C = alpha * op(A) * op(B) + beta * C, where op(A) is [m, k] and
/// op(B) is [k, n]; lda/ldb/ldc are the row strides of A, B and C as stored.
/// Called outside an OpenMP parallel region, a large product is split into column
/// (or row) blocks over the OpenMP threads, each a single-threaded OpenBLAS call;
/// called inside one, it runs single-threaded on the calling thread.
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
/// tapegrad's own GEMMs do not use OpenBLAS's threads (see SerialScope); these
/// concern other OpenBLAS users in the same process.
int num_threads();
void set_num_threads(int n);

/// While alive, OpenBLAS runs single-threaded; the previous count is restored on
/// destruction. tapegrad holds one around its parallel regions so that OpenBLAS's
/// pthread pool never competes with the OpenMP threads for the cores: one pool of
/// threads does all the parallel work. Inside an OpenMP parallel region it does nothing
/// (the count is global; the code that opened the region owns it).
class SerialScope {
 public:
  SerialScope();
  ~SerialScope();
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;

 private:
  int previous_;
};

}  // namespace tapegrad::blas
