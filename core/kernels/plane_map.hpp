#pragma once
// Per-plane linear maps and index scatters shared by pooling and upsampling. Every
// pooling or interpolation over [planes, H, W] is, plane by plane, either
//   - a fixed sparse linear map (average pooling, nearest/bilinear interpolation):
//     y[o] = Σ_k w_k · x[src_k] over the entries of output o, the same for all planes;
//   - or a gather by data-dependent flat indices (max pooling): y[p, o] = x[p, idx[p, o]].
// The adjoint of the first is the transposed map, of the second a scatter-add by the
// same indices, and each adjoint's adjoint is the original, which is what makes the
// taped ops over them differentiable any number of times. All loops run in a fixed
// order inside a plane and in parallel over planes only, so results do not depend on
// the number of threads. Plain functions, no tape.
#include <cstdint>
#include <vector>

namespace tapegrad::kernels {

/// A sparse linear map from an input plane (in_size elements) to an output plane
/// (out_size elements), in compressed rows: the entries of output o are
/// [offsets[o], offsets[o + 1]) of `src` (flat input index) and `weight`.
struct PlaneMap {
  std::int64_t in_size = 0;
  std::int64_t out_size = 0;
  std::vector<std::int64_t> offsets{0};
  std::vector<std::int64_t> src;
  std::vector<double> weight;
  /// Empty, or one divisor per output: y[o] = (Σ_k w_k · x[src_k]) / divisor[o], the
  /// order of operations of PyTorch's average pooling (a sum, then one division).
  std::vector<double> divisor;

  /// Appends one entry to the output being built.
  void add(std::int64_t s, double w) {
    src.push_back(s);
    weight.push_back(w);
  }
  /// Closes the output being built (in output order).
  void end_output() { offsets.push_back(static_cast<std::int64_t>(src.size())); }
};

/// y [planes, out_size] = M · x [planes, in_size].
template <class T>
void apply_plane_map(const PlaneMap& m, std::int64_t planes, const T* x, T* y);

/// dx [planes, in_size] = Mᵀ · dy [planes, out_size] (dx is overwritten).
template <class T>
void apply_plane_map_transpose(const PlaneMap& m, std::int64_t planes, const T* dy, T* dx);

/// dst [planes, out_size] with dst[p, o] = src[p, idx[p, o]], src [planes, in_size].
template <class T>
void gather_planes(std::int64_t planes, std::int64_t in_size, std::int64_t out_size,
                   const std::int64_t* idx, const T* src, T* dst);

/// dst [planes, in_size] = 0, then dst[p, idx[p, o]] += src[p, o] for o in order: the
/// adjoint of gather_planes.
template <class T>
void scatter_add_planes(std::int64_t planes, std::int64_t in_size, std::int64_t out_size,
                        const std::int64_t* idx, const T* src, T* dst);

/// dst [planes, in_size] = 0, then dst[p, idx[p, o]] = src[p, o] for o in order (the
/// last write wins, as PyTorch's CPU max_unpool2d). Indices must be in [0, in_size).
template <class T>
void scatter_planes(std::int64_t planes, std::int64_t in_size, std::int64_t out_size,
                    const std::int64_t* idx, const T* src, T* dst);

}  // namespace tapegrad::kernels
