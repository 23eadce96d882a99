#pragma once
// Internal taped ops over image planes shared by pooling and upsampling (not public
// API: only core/ops includes it). Each pair is mutually adjoint, so every backward
// is again one of these ops and the gradients are differentiable any number of times:
//   plane_map(x, M)        ↔ plane_map(g, M, transposed)
//   plane_gather(x, idx)   ↔ plane_scatter_add(g, idx)
// A tensor of shape [..., h, w] is seen as planes of h·w elements; the leading dims of
// input and output agree.
#include <cstdint>
#include <memory>
#include <tapegrad/core/kernels/plane_map.hpp>
#include <tapegrad/core/tensor.hpp>
#include <vector>

namespace tapegrad::detail {

/// Flat per-plane indices shared between an op's forward and its backward closures.
using PlaneIndex = std::shared_ptr<const std::vector<std::int64_t>>;
/// A plane map shared between an op's forward and its backward closures.
using SharedPlaneMap = std::shared_ptr<const kernels::PlaneMap>;

/// y = M·x per plane (Mᵀ·x when `transpose`), y of `out_shape`. Linear: its gradient
/// is the transposed map of the incoming gradient.
Tensor plane_map(const char* op, const Tensor& x, const SharedPlaneMap& m, bool transpose,
                 const Shape& out_shape);

/// y[p, o] = x[p, idx[p, o]], y of `out_shape` (idx has one entry per element of y).
/// Its gradient is plane_scatter_add by the same indices.
Tensor plane_gather(const char* op, const Tensor& x, const PlaneIndex& idx, const Shape& out_shape);

/// y of `out_shape` = 0, then y[p, idx[p, o]] += g[p, o]. Its gradient is plane_gather
/// by the same indices.
Tensor plane_scatter_add(const char* op, const Tensor& g, const PlaneIndex& idx,
                         const Shape& out_shape);

/// Elements per plane (product of the last two extents) and number of planes (product
/// of the others) of a shape of rank >= 2.
std::int64_t plane_size(const Shape& s);
std::int64_t plane_count(const Shape& s);

}  // namespace tapegrad::detail
