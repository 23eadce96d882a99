// Internal: the ISA-independent GEMM algorithm of core/blas/kernel.cpp (blocking, packing,
// micro-kernels, driver). kernel.cpp includes this file once per instruction set, with
// TG_NS naming the namespace of that set's Simd traits and TG_TARGET its target attribute,
// so one definition gives every set its own compiled copy. No include guard, on purpose.
// The ISA-independent algorithm. Compiled once per ISA, in namespace TG_NS, with every function
// carrying TG_TARGET; Simd<T> is that ISA's traits struct.

namespace tapegrad::blas::detail::TG_NS {
namespace {

// How the micro-kernel combines its K-block result `acc` with C (see kernel.hpp).
enum Mode : int {
  kOverwrite = 0,   // first K block, beta == 0:  C = alpha * acc
  kScale = 1,       // first K block, beta != 0:  C = fma(alpha, acc, beta * C)
  kAccumulate = 2,  // later K blocks (or beta == 1): C = fma(alpha, acc, C)
};

// Operands of one micro-kernel call (one tile of C).
template <class T>
struct Tile {
  std::int64_t kc;   // K-block length
  const T* a;        // A: element (i, p) at a[p * lda + i] (packed: lda = MR), or with
  std::int64_t lda;  //    A_ROWS kernels at a[i * lda + p] (op(A) read in place, row-major)
  const T* b;        // B: element (p, j) at b[p * ldb + j] (packed: ldb = NR)
  std::int64_t ldb;
  T* b_copy;  // if not null, the kernel also stores the B rows it reads here, packed
              // (b_copy[p * NR + j], zero padded): packs B while computing the first tile
  T* c;       // C tile, row stride ldc
  std::int64_t ldc;
  int last_w;  // valid lanes in the last of the NV column vectors (W if the tile is full)
  int mode;    // Mode
  T alpha, beta;
};

template <class T>
using KernelFn = void (*)(const Tile<T>& t);

// How many rows ahead kernels prefetch B when reading it in place (its rows are ldb apart,
// often in different pages, which the hardware prefetchers do not follow).
constexpr std::int64_t kPrefetchRows = 8;

// The C tile is prefetched into L2 when a kernel starts and into L1 kLatePrefetch k steps before
// the end (L1 is too small to keep it through the whole K loop next to the B micro-panel).
constexpr std::int64_t kLatePrefetch = 16;

// Prefetches the R x COLS tile of C at c (row stride ldc), or with C_TRANS the COLS x R tile;
// LOCALITY 3: into L1, 2: into L2.
template <class T, int R, int COLS, bool C_TRANS, int LOCALITY>
TG_TARGET TG_INLINE void prefetch_c(const T* c, std::int64_t ldc) {
  constexpr int kRows = C_TRANS ? COLS : R;
  constexpr int kCols = C_TRANS ? R : COLS;
#pragma GCC unroll 32
  for (int i = 0; i < kRows; ++i) {
    __builtin_prefetch(c + i * ldc, 1, LOCALITY);
    if (kCols * sizeof(T) > 64) __builtin_prefetch(c + i * ldc + kCols - 1, 1, LOCALITY);
  }
}

// out = alpha * acc (kOverwrite), fma(alpha, acc, beta * old) (kScale), fma(alpha, acc, old).
template <class S, class V>
TG_TARGET TG_INLINE V combine(int mode, V valpha, V vbeta, V acc, V old) {
  if (mode == kOverwrite) return S::mul(valpha, acc);
  return S::madd(valpha, acc, mode == kScale ? S::mul(vbeta, old) : old);
}

// Stores the C_TRANS tile: acc[r][v] holds C[v * W + l][r] in lane l (r < R). Blocks of W x W
// are transposed in registers; each row of C then gets up to W contiguous (masked) elements.
template <class T, int R, int NV, bool MASKED>
TG_TARGET TG_INLINE void store_tile_trans(typename Simd<T>::V (&acc)[R][NV], const Tile<T>& t) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int W = S::W;
  const V valpha = S::set1(t.alpha), vbeta = S::set1(t.beta);
  const int mode = t.mode;
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const int lanes = MASKED && v == NV - 1 ? t.last_w : W;  // rows of C in this vector
#pragma GCC unroll 2
    for (int r0 = 0; r0 < R; r0 += W) {
      const int rb = R - r0 < W ? R - r0 : W;  // columns of C in this block
      const auto cmask = S::mask(rb);
      V blk[W];
#pragma GCC unroll 16
      for (int x = 0; x < W; ++x) blk[x] = x < rb ? acc[r0 + x][v] : S::zero();
      S::transpose(blk);
#pragma GCC unroll 16
      for (int l = 0; l < W; ++l) {
        if (MASKED && l >= lanes) break;
        T* cp = t.c + (v * W + l) * t.ldc + r0;
        if (rb == W) {
          S::store(cp, combine<S>(mode, valpha, vbeta, blk[l],
                                  mode == kOverwrite ? blk[l] : S::load(cp)));
        } else {
          const V old = mode == kOverwrite ? blk[l] : S::loadm(cp, cmask);
          S::storem(cp, combine<S>(mode, valpha, vbeta, blk[l], old), cmask);
        }
      }
    }
  }
}

