// Correctness and determinism of tapegrad's GEMM kernels (core/blas/kernel.hpp).
//
// For every ISA the CPU supports, float and double, all four transpose combinations:
//   1. accuracy: random shapes (m, n, k in 0..80, plus larger ones crossing the KC/MC/NC block
//      sizes) with padded leading dimensions, alpha in {1, 0.5, -2}, beta in {0, 1, 0.3}, against a
//      long double reference; beta == 0 runs with C pre-filled with NaN; the padding between rows
//      of C must stay untouched.
//   2. exact arithmetic: C must equal, bit for bit, a scalar emulation of the documented
//      per-element operation sequence (gemm.hpp): fixed K blocks of kKc, FMA chain from 0 in
//      increasing p (separate multiply and add on the Generic ISA), fixed combine rule.
//   3. block splitting: computing C as separate calls on blocks of rows, or of columns (split at
//      1, 7, 16, 33, ...), must give the same bits as one call on the whole of C.
// Prints one line per failure (first few) and the counts per ISA and type.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <tapegrad/core/blas/kernel.hpp>
#include <tapegrad/core/cpu.hpp>
#include <vector>

namespace blas = tapegrad::blas::detail;
using std::int64_t;
using tapegrad::Isa;

namespace {

int g_passed = 0, g_failed = 0;
int g_exact_checks = 0, g_split_checks = 0, g_determinism_failures = 0;

void check(bool ok, const std::string& what) {
  if (ok) {
    ++g_passed;
  } else {
    if (++g_failed <= 30) std::printf("FAIL: %s\n", what.c_str());
  }
}

std::mt19937_64 g_rng(12345);

int64_t rand_int(int64_t lo, int64_t hi) {  // inclusive
  return std::uniform_int_distribution<int64_t>(lo, hi)(g_rng);
}

template <class T>
struct Problem {
  bool ta = false, tb = false;
  int64_t m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
  T alpha = 1, beta = 0;
  std::vector<T> a, b, c0;  // c0: C before the call (padding included)

  T opa(int64_t i, int64_t p) const { return ta ? a[p * lda + i] : a[i * lda + p]; }
  T opb(int64_t p, int64_t j) const { return tb ? b[j * ldb + p] : b[p * ldb + j]; }
};

template <class T>
const char* type_name() {
  return sizeof(T) == 4 ? "float" : "double";
}

template <class T>
std::string describe(Isa isa, const Problem<T>& p) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%s %s ta=%d tb=%d m=%lld n=%lld k=%lld lda=%lld ldb=%lld ldc=%lld "
                "alpha=%g beta=%g",
                tapegrad::isa_name(isa), type_name<T>(), p.ta, p.tb, static_cast<long long>(p.m),
                static_cast<long long>(p.n), static_cast<long long>(p.k),
                static_cast<long long>(p.lda), static_cast<long long>(p.ldb),
                static_cast<long long>(p.ldc), static_cast<double>(p.alpha),
                static_cast<double>(p.beta));
  return buf;
}

// Random problem; pad = extra elements per leading dimension (0 = minimal).
template <class T>
Problem<T> make_problem(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, T beta,
                        int64_t pad) {
  Problem<T> p;
  p.ta = ta, p.tb = tb, p.m = m, p.n = n, p.k = k, p.alpha = alpha, p.beta = beta;
  p.lda = (ta ? m : k) + pad;
  p.ldb = (tb ? k : n) + pad;
  p.ldc = n + pad;
  // Leading dimension must be >= 1 even for empty matrices.
  p.lda = std::max<int64_t>(p.lda, 1), p.ldb = std::max<int64_t>(p.ldb, 1);
  p.ldc = std::max<int64_t>(p.ldc, 1);
  std::uniform_real_distribution<T> dist(T(-1), T(1));
  p.a.resize(static_cast<size_t>((ta ? k : m) * p.lda));
  p.b.resize(static_cast<size_t>((tb ? n : k) * p.ldb));
  p.c0.resize(static_cast<size_t>(m * p.ldc));
  for (auto& x : p.a) x = dist(g_rng);
  for (auto& x : p.b) x = dist(g_rng);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < p.ldc; ++j)
      p.c0[i * p.ldc + j] = j >= n         ? T(777)  // padding sentinel
                            : beta == T(0) ? std::numeric_limits<T>::quiet_NaN()
                                           : dist(g_rng);
  return p;
}

template <class T>
std::vector<T> run(Isa isa, const Problem<T>& p) {
  std::vector<T> c = p.c0;
  blas::gemm<T>(isa, p.ta, p.tb, p.m, p.n, p.k, p.alpha, p.a.data(), p.lda, p.b.data(), p.ldb,
                p.beta, c.data(), p.ldc);
  return c;
}

