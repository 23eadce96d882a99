#pragma once
// The matrix product every op and kernel of tapegrad calls. On CPUs with AVX2 or AVX-512
// it runs tapegrad's own kernels (kernel.hpp): chosen at run time, as fast as OpenBLAS's
// best on this library's shapes, and deterministic by construction (an element's sum
// never depends on how C is split, so results do not depend on the thread count). On
// older CPUs it calls OpenBLAS. Either way the process's OpenBLAS setup (its kernel
// choice, its threads) is left as the user has it.
#include <cstdint>
#include <string>

namespace tapegrad::blas {

/// Row-major C = alpha * op(A) * op(B) + beta * C, where op(A) is [m, k] and
/// op(B) is [k, n]; lda/ldb/ldc are the row strides of A, B and C as stored.
/// Called outside an OpenMP parallel region, a large product is split into column
/// (or row) blocks over the OpenMP threads, each a single-threaded kernel call; called
/// inside one, it runs single-threaded on the calling thread.
template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
          const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
          std::int64_t ldc);

/// The kernel gemm runs now: "tapegrad avx512", "tapegrad avx2", or "openblas <core>" on
/// CPUs without AVX2 (or with set_max_isa(Isa::Generic)).
std::string backend();

/// Name of the OpenBLAS kernel in the process (e.g. "SkylakeX", "Cooperlake", "Prescott").
std::string core_name();

/// Number of threads OpenBLAS uses; set_num_threads changes it for later calls.
/// tapegrad's own GEMMs do not use OpenBLAS's threads (see SerialScope); these
/// concern other OpenBLAS users in the same process.
int num_threads();
void set_num_threads(int n);

/// While alive, OpenBLAS runs single-threaded; the previous count is restored on
/// destruction. tapegrad holds one around its parallel regions so that OpenBLAS's
/// pthread pool, when it is used, never competes with the OpenMP threads for the cores.
/// Inside an OpenMP parallel region it does nothing (the count is global; the code that
/// opened the region owns it).
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