// k steps [p0, p1) of the micro-kernel: acc[i][v] = fma(A(i, p), B(p, v), acc[i][v]).
template <class T, int R, int NV, bool MASKED, bool A_ROWS>
TG_TARGET TG_INLINE void k_loop(typename Simd<T>::V (&acc)[R][NV], const Tile<T>& t,
                                typename Simd<T>::M lmask, std::int64_t p0, std::int64_t p1,
                                std::int64_t pf_end) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int W = S::W;
  constexpr int NR = S::NR;
  constexpr int kGroups = (R + 2) / 3;
  const std::int64_t lda = t.lda, ldb = t.ldb;
  const T* __restrict b = t.b + p0 * ldb;
  T* __restrict b_copy = t.b_copy;
  // A_ROWS: rows 3g, 3g+1, 3g+2 are addressed from one pointer as [ag + 0/1/2 * lda], which x86
  // encodes with a scaled index: 5 registers for 12 rows instead of 12. Otherwise A(i, p) is at
  // a[p * lda + i].
  const T* __restrict a = A_ROWS ? t.a + p0 : t.a + p0 * lda;
  const T* arow[kGroups];
  if constexpr (A_ROWS) {
#pragma GCC unroll 4
    for (int g = 0; g < kGroups; ++g) arow[g] = a + 3 * g * lda;
  }
  TG_UNROLL_K
  for (std::int64_t p = p0; p < p1; ++p) {
    if (p < pf_end) {
      __builtin_prefetch(b + kPrefetchRows * ldb, 0, 3);
      if (NV * W * sizeof(T) > 64) __builtin_prefetch(b + kPrefetchRows * ldb + NV * W - 1, 0, 3);
    }
    V bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      bv[v] = (MASKED && v == NV - 1) ? S::loadm(b + v * W, lmask) : S::load(b + v * W);
    if (b_copy) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) S::store(b_copy + p * NR + v * W, bv[v]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      V ai;
      if constexpr (A_ROWS)
        ai = S::set1(arow[i / 3][(i % 3) * lda]);
      else
        ai = S::set1(a[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = S::madd(ai, bv[v], acc[i][v]);
    }
    b += ldb;
    if constexpr (A_ROWS) {
#pragma GCC unroll 4
      for (int g = 0; g < kGroups; ++g) ++arow[g];
    } else {
      a += lda;
    }
  }
}