// 1. Accuracy against a long double reference, with an error bound proportional to
// (k + 2) * eps * (|alpha| * sum_p |a_ip b_pj| + |beta c_ij|).
template <class T>
void check_accuracy(Isa isa, const Problem<T>& p, const std::vector<T>& c) {
  const long double eps = std::numeric_limits<T>::epsilon();
  int64_t bad = 0, bad_i = -1, bad_j = -1;
  bool padding_ok = true;
  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = 0; j < p.ldc; ++j) {
      const T got = c[i * p.ldc + j];
      if (j >= p.n) {
        padding_ok &= got == T(777);
        continue;
      }
      long double sum = 0, mag = 0;
      for (int64_t q = 0; q < p.k; ++q) {
        const long double prod = static_cast<long double>(p.opa(i, q)) * p.opb(q, j);
        sum += prod;
        mag += std::fabs(prod);
      }
      long double ref = static_cast<long double>(p.alpha) * sum;
      mag *= std::fabs(static_cast<long double>(p.alpha));
      if (p.beta != T(0)) {
        const long double bc = static_cast<long double>(p.beta) * p.c0[i * p.ldc + j];
        ref += bc;
        mag += std::fabs(bc);
      }
      const long double tol = 4 * eps * (p.k + 2) * mag + std::numeric_limits<T>::denorm_min();
      if (!(std::fabs(got - ref) <= tol)) {
        if (bad++ == 0) bad_i = i, bad_j = j;
      }
    }
  }
  check(bad == 0 && padding_ok, "accuracy " + describe(isa, p) + " bad=" + std::to_string(bad) +
                                    " first at (" + std::to_string(bad_i) + "," +
                                    std::to_string(bad_j) + ")" +
                                    (padding_ok ? "" : " PADDING OVERWRITTEN"));
}

// 2. Scalar emulation of the documented operation sequence (gemm.hpp).
template <class T>
std::vector<T> emulate(Isa isa, const Problem<T>& p) {
  const bool fused = isa != Isa::Generic;
  // Generic: product and sum rounded separately; volatile keeps the compiler from fusing them.
  const auto madd = [fused](T x, T y, T z) {
    if (fused) return std::fma(x, y, z);
    volatile T prod = x * y;
    return prod + z;
  };
  std::vector<T> c = p.c0;
  const int64_t kc = blas::kKc<T>;
  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = 0; j < p.n; ++j) {
      T& cij = c[i * p.ldc + j];
      if (p.k == 0) {
        cij = p.beta == T(0) ? T(0) : p.beta * cij;
        continue;
      }
      for (int64_t p0 = 0; p0 < p.k; p0 += kc) {
        T acc = 0;
        for (int64_t q = p0; q < std::min(p.k, p0 + kc); ++q)
          acc = madd(p.opa(i, q), p.opb(q, j), acc);
        volatile T scaled = p.beta * cij;  // rounded on its own (volatile: never fused)
        if (p0 > 0)
          cij = madd(p.alpha, acc, cij);
        else if (p.beta == T(0))
          cij = p.alpha * acc;
        else
          cij = madd(p.alpha, acc, scaled);
      }
    }
  }
  return c;
}

template <class T>
bool same_bits(const std::vector<T>& x, const std::vector<T>& y) {
  return x.size() == y.size() &&
         (x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(T)) == 0);
}

// 2. The result equals the scalar emulation bit for bit.
template <class T>
void check_exact(Isa isa, const Problem<T>& p, const std::vector<T>& c) {
  const bool ok = same_bits(c, emulate(isa, p));
  ++g_exact_checks;
  g_determinism_failures += ok ? 0 : 1;
  check(ok, "exact arithmetic: " + describe(isa, p));
}

// ptr + offset, or null for the empty operands of k == 0 or m == 0 (offsetting null is UB).
template <class P>
P* at(P* ptr, int64_t offset) {
  return ptr ? ptr + offset : ptr;
}

// 3. Splitting C into row blocks / column blocks at the given offsets gives the same bits.
template <class T>
void check_split(Isa isa, const Problem<T>& p, const std::vector<T>& whole,
                 const std::vector<int64_t>& cuts) {
  for (int dim = 0; dim < 2; ++dim) {  // 0: rows, 1: columns
    const int64_t extent = dim == 0 ? p.m : p.n;
    std::vector<int64_t> bounds = {0};
    for (int64_t cut : cuts)
      if (cut > bounds.back() && cut < extent) bounds.push_back(cut);
    bounds.push_back(extent);
    std::vector<T> c = p.c0;
    for (size_t s = 0; s + 1 < bounds.size(); ++s) {
      const int64_t lo = bounds[s], len = bounds[s + 1] - lo;
      if (dim == 0) {
        const T* a = at(p.a.data(), p.ta ? lo : lo * p.lda);
        blas::gemm<T>(isa, p.ta, p.tb, len, p.n, p.k, p.alpha, a, p.lda, p.b.data(), p.ldb, p.beta,
                      at(c.data(), lo * p.ldc), p.ldc);
      } else {
        const T* b = at(p.b.data(), p.tb ? lo * p.ldb : lo);
        blas::gemm<T>(isa, p.ta, p.tb, p.m, len, p.k, p.alpha, p.a.data(), p.lda, b, p.ldb, p.beta,
                      at(c.data(), lo), p.ldc);
      }
    }
    const bool ok = same_bits(c, whole);
    ++g_split_checks;
    g_determinism_failures += ok ? 0 : 1;
    check(ok, std::string(dim == 0 ? "row" : "column") +
                  " split not bit-identical: " + describe(isa, p));
  }
}

