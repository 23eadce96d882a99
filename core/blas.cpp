#include <tapegrad/core/blas.hpp>

#include <cblas.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

extern "C" char* openblas_get_corename(void);
extern "C" void openblas_set_num_threads(int);
extern "C" int openblas_get_num_threads(void);

namespace tapegrad::blas {
namespace {

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }

void check_dims(std::int64_t m, std::int64_t n, std::int64_t k) {
  // CBLAS takes 32-bit ints; a silent wrap-around would be a wrong answer.
  constexpr std::int64_t lim = 2147483647;
  if (m > lim || n > lim || k > lim)
    throw std::invalid_argument("blas::gemm: dimensions exceed the 32-bit BLAS interface (m=" +
                                std::to_string(m) + ", n=" + std::to_string(n) +
                                ", k=" + std::to_string(k) + ")");
}

}  // namespace

template <>
void gemm<float>(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                 const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta,
                 float* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  warn_if_slow_kernel();
  check_dims(m, n, k);
  cblas_sgemm(CblasRowMajor, tr(ta), tr(tb), int(m), int(n), int(k), alpha, a, int(lda), b,
              int(ldb), beta, c, int(ldc));
}

template <>
void gemm<double>(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                  const double* a, std::int64_t lda, const double* b, std::int64_t ldb,
                  double beta, double* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  warn_if_slow_kernel();
  check_dims(m, n, k);
  cblas_dgemm(CblasRowMajor, tr(ta), tr(tb), int(m), int(n), int(k), alpha, a, int(lda), b,
              int(ldb), beta, c, int(ldc));
}

std::string core_name() {
  const char* name = openblas_get_corename();
  return name ? name : "unknown";
}

bool using_slow_fallback() {
  const std::string name = core_name();
  return cpu_has_avx512() && (name == "Prescott" || name == "prescott" || name == "Core2" ||
                              name == "Nehalem" || name == "Sandybridge");
}

void warn_if_slow_kernel() {
  static std::atomic<bool> warned{false};
  if (warned.exchange(true)) return;
  if (using_slow_fallback())
    std::fprintf(stderr,
                 "tapegrad: warning: OpenBLAS is using its generic '%s' kernel on an AVX-512 CPU "
                 "(about 6x slower GEMM). Set OPENBLAS_CORETYPE=SkylakeX in the environment "
                 "before starting the program.\n",
                 core_name().c_str());
}

int num_threads() { return openblas_get_num_threads(); }
void set_num_threads(int n) { openblas_set_num_threads(n); }

}  // namespace tapegrad::blas

// OpenBLAS picks its kernel in its own constructor, from OPENBLAS_CORETYPE, before
// any constructor of ours could run; its CPU table (0.3.21) misses recent Xeons and
// falls back to the generic Prescott kernel. The executable's .preinit_array runs
// before every shared library's constructor, so an entry here selects the right
// kernel for any program linked with tapegrad. A value the user set is kept.
//
// The same entry tames thread spinning: tapegrad's OpenMP loops (im2col, col2im,
// element-wise kernels) alternate with OpenBLAS's own pthreads. By default both keep
// their idle threads spinning (libgomp for ~300k iterations, OpenBLAS for 2^28
// cycles), so on a small machine each steals the other's cores; measured on the
// autoencoder's six conv layers on 2 cores: 60-150 ms per iteration with spinning,
// 6.2 ms with passive waiting. Both variables are read when those libraries load,
// hence here; values the user set are kept.
extern "C" void tapegrad_openblas_preinit(int, char**, char**) {
  setenv("OMP_WAIT_POLICY", "passive", 0);
  setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0);
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512bf16"))
    setenv("OPENBLAS_CORETYPE", "Cooperlake", 0);
  else if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
}
__attribute__((section(".preinit_array"), used)) static void (*tapegrad_preinit_entry)(
    int, char**, char**) = tapegrad_openblas_preinit;