// Micro-kernel for an R x (NV * W) tile of C (R <= MR): C (+)= alpha * A[R x kc] * B[kc x NV*W].
//   MASKED: the last of the NV vectors has only last_w valid columns (masked B loads and C
//   loads/stores); the arithmetic on the valid lanes is exactly that of the unmasked kernel.
//   A_ROWS: A is read in place from row-major op(A) instead of from a packed panel.
//   C_TRANS: the tile is of C^T (the caller swapped the operands, C^T = op(B)^T op(A)^T): it is
//   transposed in registers and stored to row-major C (see store_tile_trans).
template <class T, int R, int NV, bool MASKED, bool A_ROWS, bool C_TRANS>
TG_TARGET void kernel(const Tile<T>& t) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int W = S::W;
  constexpr int NR = S::NR;
  const auto lmask = S::mask(MASKED ? t.last_w : W);
  const std::int64_t kc = t.kc, ldb = t.ldb;

  prefetch_c<T, R, NV * W, C_TRANS, 2>(t.c, t.ldc);
  V acc[R][NV];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = S::zero();

  // K loop, split where the C tile is prefetched into L1.
  const std::int64_t late = std::max<std::int64_t>(0, kc - kLatePrefetch);
  // B not from a packed panel: prefetch its rows kPrefetchRows ahead (until the last rows).
  const std::int64_t pf_end = ldb != NR ? kc - kPrefetchRows : 0;
  k_loop<T, R, NV, MASKED, A_ROWS>(acc, t, lmask, 0, late, pf_end);
  prefetch_c<T, R, NV * W, C_TRANS, 3>(t.c, t.ldc);
  k_loop<T, R, NV, MASKED, A_ROWS>(acc, t, lmask, late, kc, pf_end);

  if constexpr (C_TRANS) {
    store_tile_trans<T, R, NV, MASKED>(acc, t);
    return;
  } else {
    // Combine with C (see Mode), with the branch on the mode outside the loops.
    const V valpha = S::set1(t.alpha);
    T* __restrict c = t.c;
    const std::int64_t ldc = t.ldc;
    if (t.mode == kOverwrite) {
#pragma GCC unroll 16
      for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          const V out = S::mul(valpha, acc[i][v]);
          if (MASKED && v == NV - 1)
            S::storem(c + i * ldc + v * W, out, lmask);
          else
            S::store(c + i * ldc + v * W, out);
        }
    } else {
      const bool scale = t.mode == kScale;
      const V vbeta = S::set1(t.beta);
#pragma GCC unroll 16
      for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          T* cp = c + i * ldc + v * W;
          if (MASKED && v == NV - 1) {
            const V old = S::loadm(cp, lmask);
            S::storem(cp, S::madd(valpha, acc[i][v], scale ? S::mul(vbeta, old) : old), lmask);
          } else {
            const V old = S::load(cp);
            S::store(cp, S::madd(valpha, acc[i][v], scale ? S::mul(vbeta, old) : old));
          }
        }
    }
  }
}

// How the kernel reads A and writes C (the last template parameters of kernel()).
enum Layout : int {
  kPackedA = 0,      // A from packed panels
  kRowsA = 1,        // A_ROWS
  kRowsATransC = 2,  // A_ROWS and C_TRANS
  kLayouts = 3,
};

// Table of kernel instantiations indexed by [R - 1][NV - 1][MASKED][Layout].
template <class T, std::size_t... I>
constexpr std::array<KernelFn<T>, sizeof...(I)> make_kernels(std::index_sequence<I...>) {
  constexpr int NV = Simd<T>::NV;
  return {{&kernel<T, static_cast<int>(I / (2 * kLayouts * NV)) + 1,
                   static_cast<int>(I / (2 * kLayouts) % NV) + 1, I / kLayouts % 2 == 1,
                   I % kLayouts != kPackedA, I % kLayouts == kRowsATransC>...}};
}

template <class T>
KernelFn<T> pick_kernel(int rows, int nv, bool masked, Layout layout) {
  using S = Simd<T>;
  static constexpr auto table =
      make_kernels<T>(std::make_index_sequence<S::MR * S::NV * 2 * kLayouts>());
  return table[(((rows - 1) * S::NV + (nv - 1)) * 2 + (masked ? 1 : 0)) * kLayouts + layout];
}

// Packed layouts:
//   A: the MC x KC block is cut into row tiles (tile_rows()); tile q is stored at
//      dst + q * a_panel_stride(kc), element (i, p) at [p * MR + i].
//   B: the KC x NC block is cut into NR-wide panels; panel q is stored at dst + q * NR * kc,
//      element (p, j) at [p * NR + j], zero padded on the right.
// The packing routines store whole vectors even where MR is not a multiple of W (masked stores,
// AVX2's vmaskmov in particular, are slow on AMD): the lanes past the end of row p spill into row p
// + 1 and are overwritten when that row is written (the vector chunks of a row are written from the
// highest down, rows in increasing p). The last row of a panel spills into a W-element gap after
// the panel.
template <class T>
constexpr std::int64_t a_panel_stride(std::int64_t kc) {
  return Simd<T>::MR * kc + Simd<T>::W;
}

// Column count up to which A (and possibly B) is read in place rather than packed.
constexpr std::int64_t kDirectN = 64;

// Rows of the source read per panel before moving on to the next panel when copying panels whose
// X direction is contiguous in memory: the source is then read as kPackRows sequential streams
// instead of being walked down with a large stride (which defeats the hardware prefetchers).
constexpr std::int64_t kPackRows = 8;

