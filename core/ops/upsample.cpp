#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/kernels/upsample.hpp>
#include <tapegrad/core/ops/plane_ops.hpp>
#include <tapegrad/core/ops/upsample.hpp>

namespace tapegrad {

namespace {

std::string doubles_str(const std::vector<double>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v[i]);
    s += buf;
  }
  return s + "]";
}

}  // namespace

const char* interpolate_mode_name(InterpolateMode m) {
  return m == InterpolateMode::Nearest ? "nearest" : "bilinear";
}

Tensor interpolate(const Tensor& input, const InterpolateOptions& o) {
  const char* op = "interpolate";
  check_defined(op, input);
  auto fail = [op](const std::string& m) {
    throw std::invalid_argument(std::string(op) + ": " + m);
  };
  const bool nearest = o.mode == InterpolateMode::Nearest;
  if (nearest && o.align_corners)
    fail(
        "align_corners option can only be set with the interpolating modes: linear | bilinear | "
        "bicubic | trilinear");
  const Shape in = input.shape();
  if (in.size() != 4) {
    if (!nearest)
      fail("Got " + std::to_string(in.size()) + "D input, but bilinear mode needs 4D input");
    fail(
        "expected a 4D input [N, C, H, W] (1-D and 3-D interpolation are not implemented), "
        "but got " +
        shape_str(in));
  }
  if (!o.size && !o.scale_factor) fail("either size or scale_factor should be defined");
  if (o.size && o.scale_factor) fail("only one of size or scale_factor should be defined");
  std::vector<std::int64_t> out(2);
  std::optional<double> scale_h, scale_w;
  if (o.size) {
    const auto& s = *o.size;
    if (s.size() != 1 && s.size() != 2)
      fail(
          "Input and output must have the same number of spatial dimensions, but got input with "
          "spatial dimensions of " +
          list_str({to_i64(op, in[2]), to_i64(op, in[3])}) + " and output size of " + list_str(s) +
          ". Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
          "(o1, o2, ...,oK) format.");
    out = {s[0], s.size() == 1 ? s[0] : s[1]};
  } else {
    const auto& f = *o.scale_factor;
    if (f.size() != 1 && f.size() != 2)
      fail("scale_factor shape must match input shape. Input is 2D, scale_factor size is " +
           doubles_str(f));
    const double fh = f[0], fw = f.size() == 1 ? f[0] : f[1];
    for (double v : {fh, fw})
      if (!std::isfinite(v) || v * double(std::max(in[2], in[3])) > double(kMaxNumel))
        fail("scale_factor " + doubles_str(f) + " is not a finite value of a representable size");
    out = {std::int64_t(std::floor(double(in[2]) * fh)),
           std::int64_t(std::floor(double(in[3]) * fw))};
    if (!o.recompute_scale_factor.value_or(false)) {
      scale_h = fh;
      scale_w = fw;
    }
  }
  const std::int64_t ih = to_i64(op, in[2]), iw = to_i64(op, in[3]);
  if (in[1] * in[2] * in[3] == 0)
    fail("Non-empty 4D data tensor expected but got a tensor with sizes " + shape_str(in));
  if (!(ih > 0 && iw > 0 && out[0] > 0 && out[1] > 0))
    fail("Input and output sizes should be greater than 0, but got input (H: " +
         std::to_string(ih) + ", W: " + std::to_string(iw) +
         ") output (H: " + std::to_string(out[0]) + ", W: " + std::to_string(out[1]) + ")");
  const Shape out_shape{in[0], in[1], std::size_t(out[0]), std::size_t(out[1])};
  checked_numel(op, out_shape);
  auto m = dispatch(input.dtype(), [&]<class T>() {
    return std::make_shared<const kernels::PlaneMap>(
        nearest ? kernels::upsample_nearest2d_map(ih, iw, out[0], out[1], scale_h, scale_w)
                : kernels::upsample_bilinear2d_map<T>(
                      ih, iw, out[0], out[1], o.align_corners.value_or(false), scale_h, scale_w));
  });
  return detail::plane_map(nearest ? "upsample_nearest2d" : "upsample_bilinear2d", input, m, false,
                           out_shape);
}

}  // namespace tapegrad
