#include <doctest/doctest.h>
#include <omp.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <tapegrad/core/blas/gemm.hpp>
#include <tapegrad/core/cpu.hpp>
#include <vector>

using namespace tapegrad;

TEST_CASE("blas: gemm runs tapegrad's kernel for the CPU, whatever kernel OpenBLAS chose") {
  // On a CPU that Debian's OpenBLAS 0.3.21 does not recognise, OpenBLAS runs its generic
  // kernel (~6x slower); tapegrad does not depend on that choice. ctest also runs this file
  // with OPENBLAS_CORETYPE=Prescott to simulate such a CPU (blas_with_generic_openblas).
  const Isa isa = cpu_isa();
  MESSAGE("gemm backend: " << blas::backend() << "; OpenBLAS kernel in the process: "
                           << blas::core_name() << ", OpenBLAS threads: " << blas::num_threads());
  if (isa != Isa::Generic) CHECK(blas::backend() == std::string("tapegrad ") + isa_name(isa));
  // With the instruction set capped below AVX2, OpenBLAS is the fallback.
  set_max_isa(Isa::Generic);
  CHECK(blas::backend().rfind("openblas ", 0) == 0);
  std::vector<float> a{1, 2, 3, 4}, b{1, 0, 0, 1}, c(4);
  blas::gemm<float>(false, false, 2, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2);
  set_max_isa(Isa::Avx512);
  CHECK(c == a);
}

TEST_CASE("blas: the result of a product does not depend on the instruction set used (FMA paths)") {
  // AVX2 and AVX-512 perform the same documented operations, so a model trained on one
  // machine gives the same bits on another with either.
  if (cpu_isa() != Isa::Avx512) return;
  std::vector<double> a(37 * 301), b(301 * 29), c1(37 * 29), c2(37 * 29);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::sin(0.3 * double(i));
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = std::cos(0.7 * double(i));
  blas::gemm<double>(false, false, 37, 29, 301, 1.0, a.data(), 301, b.data(), 29, 0.0, c1.data(),
                     29);
  set_max_isa(Isa::Avx2);
  blas::gemm<double>(false, false, 37, 29, 301, 1.0, a.data(), 301, b.data(), 29, 0.0, c2.data(),
                     29);
  set_max_isa(Isa::Avx512);
  CHECK(c1 == c2);
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

namespace {

// C = op(A)·op(B) + 0.5·C0 by the definition, in long double.
std::vector<double> reference_gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k,
                                   const std::vector<double>& a, std::int64_t lda,
                                   const std::vector<double>& b, std::int64_t ldb,
                                   std::vector<double> c, std::int64_t ldc) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      long double acc = 0;
      for (std::int64_t p = 0; p < k; ++p)
        acc += static_cast<long double>(ta ? a[p * lda + i] : a[i * lda + p]) *
               (tb ? b[j * ldb + p] : b[p * ldb + j]);
      c[i * ldc + j] = static_cast<double>(acc + 0.5L * c[i * ldc + j]);
    }
  return c;
}

}  // namespace

TEST_CASE("blas: products split over the OpenMP threads match the definition") {
  // Large enough to be split into blocks; odd sizes so the blocks are uneven, padded
  // leading dimensions so a block offset that ignored them would read the wrong rows.
  const int saved = omp_get_max_threads();
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    for (const auto& mnk :
         {std::array<std::int64_t, 3>{37, 301, 129}, std::array<std::int64_t, 3>{301, 37, 129}}) {
      const std::int64_t m = mnk[0], n = mnk[1], k = mnk[2];  // not bindings: CAPTURE takes them
      for (bool ta : {false, true})
        for (bool tb : {false, true}) {
          const std::int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 7;
          std::vector<double> a(static_cast<std::size_t>((ta ? k : m) * lda));
          std::vector<double> b(static_cast<std::size_t>((tb ? n : k) * ldb));
          std::vector<double> c(static_cast<std::size_t>(m * ldc));
          for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::sin(0.37 * double(i));
          for (std::size_t i = 0; i < b.size(); ++i) b[i] = std::cos(0.11 * double(i));
          for (std::size_t i = 0; i < c.size(); ++i) c[i] = double(i % 13);
          const auto want = reference_gemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
          blas::gemm<double>(ta, tb, m, n, k, 1.0, a.data(), lda, b.data(), ldb, 0.5, c.data(),
                             ldc);
          double worst = 0;
          for (std::size_t i = 0; i < c.size(); ++i) {
            const bool padding = static_cast<std::int64_t>(i) % ldc >= n;
            // Padding columns of C must be left exactly as they were.
            worst = std::max(worst,
                             padding ? std::abs(c[i] - double(i % 13)) : std::abs(c[i] - want[i]));
          }
          CAPTURE(threads);
          CAPTURE(m);
          CAPTURE(ta);
          CAPTURE(tb);
          CHECK(worst < 1e-12);
        }
    }
  }
  omp_set_num_threads(saved);
}

TEST_CASE("blas: SerialScope makes OpenBLAS single-threaded and restores the count") {
  const int saved = blas::num_threads();
  blas::set_num_threads(2);
  {
    blas::SerialScope serial;
    CHECK(blas::num_threads() == 1);
  }
  CHECK(blas::num_threads() == 2);
  blas::set_num_threads(saved);
}

TEST_CASE("blas: a product split over threads is bit-identical to the unsplit one") {
  // Shapes from the convolutions (the autoencoder's dense layers at batch 32 and 64, a
  // weight gradient), around OpenBLAS's small-matrix limit of 10^6 multiply-adds.
  const int saved = omp_get_max_threads();
  struct Shape3 {
    std::int64_t m, n, k;
    bool ta, tb;
  };
  for (const Shape3& s : {Shape3{32, 64, 1568, false, true}, Shape3{64, 64, 1568, false, true},
                          Shape3{32, 1568, 64, false, false}, Shape3{64, 1568, 32, true, false},
                          Shape3{64, 576, 3136, false, true}, Shape3{150, 170, 60, false, false},
                          Shape3{600, 48, 90, true, true}}) {
    const std::int64_t lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
    std::vector<float> a(static_cast<std::size_t>(s.m * s.k)),
        b(static_cast<std::size_t>(s.k * s.n));
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = float(std::sin(0.7 * double(i)));
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = float(std::cos(0.3 * double(i)));
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 3, 4}) {
      omp_set_num_threads(threads);
      std::vector<float> c(static_cast<std::size_t>(s.m * s.n), 0.5f);
      blas::gemm<float>(s.ta, s.tb, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 1.0f,
                        c.data(), s.n);
      results.push_back(std::move(c));
    }
    CAPTURE(s.m);
    CAPTURE(s.n);
    CAPTURE(s.k);
    for (std::size_t t = 1; t < results.size(); ++t) CHECK(results[t] == results[0]);
  }
  omp_set_num_threads(saved);
}