// dst[p * X + x] = src[p * ld + x] for x < valid, 0 for valid <= x < X; p in [p0, p1).
// (op(B) not transposed, or op(A) transposed: the X direction is contiguous in memory.)
template <class T, int X>
TG_TARGET TG_INLINE void pack_copy(const T* src, std::int64_t ld, int valid, std::int64_t p0,
                                   std::int64_t p1, T* dst) {
  using S = Simd<T>;
  constexpr int W = S::W;
  constexpr int kChunks = (X + W - 1) / W;
  if (valid == X && X % W == 0) {  // common case: plain copies
    for (std::int64_t p = p0; p < p1; ++p) {
#pragma GCC unroll 4
      for (int c = 0; c < kChunks; ++c)
        S::store(dst + p * X + c * W, S::load(src + p * ld + c * W));
    }
    return;
  }
  for (std::int64_t p = p0; p < p1; ++p) {
#pragma GCC unroll 4
    for (int c = kChunks - 1; c >= 0; --c) {
      const int v = std::clamp(valid - c * W, 0, W);  // lanes loaded
      S::store(dst + p * X + c * W, S::loadm(src + p * ld + c * W, S::mask(v)));
    }
  }
}

// One W x W block of pack_transpose: dst[j * X + x] = s[x * ld + j] for x < ROWS (ROWS <= W
// rows of s present, the others zero), j < W. Whole vectors are stored (see above).
template <class T, int X, int ROWS>
TG_TARGET TG_INLINE void transpose_block(const T* s, std::int64_t ld, T* dst) {
  using S = Simd<T>;
  typename S::V r[S::W];
#pragma GCC unroll 16
  for (int x = 0; x < S::W; ++x) r[x] = x < ROWS ? S::load(s + x * ld) : S::zero();
  S::transpose(r);
#pragma GCC unroll 16
  for (int j = 0; j < S::W; ++j) S::store(dst + j * X, r[j]);
}

// Edge case of pack_transpose: `rows` (< W or fewer than the chunk holds) rows present and/or
// pw < W values of p. Kept out of line so that the common case stays simple.
template <class T, int X>
__attribute__((noinline)) TG_TARGET void transpose_edge(const T* s, std::int64_t ld, int rows,
                                                        int pw, T* dst) {
  using S = Simd<T>;
  typename S::V r[S::W];
  const auto pmask = S::mask(pw);
  for (int x = 0; x < S::W; ++x) r[x] = x < rows ? S::loadm(s + x * ld, pmask) : S::zero();
  S::transpose(r);
  for (int j = 0; j < pw; ++j) S::store(dst + j * X, r[j]);
}

// Chunk C (rows C*W .. C*W + W - 1 of the panel) of pack_transpose.
template <class T, int X, int C>
TG_TARGET TG_INLINE void pack_transpose_chunk(const T* src, std::int64_t ld, int valid,
                                              std::int64_t kc, T* dst) {
  constexpr int W = Simd<T>::W;
  constexpr int x0 = C * W;
  constexpr int kRows = X - x0 < W ? X - x0 : W;  // rows in this chunk of a full panel
  const int rows = std::clamp(valid - x0, 0, kRows);
  const T* s = src + x0 * ld;
  std::int64_t p0 = 0;
  if (rows == kRows) {
    for (; p0 + W <= kc; p0 += W) transpose_block<T, X, kRows>(s + p0, ld, dst + p0 * X + x0);
  }
  for (; p0 < kc; p0 += W) {
    transpose_edge<T, X>(s + p0, ld, rows, static_cast<int>(std::min<std::int64_t>(W, kc - p0)),
                         dst + p0 * X + x0);
  }
}

// dst[p * X + x] = src[x * ld + p] for x < valid, 0 for valid <= x < X; p < kc.
// (op(A) not transposed, or op(B) transposed: transpose W x W register blocks, reading W rows
// of src at a time as sequential streams.) Chunks are written from the highest down (see above).
template <class T, int X>
TG_TARGET void pack_transpose(const T* src, std::int64_t ld, int valid, std::int64_t kc, T* dst) {
  constexpr int kChunks = (X + Simd<T>::W - 1) / Simd<T>::W;
  static_assert(kChunks <= 2);
  if constexpr (kChunks == 2) pack_transpose_chunk<T, X, 1>(src, ld, valid, kc, dst);
  pack_transpose_chunk<T, X, 0>(src, ld, valid, kc, dst);
}

// Height of row tile q when mc rows are cut into `tiles` tiles of nearly equal height.
constexpr int tile_rows(std::int64_t mc, std::int64_t tiles, std::int64_t q) {
  return static_cast<int>(mc / tiles + (q < mc % tiles ? 1 : 0));
}

