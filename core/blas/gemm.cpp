#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <tapegrad/core/blas/gemm.hpp>
#include <tapegrad/core/blas/kernel.hpp>
#include <tapegrad/core/cpu.hpp>

extern "C" char* openblas_get_corename(void);
extern "C" void openblas_set_num_threads(int);
extern "C" int openblas_get_num_threads(void);

namespace tapegrad::blas {
namespace {

CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }

void check_dims(std::int64_t m, std::int64_t n, std::int64_t k) {
  // CBLAS takes 32-bit ints; a silent wrap-around would be a wrong answer.
  constexpr std::int64_t lim = 2147483647;
  if (m > lim || n > lim || k > lim)
    throw std::invalid_argument(
        "blas::gemm: dimensions exceed the 32-bit BLAS interface (m=" + std::to_string(m) +
        ", n=" + std::to_string(n) + ", k=" + std::to_string(k) + ")");
}

// OpenBLAS's CBLAS entry points, by element type (for CPUs without AVX2).
void raw_gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
              const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta,
              float* c, std::int64_t ldc) {
  cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), int(m), int(n), int(k), alpha, a, int(lda), b,
              int(ldb), beta, c, int(ldc));
}
void raw_gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
              const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
              double* c, std::int64_t ldc) {
  cblas_dgemm(CblasRowMajor, tr(ta), tr(tb), int(m), int(n), int(k), alpha, a, int(lda), b,
              int(ldb), beta, c, int(ldc));
}

// One single-threaded product: tapegrad's kernel for the CPU's instruction set, or
// OpenBLAS below AVX2.
template <class T>
void kernel(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
            std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  const Isa isa = cpu_isa();
  if (isa != Isa::Generic) {
    detail::gemm<T>(isa, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  check_dims(m, n, k);
  raw_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Blocks of a split product keep at least this many multiply-adds (~10 us): less does
// not pay for waking the team (~1-2 us). tapegrad's kernels sum each element of C the
// same way whatever the split; OpenBLAS 0.3.21 (the pre-AVX2 fallback) also does as long
// as every block stays above its small-matrix threshold, which is this same 10^6.
constexpr double kSmallKernelMacs = 1e6;

// Start of block t of `count` near-equal blocks of [0, size), aligned to 16 elements
// (one 64-byte cache line of floats) so that no two threads write the same line of C.
std::int64_t block_start(std::int64_t size, int t, int count) {
  if (t >= count) return size;
  const std::int64_t start = size * t / count;
  return t == 0 ? 0 : std::min(size, (start + 8) / 16 * 16);
}

template <class T>
void gemm_impl(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
               const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
               std::int64_t ldc) {
  if (m < 0 || n < 0 || k < 0)
    throw std::invalid_argument(
        "blas::gemm: dimensions must be non-negative (m=" + std::to_string(m) +
        ", n=" + std::to_string(n) + ", k=" + std::to_string(k) + ")");
  if (m == 0 || n == 0) return;
  if (omp_in_parallel()) {  // the caller holds a SerialScope and owns the threads
    kernel(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  SerialScope serial;
  const std::int64_t side = std::max(m, n);  // the side of C that is split
  const double macs_per_line = double(std::min(m, n)) * double(k);
  int threads = static_cast<int>(std::min<double>(
      omp_get_max_threads(), std::floor(double(side) * macs_per_line / kSmallKernelMacs)));
  auto smallest_block = [&](int count) {
    std::int64_t least = side;
    for (int t = 0; t < count; ++t)
      least = std::min(least, block_start(side, t + 1, count) - block_start(side, t, count));
    return least;
  };
  while (threads > 1 && double(smallest_block(threads)) * macs_per_line <= kSmallKernelMacs)
    --threads;
  if (threads <= 1) {
    kernel(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // Split the longer side of C: every block is an independent GEMM over all of k.
  const bool split_columns = n >= m;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    if (split_columns) {
      const std::int64_t j0 = block_start(n, t, nt), j1 = block_start(n, t + 1, nt);
      if (j1 > j0)
        kernel(ta, tb, m, j1 - j0, k, alpha, a, lda, tb ? b + j0 * ldb : b + j0, ldb, beta, c + j0,
               ldc);
    } else {
      const std::int64_t i0 = block_start(m, t, nt), i1 = block_start(m, t + 1, nt);
      if (i1 > i0)
        kernel(ta, tb, i1 - i0, n, k, alpha, ta ? a + i0 : a + i0 * lda, lda, b, ldb, beta,
               c + i0 * ldc, ldc);
    }
  }
}

}  // namespace

// Inside a parallel region the setting is the enclosing code's business (several
// threads changing the global count at once would race), so the scope does nothing.
SerialScope::SerialScope() : previous_(omp_in_parallel() ? 1 : openblas_get_num_threads()) {
  if (previous_ != 1) openblas_set_num_threads(1);
}

SerialScope::~SerialScope() {
  if (previous_ != 1) openblas_set_num_threads(previous_);
}

template <>
void gemm<float>(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                 const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta,
                 float* c, std::int64_t ldc) {
  gemm_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template <>
void gemm<double>(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                  const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
                  double* c, std::int64_t ldc) {
  gemm_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

std::string core_name() {
  const char* name = openblas_get_corename();
  return name ? name : "unknown";
}

std::string backend() {
  const Isa isa = cpu_isa();
  if (isa != Isa::Generic) return std::string("tapegrad ") + isa_name(isa);
  return "openblas " + core_name();
}

int num_threads() { return openblas_get_num_threads(); }
void set_num_threads(int n) { openblas_set_num_threads(n); }

}  // namespace tapegrad::blas
