// The GEMM drivers of every convolution: one zero-padded convolution problem "x -> y"
// (conv_problem.hpp) computed forwards, adjoint, and for its weight gradient, with the
// batch cut into L2-sized chunks that run in one OpenMP region.
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <tapegrad/core/blas/gemm.hpp>
#include <tapegrad/core/errors.hpp>
#include <tapegrad/core/kernels/conv_problem.hpp>
#include <tapegrad/core/kernels/depthwise.hpp>
#include <tapegrad/core/shape.hpp>

namespace tapegrad::kernels {

namespace {

constexpr std::int64_t kParallelThreshold = std::int64_t(1) << 15;

// a·b, or INT64_MAX when it does not fit: scratch sizes of absurd problems saturate and
// the allocation that follows reports them as out of memory.
std::int64_t sat_mul(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<std::int64_t>::max() : r;
}
std::int64_t sat_mul(std::int64_t a, std::int64_t b, std::int64_t c) {
  return sat_mul(sat_mul(a, b), c);
}

// Scratch memory per thread and element type. Training calls the same shapes every
// step, so after the first step no kernel allocates scratch memory again.
template <class T>
class Buffer {
 public:
  // Uninitialised storage for n elements (previous contents are not kept). Throws
  // OutOfMemory naming the running op when the memory is not there.
  T* get(std::int64_t n) {
    const auto need = static_cast<std::size_t>(std::max<std::int64_t>(n, 1));
    if (need > capacity_) {
      data_.reset();  // free first: peak memory stays at one buffer
      capacity_ = 0;
      const char* op = OpScope::current();
      if (need > std::size_t(kMaxNumel))
        throw OutOfMemory(op ? op : "convolution", need * sizeof(T));
      try {
        data_.reset(new T[need]);
      } catch (const std::bad_alloc&) {
        throw OutOfMemory(op ? op : "convolution", need * sizeof(T));
      }
      capacity_ = need;
    }
    return data_.get();
  }
  void release() {
    data_.reset();
    capacity_ = 0;
  }

