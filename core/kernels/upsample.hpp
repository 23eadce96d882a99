#pragma once
// Interpolation of [planes, H, W] as sparse plane maps (plane_map.hpp), with the index
// and weight arithmetic of PyTorch 1.13's CPU upsample_nearest2d and
// upsample_bilinear2d (aten/src/ATen/native/UpSample.h), in the same precision: the
// nearest source index is floor(dst · scale) in float; bilinear positions and weights
// are computed in the input's type. Plain functions, no tape.
#include <cstdint>
#include <optional>
#include <tapegrad/core/kernels/plane_map.hpp>

namespace tapegrad::kernels {

/// The map of legacy 'nearest' interpolation from in_h×in_w to out_h×out_w: source
/// index min(floor(dst · scale), in − 1) with scale = 1/scale_factor when given (and
/// > 0), else in/out; the identity when out = in and dst/2 when out = 2·in.
PlaneMap upsample_nearest2d_map(std::int64_t in_h, std::int64_t in_w, std::int64_t out_h,
                                std::int64_t out_w, std::optional<double> scale_h,
                                std::optional<double> scale_w);

/// The map of bilinear interpolation: source position scale·dst (align_corners, scale =
/// (in − 1)/(out − 1), 0 when out = 1) or max(scale·(dst + ½) − ½, 0) (scale as for
/// nearest); weights 1 − λ and λ on the two neighbours, computed in T.
template <class T>
PlaneMap upsample_bilinear2d_map(std::int64_t in_h, std::int64_t in_w, std::int64_t out_h,
                                 std::int64_t out_w, bool align_corners,
                                 std::optional<double> scale_h, std::optional<double> scale_w);

}  // namespace tapegrad::kernels