template <class T>
void test_type(Isa isa) {
  const int before = g_failed;
  const int passed_before = g_passed;
  const T alphas[] = {T(1), T(0.5), T(-2)};
  const T betas[] = {T(0), T(1), T(0.3)};
  const std::vector<int64_t> cuts = {1, 7, 16, 33, 60, 100, 257, 400, 1000, 4097};

  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    // Random small shapes.
    for (int iter = 0; iter < 150; ++iter) {
      const int64_t m = rand_int(0, 80), n = rand_int(0, 80), k = rand_int(0, 80);
      const T alpha = alphas[rand_int(0, 2)], beta = betas[rand_int(0, 2)];
      const auto p =
          make_problem<T>(ta, tb, m, n, k, alpha, beta, rand_int(0, 1) ? rand_int(1, 9) : 0);
      const auto c = run(isa, p);
      check_accuracy(isa, p, c);
      check_exact(isa, p, c);
      if (iter % 10 == 0) check_split(isa, p, c, cuts);
    }
    // Larger shapes: crossing KC (256), MC (96..192), NC (2048 / 4096), edge tiles in m and n,
    // shapes whose blocks take other paths (in-place A or B, C^T orientation) when split.
    struct S {
      int64_t m, n, k;
    };
    const S big[] = {{300, 200, 500}, {397, 45, 530}, {5, 4150, 300}, {70, 2100, 40},
                     {24, 64, 1000},  {25, 33, 257},  {1, 1, 600},    {130, 9, 77},
                     {64, 577, 333},  {40, 300, 700}};
    for (const S& s : big) {
      const T alpha = alphas[rand_int(0, 2)], beta = betas[rand_int(0, 2)];
      const auto p = make_problem<T>(ta, tb, s.m, s.n, s.k, alpha, beta, rand_int(0, 3));
      const auto c = run(isa, p);
      check_accuracy(isa, p, c);
      check_exact(isa, p, c);
      check_split(isa, p, c, cuts);
    }
  }
  std::printf("%-8s %-6s: %d checks, %d failed\n", tapegrad::isa_name(isa), type_name<T>(),
              g_passed - passed_before + g_failed - before, g_failed - before);
}

// Across ISAs with FMA (AVX2, AVX-512) the documented arithmetic is the same, so the bits are too.
template <class T>
void test_cross_isa() {
  if (tapegrad::cpu_isa() != Isa::Avx512) return;
  for (int t = 0; t < 4; ++t) {
    const auto p = make_problem<T>(t & 1, t & 2, 53, 71, 600, T(0.5), T(0.3), 2);
    check(same_bits(run(Isa::Avx2, p), run(Isa::Avx512, p)),
          std::string("avx2 and avx512 bits differ, ") + type_name<T>());
  }
}

}  // namespace

TEST_CASE("gemm kernels: accuracy, exact operation order and bit-identical splits, every ISA") {
  tapegrad::set_max_isa(Isa::Avx512);
  const Isa best = tapegrad::cpu_isa();
  MESSAGE("best ISA: " << tapegrad::isa_name(best) << ", kKc<float>="
                       << blas::kKc<float> << ", kKc<double>=" << blas::kKc<double>);
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512}) {
    if (static_cast<int>(isa) > static_cast<int>(best)) {
      MESSAGE(tapegrad::isa_name(isa) << ": not supported by this CPU, skipped");
      continue;
    }
    test_type<float>(isa);
    test_type<double>(isa);
  }
  test_cross_isa<float>();
  test_cross_isa<double>();
  MESSAGE("determinism: " << g_exact_checks << " exact-emulation checks, " << g_split_checks
                          << " row/column split checks, " << g_determinism_failures
                          << " not bit-identical; " << g_passed << " passed, " << g_failed
                          << " failed");
  CHECK(g_exact_checks > 0);
  CHECK(g_split_checks > 0);
  CHECK(g_determinism_failures == 0);
  CHECK(g_failed == 0);
}