 private:
  std::unique_ptr<T[]> data_;
  std::size_t capacity_ = 0;
};

template <class T>
struct Workspace {
  Buffer<T> cols;     // im2col columns / column gradients  [C_x·kH·kW, nb·L]
  Buffer<T> mat;      // GEMM output or gathered dY         [C_y, nb·L]
  Buffer<T> partial;  // per-lane partial weight gradients [lanes, C_y, K]
};

template <class T>
Workspace<T>& workspace() {
  thread_local Workspace<T> ws;
  return ws;
}

// Budget (in elements) for the columns and the gathered output of one batch chunk:
// 128 KiB of floats, well inside a core's L2 cache, so the GEMM reads back columns
// that im2col has just written while they are still cached (on the autoencoder's
// 16->32 layer at 2 threads: 0.70 ms fwd+bwd with 2^15, 0.73-0.84 ms with 2^16-2^18). The batch is
// cut into chunks of whole samples within the budget; a sample larger than the budget is a chunk of
// its own.
constexpr std::int64_t kChunkElements = std::int64_t(1) << 15;

// The batch cut into `count` chunks of consecutive samples, sizes differing by at most
// one: chunk c is [begin(c), begin(c + 1)).
struct Chunks {
  std::int64_t batch = 0, count = 1;
  std::int64_t begin(std::int64_t c) const { return c * batch / count; }
};

// Chunks within kChunkElements, in a multiple of kChunkMultiple (when the batch
// allows) so that 1, 2, 4 or 8 threads get equal shares. The chunking does not depend
// on the thread count, and neither does any sum (see conv_weight_grad): results are
// the same, bit for bit, on any number of threads.
constexpr std::int64_t kChunkMultiple = 8;

Chunks make_chunks(const ConvProblem& p) {
  const std::int64_t per_sample = sat_mul(p.k() * p.groups + p.y_channels, p.spatial_out());
  const std::int64_t cap =
      std::max<std::int64_t>(1, kChunkElements / std::max<std::int64_t>(per_sample, 1));
  std::int64_t count = (p.batch + cap - 1) / cap;
  count = (count + kChunkMultiple - 1) / kChunkMultiple * kChunkMultiple;
  return {p.batch, std::clamp<std::int64_t>(count, 1, std::max<std::int64_t>(p.batch, 1))};
}

// Each group sees one input channel (depthwise): the direct kernels of depthwise.hpp
// beat an im2col GEMM with only kH·kW rows. Not for groups = 1 (one-channel images):
// there the batch-level GEMM with its 9-row columns still wins (the autoencoder's first
// layer: 0.16 ms fwd+bwd against 1.2 ms).
bool use_depthwise(const ConvProblem& p) {
  return p.groups > 1 && p.groups == p.plane.channels && !p.plane.is_dense();
}

// OpenMP threads available to a kernel called here (1 inside someone's parallel region).
int team_size() { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

// mat [C, ld] (columns n·L + l of sample n) <- src [nb, C, L].
template <class T>
void gather_planes(const T* src, std::int64_t nb, std::int64_t channels, std::int64_t L, T* mat,
                   std::int64_t ld) {
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t n = 0; n < nb; ++n)
      std::memcpy(mat + c * ld + n * L, src + (n * channels + c) * L,
                  static_cast<std::size_t>(L) * sizeof(T));
}

// dst [nb, C, L] <- mat [C, ld] + bias[c] (bias may be null).
template <class T>
void scatter_planes(const T* mat, std::int64_t ld, std::int64_t nb, std::int64_t channels,
                    std::int64_t L, const T* bias, T* dst) {
  for (std::int64_t n = 0; n < nb; ++n)
    for (std::int64_t c = 0; c < channels; ++c) {
      const T* s = mat + c * ld + n * L;
      T* d = dst + (n * channels + c) * L;
      const T b = bias ? bias[c] : T(0);
      for (std::int64_t l = 0; l < L; ++l) d[l] = s[l] + b;
    }
}

// y [nb, C, L] += bias[c] on every plane.
template <class T>
void add_bias_planes(T* y, std::int64_t nb, std::int64_t channels, std::int64_t L, const T* bias) {
  for (std::int64_t n = 0; n < nb; ++n)
    for (std::int64_t c = 0; c < channels; ++c) {
      T* d = y + (n * channels + c) * L;
      const T b = bias[c];
      for (std::int64_t l = 0; l < L; ++l) d[l] += b;
    }
}

// Column matrix [G·K, nb·L] of the nb samples starting at xs, in the workspace. A single
// pointwise sample is its own column matrix [C_x, L], so im2col is skipped for it.
template <class T>
const T* chunk_columns(const ConvProblem& p, Workspace<T>& ws, const T* xs, std::int64_t nb) {
  if (p.plane.is_pointwise() && nb == 1) return xs;
  const std::int64_t ld = nb * p.spatial_out();
  T* c = ws.cols.get(sat_mul(p.groups, p.k(), ld));
  detail::im2col_batch(xs, nb, p.x_sample(), p.plane, c, ld);
  return c;
}

// A sample whose column matrix is larger than kBandElements is processed in bands of
// output rows, so its columns stay in L2 between im2col and the GEMM (3×3 conv 64->64
// on 56×56: the 7.2 MB matrix of a sample becomes bands of 8 rows, 1 MB). Windows of
// neighbouring bands overlap in the input rows, so the bands of one sample always run
// on one thread, in order.
constexpr std::int64_t kBandElements = std::int64_t(1) << 18;

struct Bands {
  std::int64_t rows = 0, count = 1;  // output rows per band (the last may have fewer)
};

Bands make_bands(const ConvProblem& p) {
  const std::int64_t per_row = sat_mul(p.groups, p.k(), p.plane.out_w);
  if (p.plane.is_pointwise() || sat_mul(per_row, p.plane.out_h) <= kBandElements)
    return {p.plane.out_h, 1};
  const std::int64_t rows =
      std::max<std::int64_t>(1, kBandElements / std::max<std::int64_t>(per_row, 1));
  return {rows, (p.plane.out_h + rows - 1) / rows};
}

// The geometry of output rows [i0, i0 + rows) of a plane: fewer output rows, and the
// top padding moved down by i0 strides (negative once the band starts inside the
// input), with x itself unchanged.
detail::PlaneGeometry band_geometry(const detail::PlaneGeometry& g, std::int64_t i0,
                                    std::int64_t rows) {
  detail::PlaneGeometry b = g;
  b.out_h = std::min(rows, g.out_h - i0);
  b.pad_top = g.pad_top - i0 * g.stride_h;
  return b;
}

// Band b of a sample: its geometry, its column count and its first column in the
// sample's [C, L] output.
struct Band {
  detail::PlaneGeometry geometry;
  std::int64_t len = 0, col0 = 0;
};

Band band(const ConvProblem& p, const Bands& bands, std::int64_t b) {
  const std::int64_t i0 = b * bands.rows;
  const detail::PlaneGeometry g = band_geometry(p.plane, i0, bands.rows);
  return {g, g.out_h * g.out_w, i0 * g.out_w};
}

// Column matrix [G·K, len] of band `bd` of the sample at xs, in the workspace.
template <class T>
const T* band_columns(const ConvProblem& p, Workspace<T>& ws, const T* xs, const Band& bd) {
  T* cols = ws.cols.get(sat_mul(p.groups, p.k(), bd.len));
  detail::im2col_batch(xs, 1, p.x_sample(), bd.geometry, cols, bd.len);
  return cols;
}

// Runs body(c) for every chunk c. With more than one chunk and thread, the chunks are
// shared out statically over one parallel region and every GEMM inside runs
// single-threaded on its thread (the kernels' inner loops see the region and stay
// serial); otherwise the chunks run in turn and each GEMM and im2col parallelises
// itself. Either way OpenBLAS's own threads stay idle (blas::SerialScope).
template <class Body>
void for_each_chunk(const Chunks& chunks, int threads, Body&& body) {
  blas::SerialScope serial;
  if (threads > 1 && chunks.count > 1) {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (std::int64_t c = 0; c < chunks.count; ++c) body(c);
  } else {
    for (std::int64_t c = 0; c < chunks.count; ++c) body(c);
  }
}

// y = conv(x) + bias (bias may be null). Per chunk of nb samples and per group g:
//   cols  [C_x·kH·kW, nb·L] = im2col(x_chunk)
//   y_g   [C_y/g, nb·L]     = W_g [C_y/g, K] · cols_g [K, nb·L]
// then the [C_y, nb·L] result is scattered to [nb, C_y, L] with the bias added.
template <class T>
void apply_conv_impl(const ConvProblem& p, const T* x, const T* w, const T* bias, T* y) {
  const std::int64_t L = p.spatial_out(), K = p.k(), G = p.groups;
  const std::int64_t cy_g = p.y_channels / G;
  if (p.plane.is_dense()) {
    // x is [N, C_x·H·W] = colsᵀ and y is [N, C_y]: no im2col, no scatter.
    for (std::int64_t g = 0; g < G; ++g)
      // y_g [N, C_y/g] = x_g [N, K] · W_gᵀ [K, C_y/g]
      blas::gemm<T>(false, true, p.batch, cy_g, K, T(1), x + g * K, p.x_sample(), w + g * cy_g * K,
                    K, T(0), y + g * cy_g, p.y_channels);
    if (bias) add_bias_planes(y, p.batch, p.y_channels, 1, bias);
    return;
  }
  if (use_depthwise(p)) {
    detail::depthwise_forward(x, p.batch, p.x_sample(), p.plane, p.y_channels, w, bias, y);
    return;
  }
  const int threads = team_size();
  const Chunks chunks = make_chunks(p);
  const Bands bands = make_bands(p);
  for_each_chunk(chunks, threads, [&](std::int64_t c) {
    Workspace<T>& ws = workspace<T>();
    const std::int64_t n0 = chunks.begin(c), nb = chunks.begin(c + 1) - n0;
    const std::int64_t ld = nb * L;
    if (nb == 1 && bands.count > 1) {
      // y_g[:, band] [C_y/g, B] = W_g · cols_g(band) [K, B], written in place (ldc = L).
      T* yn = y + n0 * p.y_sample();
      for (std::int64_t b = 0; b < bands.count; ++b) {
        const Band bd = band(p, bands, b);
        const T* cols = band_columns(p, ws, x + n0 * p.x_sample(), bd);
        for (std::int64_t g = 0; g < G; ++g)
          blas::gemm<T>(false, false, cy_g, bd.len, K, T(1), w + g * cy_g * K, K,
                        cols + g * K * bd.len, bd.len, T(0), yn + g * cy_g * L + bd.col0, L);
        if (bias)
          for (std::int64_t o = 0; o < p.y_channels; ++o) {
            T* d = yn + o * L + bd.col0;
            for (std::int64_t l = 0; l < bd.len; ++l) d[l] += bias[o];
          }
      }
      return;
    }
    const T* cols = chunk_columns(p, ws, x + n0 * p.x_sample(), nb);
    // A single sample's output block [C_y, L] is already the GEMM's layout.
    T* out = nb == 1 ? y + n0 * p.y_sample() : ws.mat.get(sat_mul(p.y_channels, ld));
    for (std::int64_t g = 0; g < G; ++g)
      // y_g [C_y/g, nb·L] = W_g [C_y/g, K] · cols_g [K, nb·L]
      blas::gemm<T>(false, false, cy_g, ld, K, T(1), w + g * cy_g * K, K, cols + g * K * ld, ld,
                    T(0), out + g * cy_g * ld, ld);
    if (nb > 1)
      scatter_planes(out, ld, nb, p.y_channels, L, bias, y + n0 * p.y_sample());
    else if (bias)
      add_bias_planes(out, 1, p.y_channels, L, bias);
  });
}

// x = x0 + convᵀ(y), the adjoint of apply_conv in x. x0 is x's current content, or,
// with `init`, bias[c] on every plane of channel c (zero when bias is null): each chunk
// then initialises its own samples, while they are in its thread's cache. Per chunk and
// group:
//   dcols_g [K, nb·L] = W_gᵀ [K, C_y/g] · y_g [C_y/g, nb·L]
//   x_chunk += col2im(dcols)
// Chunks hold whole samples, so no two threads add to the same part of x.
template <class T>
void apply_conv_adjoint_impl(const ConvProblem& p, const T* y, const T* w, T* x, bool init,
                             const T* bias = nullptr) {
  const std::int64_t L = p.spatial_out(), K = p.k(), G = p.groups;
  const std::int64_t cy_g = p.y_channels / G;
  const std::int64_t x_plane = p.plane.height * p.plane.width;
  auto initialise = [&](T* xs, std::int64_t nb) {
    if (!init) return;
    for (std::int64_t n = 0; n < nb; ++n)
      for (std::int64_t c = 0; c < p.plane.channels; ++c) {
        T* d = xs + n * p.x_sample() + c * x_plane;
        std::fill(d, d + x_plane, bias ? bias[c] : T(0));
      }
  };
  if (p.plane.is_dense()) {
    initialise(x, p.batch);
    for (std::int64_t g = 0; g < G; ++g)
      // x_g [N, K] += y_g [N, C_y/g] · W_g [C_y/g, K]
      blas::gemm<T>(false, false, p.batch, K, cy_g, T(1), y + g * cy_g, p.y_channels,
                    w + g * cy_g * K, K, T(1), x + g * K, p.x_sample());
    return;
  }
  if (use_depthwise(p)) {
    detail::depthwise_adjoint(y, p.batch, p.x_sample(), p.plane, p.y_channels, w, x, init, bias);
    return;
  }
  const bool pointwise = p.plane.is_pointwise();
  const int threads = team_size();
  const Chunks chunks = make_chunks(p);
  const Bands bands = make_bands(p);
  for_each_chunk(chunks, threads, [&](std::int64_t c) {
    Workspace<T>& ws = workspace<T>();
    const std::int64_t n0 = chunks.begin(c), nb = chunks.begin(c + 1) - n0;
    const std::int64_t ld = nb * L;
    // y_chunk as [C_y, nb·L]: a single sample already is.
    const T* ymat = y + n0 * p.y_sample();
    if (nb > 1) {
      T* m = ws.mat.get(sat_mul(p.y_channels, ld));
      gather_planes(ymat, nb, p.y_channels, L, m, ld);
      ymat = m;
    }
    T* xs = x + n0 * p.x_sample();
    initialise(xs, nb);
    if (nb == 1 && bands.count > 1) {
      // dcols(band) [K, B] = W_gᵀ · y_g[:, band], then col2im of the band onto x.
      for (std::int64_t b = 0; b < bands.count; ++b) {
        const Band bd = band(p, bands, b);
        T* dcols = ws.cols.get(sat_mul(G, K, bd.len));
        for (std::int64_t g = 0; g < G; ++g)
          blas::gemm<T>(true, false, K, bd.len, cy_g, T(1), w + g * cy_g * K, K,
                        ymat + g * cy_g * L + bd.col0, L, T(0), dcols + g * K * bd.len, bd.len);
        detail::col2im_batch(dcols, bd.len, 1, p.x_sample(), bd.geometry, xs);
      }
      return;
    }
    if (pointwise && nb == 1) {
      // col2im of a pointwise sample is the identity: accumulate straight into x.
      for (std::int64_t g = 0; g < G; ++g)
        // x_g [K, L] += W_gᵀ [K, C_y/g] · y_g [C_y/g, L]
        blas::gemm<T>(true, false, K, ld, cy_g, T(1), w + g * cy_g * K, K, ymat + g * cy_g * ld, ld,
                      T(1), xs + g * K * ld, ld);
      return;
    }
    T* dcols = ws.cols.get(sat_mul(G, K, ld));
    for (std::int64_t g = 0; g < G; ++g)
      // dcols_g [K, nb·L] = W_gᵀ [K, C_y/g] · y_g [C_y/g, nb·L]
      blas::gemm<T>(true, false, K, ld, cy_g, T(1), w + g * cy_g * K, K, ymat + g * cy_g * ld, ld,
                    T(0), dcols + g * K * ld, ld);
    detail::col2im_batch(dcols, ld, nb, p.x_sample(), p.plane, xs);
  });
}

// dw = Σ_n y_n ⊗ im2col(x_n): the gradient of Σ⟨dY, conv(x)⟩ in the weight. Per chunk
// and group:
//   dW_g(chunk) [C_y/g, K] = y_g [C_y/g, nb·L] · cols_gᵀ [nb·L, K]
// The chunks are split into up to kChunkMultiple consecutive runs ("lanes"); a lane
// sums its chunks in order into its own partial dW, and the partials are added in lane
// order. Lanes do not depend on the thread count (threads take whole lanes), so
// neither does the sum.
template <class T>
void conv_weight_grad_impl(const ConvProblem& p, const T* y, const T* x, T* dw) {
  const std::int64_t L = p.spatial_out(), K = p.k(), G = p.groups;
  const std::int64_t cy_g = p.y_channels / G;
  const std::int64_t dw_size = p.y_channels * K;
  if (p.batch == 0) {
    std::fill(dw, dw + dw_size, T(0));
    return;
  }
  if (p.plane.is_dense()) {
    for (std::int64_t g = 0; g < G; ++g)
      // dW_g [C_y/g, K] = y_gᵀ [C_y/g, N] · x_g [N, K]
      blas::gemm<T>(true, false, cy_g, K, p.batch, T(1), y + g * cy_g, p.y_channels, x + g * K,
                    p.x_sample(), T(0), dw + g * cy_g * K, K);
    return;
  }
  if (use_depthwise(p)) {
    detail::depthwise_weight_grad(y, x, p.batch, p.x_sample(), p.plane, p.y_channels, dw);
    return;
  }
  const int threads = team_size();
  const Chunks chunks = make_chunks(p);
  const Bands bands = make_bands(p);
  const std::int64_t lanes = std::min(kChunkMultiple, chunks.count);
  auto lane_begin = [&](std::int64_t j) { return j * chunks.count / lanes; };
  // Lane j's partial lives at partials + j·dw_size; lane 0's is dw itself.
  T* partials = lanes == 1 ? dw : workspace<T>().partial.get(sat_mul(lanes, dw_size));
  auto chunk = [&](std::int64_t c, T* out, T beta) {
    Workspace<T>& ws = workspace<T>();
    const std::int64_t n0 = chunks.begin(c), nb = chunks.begin(c + 1) - n0;
    const std::int64_t ld = nb * L;
    if (nb == 1 && bands.count > 1) {
      // dW_g (+)= y_g[:, band] [C_y/g, B] · cols_g(band)ᵀ [B, K], bands in order
      const T* yn = y + n0 * p.y_sample();
      for (std::int64_t b = 0; b < bands.count; ++b) {
        const Band bd = band(p, bands, b);
        const T* cols = band_columns(p, ws, x + n0 * p.x_sample(), bd);
        for (std::int64_t g = 0; g < G; ++g)
          blas::gemm<T>(false, true, cy_g, K, bd.len, T(1), yn + g * cy_g * L + bd.col0, L,
                        cols + g * K * bd.len, bd.len, b == 0 ? beta : T(1), out + g * cy_g * K, K);
      }
      return;
    }
    const T* cols = chunk_columns(p, ws, x + n0 * p.x_sample(), nb);
    const T* ymat = y + n0 * p.y_sample();
    if (nb > 1) {
      T* m = ws.mat.get(sat_mul(p.y_channels, ld));
      gather_planes(ymat, nb, p.y_channels, L, m, ld);
      ymat = m;
    }
    for (std::int64_t g = 0; g < G; ++g)
      blas::gemm<T>(false, true, cy_g, K, ld, T(1), ymat + g * cy_g * ld, ld, cols + g * K * ld, ld,
                    beta, out + g * cy_g * K, K);
  };
  auto lane = [&](std::int64_t j) {
    T* out = j == 0 ? dw : partials + j * dw_size;
    for (std::int64_t c = lane_begin(j); c < lane_begin(j + 1); ++c)
      chunk(c, out, c == lane_begin(j) ? T(0) : T(1));
  };
  blas::SerialScope serial;
  if (threads > 1 && lanes > 1) {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (std::int64_t j = 0; j < lanes; ++j) lane(j);
  } else {
    for (std::int64_t j = 0; j < lanes; ++j) lane(j);
  }
  if (lanes == 1) return;
  // dw = ((dw_0 + p_1) + p_2) + ...: blocks of elements over the threads, the partials
  // in lane order along contiguous (vectorised) rows.
  constexpr std::int64_t kBlock = 1024;
  const std::int64_t blocks = (dw_size + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) \
    num_threads(threads) if (threads > 1 && dw_size * lanes >= kParallelThreshold)
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    const std::int64_t i0 = blk * kBlock, i1 = std::min(dw_size, i0 + kBlock);
    for (std::int64_t j = 1; j < lanes; ++j) {
      const T* part = partials + j * dw_size;
      for (std::int64_t i = i0; i < i1; ++i) dw[i] += part[i];
    }
  }
}

// Σ over the batch and the plane, in double: the sum runs over N·H·W terms, the longest
// reduction here. A single running sum would wait on the add latency for every term
// (0.67 ms for 8×64×56×56); kLanes independent partial sums let the compiler keep
// whole vector registers of them busy.
template <class T>
void channel_sum_impl(const T* d, std::int64_t n, std::int64_t channels, std::int64_t L, T* out) {
  constexpr std::int64_t kLanes = 32;
#pragma omp parallel for schedule(static) if (n * channels * L >= kParallelThreshold)
  for (std::int64_t c = 0; c < channels; ++c) {
    double lanes[kLanes] = {};
    double tail = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
      const T* plane = d + (i * channels + c) * L;
      std::int64_t l = 0;
      for (; l + kLanes <= L; l += kLanes)
        for (std::int64_t j = 0; j < kLanes; ++j) lanes[j] += static_cast<double>(plane[l + j]);
      for (; l < L; ++l) tail += static_cast<double>(plane[l]);
    }
    double acc = tail;
    for (std::int64_t j = 0; j < kLanes; ++j) acc += lanes[j];
    out[c] = static_cast<T>(acc);
  }
}

