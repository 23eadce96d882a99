#include <stdexcept>
#include <string>
#include <tapegrad/core/kernels/conv_options.hpp>

namespace tapegrad::kernels {

const char* padding_mode_name(PaddingMode m) {
  switch (m) {
    case PaddingMode::Zeros:
      return "zeros";
    case PaddingMode::Reflect:
      return "reflect";
    case PaddingMode::Replicate:
      return "replicate";
    case PaddingMode::Circular:
      return "circular";
  }
  return "?";
}

PaddingMode parse_padding_mode(std::string_view name, std::string_view op) {
  if (name == "zeros") return PaddingMode::Zeros;
  if (name == "reflect") return PaddingMode::Reflect;
  if (name == "replicate") return PaddingMode::Replicate;
  if (name == "circular") return PaddingMode::Circular;
  throw std::invalid_argument(std::string(op) +
                              ": padding_mode must be one of 'zeros', 'reflect', 'replicate' or "
                              "'circular', but got padding_mode='" +
                              std::string(name) + "'");
}

Conv2dOptions& Conv2dOptions::padding(std::string_view kind) {
  if (kind == "same") {
    padding_kind_ = PaddingKind::Same;
  } else if (kind == "valid") {
    padding_kind_ = PaddingKind::Valid;
  } else {
    throw std::invalid_argument("conv2d: Invalid padding string '" + std::string(kind) +
                                "', should be one of 'valid' or 'same'");
  }
  padding_ = {0};
  return *this;
}

Shape Conv2dGeometry::input_shape() const {
  Shape s{std::size_t(in_channels), std::size_t(in_h), std::size_t(in_w)};
  if (batched) s.insert(s.begin(), std::size_t(batch));
  return s;
}

Shape Conv2dGeometry::output_shape() const {
  Shape s{std::size_t(out_channels), std::size_t(out_h), std::size_t(out_w)};
  if (batched) s.insert(s.begin(), std::size_t(batch));
  return s;
}

}  // namespace tapegrad::kernels
