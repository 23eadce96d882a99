#include <doctest/doctest.h>

#include <tapegrad/core/blas.hpp>

#include <cstdlib>
#include <vector>

using namespace tapegrad;

TEST_CASE("blas: OpenBLAS runs a fast kernel, not the generic fallback") {
  // tapegrad's .preinit_array entry sets OPENBLAS_CORETYPE before OpenBLAS loads; on an
  // AVX-512 machine the generic Prescott kernel would be ~6x slower.
  MESSAGE("OpenBLAS core: " << blas::core_name() << ", threads: " << blas::num_threads());
  CHECK_FALSE(blas::using_slow_fallback());
}

TEST_CASE("blas: gemm with transposes against a hand computation") {
  // A = [[1,2,3],[4,5,6]] (2x3), B = [[1,0],[0,1],[1,1]] (3x2): A·B = [[4,5],[10,11]].
  const std::vector<double> a = {1, 2, 3, 4, 5, 6}, b = {1, 0, 0, 1, 1, 1};
  std::vector<double> c(4, 100.0);
  blas::gemm<double>(false, false, 2, 2, 3, 1.0, a.data(), 3, b.data(), 2, 0.0, c.data(), 2);
  CHECK(c == std::vector<double>{4, 5, 10, 11});
  // Aᵀ stored as 3x2 gives the same product through trans_a.
  const std::vector<float> at = {1, 4, 2, 5, 3, 6}, bf = {1, 0, 0, 1, 1, 1};
  std::vector<float> cf(4, 1.0f);
  blas::gemm<float>(true, false, 2, 2, 3, 2.0f, at.data(), 2, bf.data(), 2, 1.0f, cf.data(), 2);
  CHECK(cf == std::vector<float>{9, 11, 21, 23});
}

TEST_CASE("blas: the thread and kernel settings reach the program's environment") {
  // Set by the .preinit_array entry (core/blas.cpp) through one re-exec, unless the
  // user set them; either way they must be there when OpenBLAS and libgomp load.
  CHECK(std::getenv("OMP_WAIT_POLICY") != nullptr);
  CHECK(std::getenv("OPENBLAS_THREAD_TIMEOUT") != nullptr);
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr) {
    __builtin_cpu_init();
    CHECK_FALSE(__builtin_cpu_supports("avx512f"));  // only left unset without AVX-512
  }
}