// x = bias[c] on every plane of channel c (zeros when bias is null).
template <class T>
void add_initial(const ConvProblem& p, T* x, const T* bias) {
  const std::int64_t plane = p.plane.height * p.plane.width;
  for (std::int64_t n = 0; n < p.batch; ++n)
    for (std::int64_t c = 0; c < p.plane.channels; ++c) {
      T* d = x + n * p.x_sample() + c * plane;
      std::fill(d, d + plane, bias ? bias[c] : T(0));
    }
}

}  // namespace

template <class T>
void conv_forward(const ConvProblem& p, const T* x, const T* w, const T* bias, T* y) {
  if (p.batch == 0 || p.y_sample() == 0) return;
  apply_conv_impl(p, x, w, bias, y);
}

template <class T>
void conv_adjoint(const ConvProblem& p, const T* y, const T* w, T* x, bool init, const T* bias) {
  if (p.batch == 0 || p.x_sample() == 0) return;
  if (p.y_sample() == 0) {  // nothing to add: x is its initial value
    if (init) add_initial(p, x, bias);
    return;
  }
  apply_conv_adjoint_impl(p, y, w, x, init, bias);
}

template <class T>
void conv_weight_grad(const ConvProblem& p, const T* y, const T* x, T* dw) {
  conv_weight_grad_impl(p, y, x, dw);
}

template <class T>
void channel_sum(const T* t, std::int64_t batch, std::int64_t channels, std::int64_t L, T* out) {
  channel_sum_impl(t, batch, channels, L, out);
}

void release_conv_workspace() {
  for (auto* b : {&workspace<float>().cols, &workspace<float>().mat, &workspace<float>().partial})
    b->release();
  for (auto* b :
       {&workspace<double>().cols, &workspace<double>().mat, &workspace<double>().partial})
    b->release();
}

#define TAPEGRAD_CONV_PROBLEM_INSTANTIATE(T)                                                 \
  template void conv_forward<T>(const ConvProblem&, const T*, const T*, const T*, T*);       \
  template void conv_adjoint<T>(const ConvProblem&, const T*, const T*, T*, bool, const T*); \
  template void conv_weight_grad<T>(const ConvProblem&, const T*, const T*, T*);             \
  template void channel_sum<T>(const T*, std::int64_t, std::int64_t, std::int64_t, T*);

TAPEGRAD_CONV_PROBLEM_INSTANTIATE(float)
TAPEGRAD_CONV_PROBLEM_INSTANTIATE(double)
#undef TAPEGRAD_CONV_PROBLEM_INSTANTIATE

}  // namespace tapegrad::kernels