// Packs op(A)[0:mc, 0:kc] (a points at element (0, 0) of op(A)) into row tiles (layout above).
template <class T>
TG_TARGET void pack_a(bool trans, const T* a, std::int64_t lda, std::int64_t mc, std::int64_t kc,
                      T* dst) {
  constexpr int MR = Simd<T>::MR;
  const std::int64_t tiles = (mc + MR - 1) / MR;  // same tiling as in gemm_blocked()
  const std::int64_t stride = a_panel_stride<T>(kc);
  if (trans) {
    for (std::int64_t p0 = 0; p0 < kc; p0 += kPackRows) {
      const std::int64_t p1 = std::min(kc, p0 + kPackRows);
      std::int64_t i = 0;
      for (std::int64_t q = 0; q < tiles; ++q) {
        const int rows = tile_rows(mc, tiles, q);
        pack_copy<T, MR>(a + i, lda, rows, p0, p1, dst + q * stride);
        i += rows;
      }
    }
  } else {
    std::int64_t i = 0;
    for (std::int64_t q = 0; q < tiles; ++q) {
      const int rows = tile_rows(mc, tiles, q);
      pack_transpose<T, MR>(a + i * lda, lda, rows, kc, dst + q * stride);
      i += rows;
    }
  }
}

// Packs transposed op(B)[0:kc, 0:nc] (b points at B[0][0], B stored n x k) into NR-wide panels
// (layout above). Non-transposed B is packed by the kernels themselves (Tile::b_copy).
template <class T>
TG_TARGET void pack_b_trans(const T* b, std::int64_t ldb, std::int64_t kc, std::int64_t nc,
                            T* dst) {
  constexpr int NR = Simd<T>::NR;
  for (std::int64_t j = 0; j < nc; j += NR) {
    const int cols = static_cast<int>(std::min<std::int64_t>(NR, nc - j));
    pack_transpose<T, NR>(b + j * ldb, ldb, cols, kc, dst + j * kc);
  }
}

// C = beta * C (k == 0).
template <class T>
TG_TARGET void scale_c(std::int64_t m, std::int64_t n, T beta, T* c, std::int64_t ldc) {
  for (std::int64_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    if (beta == T(0))
      std::fill(row, row + n, T(0));
    else
      for (std::int64_t j = 0; j < n; ++j) row[j] = beta * row[j];
  }
}

