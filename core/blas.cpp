#include <tapegrad/core/blas.hpp>

#include <cblas.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <unistd.h>

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

// Three environment variables must be in place before OpenBLAS and libgomp load,
// because each library reads them once, in its own constructor:
//  - OPENBLAS_CORETYPE: OpenBLAS 0.3.21's CPU table misses recent Xeons and falls
//    back to the generic Prescott kernel (sgemm ~6x slower); we name the kernel
//    from the CPU's AVX-512 features.
//  - OMP_WAIT_POLICY=passive and OPENBLAS_THREAD_TIMEOUT=4: tapegrad's OpenMP loops
//    (im2col, col2im, element-wise kernels) alternate with OpenBLAS's pthreads, and
//    by default both keep idle threads spinning, so each steals the other's cores
//    (the MNIST example on 2 cores: 2.7-5.7 s per epoch spinning, 0.7 s passive).
// The executable's .preinit_array runs before any shared library's constructor, but
// glibc has not set up `environ` yet (setenv there is lost when libc initialises).
// So this entry reads the environment it is handed and, if one of the variables is
// missing, re-executes the program once with them added. Values the user set are
// kept; TAPEGRAD_NO_REEXEC=1 turns the mechanism off. No allocation happens here:
// the C++ runtime is not initialised yet.
namespace {

bool env_has(char** envp, const char* name) {
  const std::size_t n = std::strlen(name);
  for (char** e = envp; e != nullptr && *e != nullptr; ++e)
    if (std::strncmp(*e, name, n) == 0 && (*e)[n] == '=') return true;
  return false;
}

}  // namespace

extern "C" void tapegrad_openblas_preinit(int, char** argv, char** envp) {
  if (env_has(envp, "TAPEGRAD_NO_REEXEC") || env_has(envp, "TAPEGRAD_REEXECUTED")) return;
  static char omp[] = "OMP_WAIT_POLICY=passive";
  static char timeout[] = "OPENBLAS_THREAD_TIMEOUT=4";
  static char skylakex[] = "OPENBLAS_CORETYPE=SkylakeX";
  static char cooperlake[] = "OPENBLAS_CORETYPE=Cooperlake";
  static char marker[] = "TAPEGRAD_REEXECUTED=1";  // guards against any exec loop
  char* add[4];
  int k = 0;
  if (!env_has(envp, "OMP_WAIT_POLICY")) add[k++] = omp;
  if (!env_has(envp, "OPENBLAS_THREAD_TIMEOUT")) add[k++] = timeout;
  if (!env_has(envp, "OPENBLAS_CORETYPE")) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512bf16"))
      add[k++] = cooperlake;
    else if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
      add[k++] = skylakex;
  }
  if (k == 0) return;
  add[k++] = marker;
  constexpr std::size_t kMaxEnv = 8192;
  static char* env[kMaxEnv];
  std::size_t n = 0;
  while (envp != nullptr && envp[n] != nullptr) ++n;
  if (n + static_cast<std::size_t>(k) + 1 > kMaxEnv) return;
  for (std::size_t i = 0; i < n; ++i) env[i] = envp[i];
  for (int i = 0; i < k; ++i) env[n + static_cast<std::size_t>(i)] = add[i];
  env[n + static_cast<std::size_t>(k)] = nullptr;
  // Exec the resolved path, not /proc/self/exe itself, so the process keeps its name
  // in ps, top and perf.
  static char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) return;
  self[len] = '\0';
  execve(self, argv, env);
  // Only reached if exec failed (e.g. no /proc): run on with the libraries' defaults;
  // warn_if_slow_kernel() still reports a slow kernel on the first GEMM.
}
__attribute__((section(".preinit_array"), used)) static void (*tapegrad_preinit_entry)(
    int, char**, char**) = tapegrad_openblas_preinit;
