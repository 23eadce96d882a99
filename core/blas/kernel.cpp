// Deterministic single-threaded GEMM: see kernel.hpp for the contract and the determinism rule.
//
// Blocking (GotoBLAS/BLIS-style loop nest for row-major C, vectorised along n):
//
//   for jc in [0, n) step NC:                 B panel  KC x NC        (L3)
//     for pc in [0, k) step KC:               KC = kKc<T> = 256, fixed (determinism)
//       for ic in [0, m) step MC:             A block  MC x KC        (L2), packed into row tiles
//         for jr in [0, nc) step NR:          B micro-panel KC x NR   (L1, reused by all ir)
//           for ir in [0, mc) step ~MR:       A micro-panel MR x KC   (streamed from L2)
//             micro-kernel: C[ir:+MR, jr:+NR] (+)= alpha * Apanel * Bpanel
//
//   AVX-512 float: MR x NR = 12 x 32 (24 zmm accumulators), MC = 192, NC = 4096
//   AVX-512 double: 12 x 16, MC = 192, NC = 2048; AVX2: 6 x 16 / 6 x 8; Generic: 4 x 8 / 4 x 4.
//
// Per k step the micro-kernel loads NR / W vectors of B and broadcasts MR values of A, one FMA
// per (row, vector). Packing:
//   - op(B) with rows along n is packed by the first kernel call of each micro-panel, which
//     reads B in place and stores a packed copy that the other calls read (no separate pass,
//     and the memory reads overlap with FMAs). op(B) = B^T is transposed into panels up front.
//   - op(A) is packed into row tiles (transposed in 16 x 16 register blocks when A is row-major).
//   - Operands reused by few kernel calls are not packed at all (n <= 64: A; m <= 24 or small
//     B: B), and for B^T with m <= 64 the product is computed as C^T = op(B)^T op(A)^T with
//     B^T as the (in-place) broadcast operand and the C tiles transposed in registers on store.
//
// Determinism: every one of these variants - row tiles of fewer than MR rows (mc is cut into
// tiles of nearly equal height, each run by a kernel instantiated for that height), column
// tiles narrower than NR (zero-padded B, masked loads/stores of C), packed or in-place operands,
// C or C^T orientation - performs for each element C[i][j] exactly the documented operation
// sequence: acc = 0, acc = fma(a[i][p], b[p][j], acc) for p increasing within each fixed K
// block, then the fixed combine with C. Decisions may therefore depend on m and n (which change
// when the caller splits C): they change where operands are loaded from, never the arithmetic.
// tests/test_gemm_kernel.cpp checks this bit for bit against a scalar emulation and across
// row/column splits.
//
// The ISA-independent algorithm (kernels, packing, driver) is written once, in
// detail/kernel_impl.hpp, which this file includes once per ISA with TG_NS / TG_TARGET set:
// that is how each copy gets its own __attribute__((target(...))) without -march flags.

#include <tapegrad/core/blas/detail/simd.hpp>
#include <tapegrad/core/blas/kernel.hpp>

#define TG_NS avx512
#define TG_TARGET TG_TARGET_AVX512
#include <tapegrad/core/blas/detail/kernel_impl.hpp>
#undef TG_NS
#undef TG_TARGET
#define TG_NS avx2
#define TG_TARGET TG_TARGET_AVX2
#include <tapegrad/core/blas/detail/kernel_impl.hpp>
#undef TG_NS
#undef TG_TARGET
#define TG_NS generic
#define TG_TARGET
#include <tapegrad/core/blas/detail/kernel_impl.hpp>
#undef TG_NS
#undef TG_TARGET

namespace tapegrad::blas::detail {

template <class T>
void gemm(Isa isa, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
          T alpha, const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
          std::int64_t ldc) {
  switch (isa) {
    case Isa::Avx512:
      avx512::gemm<T>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    case Isa::Avx2:
      avx2::gemm<T>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    case Isa::Generic:
      generic::gemm<T>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
  }
}

template void gemm<float>(Isa, bool, bool, std::int64_t, std::int64_t, std::int64_t, float,
                          const float*, std::int64_t, const float*, std::int64_t, float, float*,
                          std::int64_t);
template void gemm<double>(Isa, bool, bool, std::int64_t, std::int64_t, std::int64_t, double,
                           const double*, std::int64_t, const double*, std::int64_t, double,
                           double*, std::int64_t);

}  // namespace tapegrad::blas::detail