// The blocked algorithm (see the top of the file) for m, n, k > 0. With c_trans the product is
// stored transposed: element (i, j) goes to c[j * ldc + i] (requires op(A) row-major, n <= 64).
template <class T>
TG_TARGET void gemm_blocked(bool c_trans, bool trans_a, bool trans_b, std::int64_t m,
                            std::int64_t n, std::int64_t k, T alpha, const T* a, std::int64_t lda,
                            const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  using S = Simd<T>;
  constexpr int W = S::W;
  constexpr int MR = S::MR;
  constexpr int NR = S::NR;
  constexpr std::int64_t KC = kKc<T>;
  constexpr std::int64_t MC = S::MC;
  constexpr std::int64_t NC = S::NC;
  static_assert(MC % MR == 0 && NC % NR == 0);

  // Operands are read in place instead of packed when they are reused too little to repay the
  // copy. Neither choice changes the arithmetic, only where the kernel loads from, so the rules
  // may depend on m and n.
  //  - A: if n <= 64, each element of A is used by at most 64 / NR (2 float, 4 double) kernel
  //    calls, and transposing it into panels would cost ~15 % of the multiply.
  //  - B (only when its rows run along n): if C has at most 2 MR-row tiles, each element of B
  //    is used by at most two kernel calls; or if n <= 64 and the rows of B that one K block
  //    reads span at most 256 KiB (so that they do not collide in L1/L2 sets).
  const bool direct_a = n <= kDirectN;
  const bool direct_b =
      !trans_b &&
      (m <= 2 * MR || (n <= kDirectN && ldb * KC * std::int64_t{sizeof(T)} <= (256 << 10)));

  T* apack = direct_a ? nullptr
                      : scratch<T>(0, static_cast<std::size_t>((std::min(m, MC) + MR - 1) / MR *
                                                               a_panel_stride<T>(KC)));
  T* bpack = direct_b ? nullptr
                      : scratch<T>(1, static_cast<std::size_t>(round_up(std::min(n, NC), NR) * KC));
  Tile<T> tile;
  tile.alpha = alpha;
  tile.beta = beta;
  tile.ldc = ldc;

  for (std::int64_t jc = 0; jc < n; jc += NC) {
    const std::int64_t nc = std::min(NC, n - jc);
    for (std::int64_t pc = 0; pc < k; pc += KC) {
      const std::int64_t kc = std::min(KC, k - pc);
      tile.kc = kc;
      tile.mode = pc > 0 || beta == T(1) ? kAccumulate : beta == T(0) ? kOverwrite : kScale;

      // op(B)[pc:pc+kc, jc:jc+nc]. Transposed B is packed here. Otherwise B is either read in
      // place throughout (direct_b) or packed on the fly by the first kernel call of each
      // micro-panel (which reads it in place and stores a packed copy for the other calls).
      const T* bsrc = trans_b ? b + jc * ldb + pc : b + pc * ldb + jc;
      if (trans_b) pack_b_trans(bsrc, ldb, kc, nc, bpack);

      for (std::int64_t ic = 0; ic < m; ic += MC) {
        const std::int64_t mc = std::min(MC, m - ic);
        // The block is cut into `tiles` row tiles of nearly equal height (<= MR), so that no
        // tile is much shorter than MR (short tiles run at a fraction of peak).
        const std::int64_t tiles = (mc + MR - 1) / MR;
        const T* ablock = trans_a ? a + pc * lda + ic : a + ic * lda + pc;
        if (!direct_a) pack_a(trans_a, ablock, lda, mc, kc, apack);
        const Layout layout = direct_a && !trans_a ? (c_trans ? kRowsATransC : kRowsA) : kPackedA;

        // Tile order: normally column tiles outside and row tiles inside, so that a B
        // micro-panel stays in L1 while the A block streams from L2. When A is read in place
        // (n <= 64: at most 64 / NR column tiles) the order is swapped: each A micro-panel then
        // stays in L1 for its few column tiles and the small B block is reused from L1/L2.
        const bool rows_outer = direct_a;
        const std::int64_t col_tiles = (nc + NR - 1) / NR;
        const std::int64_t outer = rows_outer ? tiles : col_tiles;
        const std::int64_t inner = rows_outer ? col_tiles : tiles;
        for (std::int64_t o = 0; o < outer; ++o) {
          for (std::int64_t in = 0; in < inner; ++in) {
            const std::int64_t q = rows_outer ? o : in;
            const std::int64_t jr = (rows_outer ? in : o) * NR;
            const std::int64_t ir = q * (mc / tiles) + std::min(q, mc % tiles);
            const int rows = tile_rows(mc, tiles, q);
            const int cols = static_cast<int>(std::min<std::int64_t>(NR, nc - jr));
            const int nv = (cols + W - 1) / W;
            tile.last_w = cols - (nv - 1) * W;
            if (direct_a) {
              tile.a = trans_a ? ablock + ir : ablock + ir * lda;
              tile.lda = lda;
            } else {
              tile.a = apack + q * a_panel_stride<T>(kc);
              tile.lda = MR;
            }
            T* bpanel = direct_b ? nullptr : bpack + jr * kc;
            const bool pack_now = !direct_b && !trans_b && ic == 0 && q == 0;
            if (direct_b || pack_now) {
              tile.b = bsrc + jr;
              tile.ldb = ldb;
            } else {
              tile.b = bpanel;
              tile.ldb = NR;
            }
            tile.b_copy = pack_now ? bpanel : nullptr;
            tile.c = c_trans ? c + (jc + jr) * ldc + ic + ir : c + (ic + ir) * ldc + jc + jr;
            pick_kernel<T>(rows, nv, tile.last_w != W, layout)(tile);
          }
        }
      }
    }
  }
}

}  // namespace

template <class T>
TG_TARGET void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                    T alpha, const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta,
                    T* c, std::int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    scale_c(m, n, beta, c, ldc);
    return;
  }
  // With op(B) = B^T (k contiguous in memory) the kernel's vector operand would have to be
  // transposed while packing, costing about as much as the multiply itself when m is small.
  // Then compute C^T = op(B)^T op(A)^T instead: B^T is read in place as the broadcast operand,
  // only the small op(A) is transposed, and the kernel transposes its C tile when storing.
  // The per-element arithmetic is the same either way.
  if (trans_b && m <= kDirectN && n > kDirectN) {
    gemm_blocked<T>(true, false, !trans_a, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc);
  } else {
    gemm_blocked<T>(false, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

}  // namespace tapegrad::blas::detail::TG_NS
