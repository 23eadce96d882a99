// Nearest and bilinear interpolation maps (see upsample.hpp).
#include <algorithm>
#include <cmath>
#include <tapegrad/core/kernels/upsample.hpp>
#include <vector>

namespace tapegrad::kernels {

namespace {

// PyTorch's compute_scales_value: 1/scale_factor when one was given, else in/out.
template <class S>
S scales_value(std::optional<double> scale, std::int64_t in, std::int64_t out) {
  return (scale && *scale > 0.) ? static_cast<S>(1.0 / *scale)
                                : static_cast<S>(in) / static_cast<S>(out);
}

// PyTorch's nearest_idx, for every output index of one axis.
std::vector<std::int64_t> nearest_indices(std::int64_t in, std::int64_t out,
                                          std::optional<double> scale) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(out));
  const float s = scales_value<float>(scale, in, out);
  for (std::int64_t o = 0; o < out; ++o) {
    if (out == in)
      idx[o] = o;
    else if (out == 2 * in)
      idx[o] = o >> 1;
    else
      idx[o] = std::min(static_cast<std::int64_t>(std::floor(static_cast<float>(o) * s)), in - 1);
  }
  return idx;
}

// One axis of bilinear interpolation: the lower neighbour, the offset to the upper one
// (0 at the last input index) and the two weights, as compute_indices_weights_linear.
template <class T>
struct LinearAxis {
  std::vector<std::int64_t> i0, offset;
  std::vector<T> lambda0, lambda1;
};

template <class T>
LinearAxis<T> linear_axis(std::int64_t in, std::int64_t out, bool align_corners,
                          std::optional<double> scale) {
  LinearAxis<T> a;
  T s;
  if (align_corners)
    s = out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0);
  else
    s = scales_value<T>(scale, in, out);
  for (std::int64_t o = 0; o < out; ++o) {
    T real;
    if (align_corners) {
      real = s * static_cast<T>(o);
    } else {
      real = s * (static_cast<T>(o) + T(0.5)) - T(0.5);
      if (real < T(0)) real = T(0);
    }
    const auto i0 = static_cast<std::int64_t>(real);
    a.i0.push_back(i0);
    a.offset.push_back(i0 < in - 1 ? 1 : 0);
    const T l1 = real - static_cast<T>(i0);
    a.lambda1.push_back(l1);
    a.lambda0.push_back(T(1) - l1);
  }
  return a;
}

}  // namespace

PlaneMap upsample_nearest2d_map(std::int64_t in_h, std::int64_t in_w, std::int64_t out_h,
                                std::int64_t out_w, std::optional<double> scale_h,
                                std::optional<double> scale_w) {
  const auto rows = nearest_indices(in_h, out_h, scale_h);
  const auto cols = nearest_indices(in_w, out_w, scale_w);
  PlaneMap m;
  m.in_size = in_h * in_w;
  m.out_size = out_h * out_w;
  for (std::int64_t oh = 0; oh < out_h; ++oh)
    for (std::int64_t ow = 0; ow < out_w; ++ow) {
      m.add(rows[oh] * in_w + cols[ow], 1.0);
      m.end_output();
    }
  return m;
}

template <class T>
PlaneMap upsample_bilinear2d_map(std::int64_t in_h, std::int64_t in_w, std::int64_t out_h,
                                 std::int64_t out_w, bool align_corners,
                                 std::optional<double> scale_h, std::optional<double> scale_w) {
  const LinearAxis<T> h = linear_axis<T>(in_h, out_h, align_corners, scale_h);
  const LinearAxis<T> w = linear_axis<T>(in_w, out_w, align_corners, scale_w);
  PlaneMap m;
  m.in_size = in_h * in_w;
  m.out_size = out_h * out_w;
  for (std::int64_t oh = 0; oh < out_h; ++oh)
    for (std::int64_t ow = 0; ow < out_w; ++ow) {
      const std::int64_t r0 = h.i0[oh] * in_w, r1 = r0 + h.offset[oh] * in_w;
      const std::int64_t c0 = w.i0[ow], c1 = c0 + w.offset[ow];
      // Products in T, as PyTorch forms them before the multiply-adds.
      m.add(r0 + c0, static_cast<double>(static_cast<T>(h.lambda0[oh] * w.lambda0[ow])));
      m.add(r0 + c1, static_cast<double>(static_cast<T>(h.lambda0[oh] * w.lambda1[ow])));
      m.add(r1 + c0, static_cast<double>(static_cast<T>(h.lambda1[oh] * w.lambda0[ow])));
      m.add(r1 + c1, static_cast<double>(static_cast<T>(h.lambda1[oh] * w.lambda1[ow])));
      m.end_output();
    }
  return m;
}

template PlaneMap upsample_bilinear2d_map<float>(std::int64_t, std::int64_t, std::int64_t,
                                                 std::int64_t, bool, std::optional<double>,
                                                 std::optional<double>);
template PlaneMap upsample_bilinear2d_map<double>(std::int64_t, std::int64_t, std::int64_t,
                                                  std::int64_t, bool, std::optional<double>,
                                                  std::optional<double>);

}  // namespace tapegrad::kernels
