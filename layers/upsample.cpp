#include <charconv>
#include <tapegrad/layers/upsample.hpp>

namespace tapegrad {

namespace {

// Python's repr of a float: shortest round trip, with ".0" on integral values.
std::string py_float(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, end);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

Upsample::Upsample(std::optional<std::vector<std::int64_t>> size,
                   std::optional<std::vector<double>> scale_factor, InterpolateMode mode,
                   std::optional<bool> align_corners, std::optional<bool> recompute_scale_factor) {
  options_.size = std::move(size);
  options_.scale_factor = std::move(scale_factor);
  options_.mode = mode;
  options_.align_corners = align_corners;
  options_.recompute_scale_factor = recompute_scale_factor;
}

Tensor Upsample::forward(const Tensor& input) { return interpolate(input, options_); }

std::string Upsample::extra_repr() const {
  std::string s;
  if (options_.scale_factor) {
    const auto& f = *options_.scale_factor;
    if (f.size() == 1) {
      s = "scale_factor=" + py_float(f[0]);
    } else {
      s = "scale_factor=(";
      for (std::size_t i = 0; i < f.size(); ++i) s += (i ? ", " : "") + py_float(f[i]);
      s += f.size() == 1 ? ",)" : ")";
    }
  } else if (options_.size) {
    s = "size=" + (options_.size->size() == 1 ? std::to_string((*options_.size)[0])
                                              : tuple_str(*options_.size));
  } else {
    s = "size=None";
  }
  return s + ", mode='" + interpolate_mode_name(options_.mode) + "'";
}

}  // namespace tapegrad
