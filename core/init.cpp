#include <cmath>
#include <stdexcept>
#include <tapegrad/core/init.hpp>

namespace tapegrad::init {
namespace {

// Writes f() into every element, drawing in the container's row-major order so
// a seed fixes each element's value independently of the dtype.
template <class F>
Tensor& fill_with(const char* op, Tensor& t, F&& f) {
  check_defined(op, t, "tensor");
  dispatch(t.dtype(), [&]<class T>() {
    for (auto& x : t.value<T>()) x = static_cast<T>(f());
  });
  return t;
}

bool has_zero_extent(const Tensor& t) {
  for (auto d : t.shape())
    if (d == 0) return true;
  return false;
}

std::size_t fan_for(const Tensor& t, FanMode mode) {
  const Fans f = calculate_fan_in_and_fan_out(t.shape());
  return mode == FanMode::FanIn ? f.fan_in : f.fan_out;
}

}  // namespace

Nonlinearity parse_nonlinearity(const std::string& name) {
  if (name == "linear") return Nonlinearity::Linear;
  if (name == "conv1d") return Nonlinearity::Conv1d;
  if (name == "conv2d") return Nonlinearity::Conv2d;
  if (name == "conv3d") return Nonlinearity::Conv3d;
  if (name == "conv_transpose1d") return Nonlinearity::ConvTranspose1d;
  if (name == "conv_transpose2d") return Nonlinearity::ConvTranspose2d;
  if (name == "conv_transpose3d") return Nonlinearity::ConvTranspose3d;
  if (name == "sigmoid") return Nonlinearity::Sigmoid;
  if (name == "tanh") return Nonlinearity::Tanh;
  if (name == "relu") return Nonlinearity::ReLU;
  if (name == "leaky_relu") return Nonlinearity::LeakyReLU;
  if (name == "selu") return Nonlinearity::SELU;
  throw std::invalid_argument("init: unsupported nonlinearity \"" + name +
                              "\" (expected linear, conv1d, conv2d, conv3d, conv_transpose1d, "
                              "conv_transpose2d, conv_transpose3d, sigmoid, tanh, relu, "
                              "leaky_relu or selu)");
}

Fans calculate_fan_in_and_fan_out(const Shape& shape) {
  if (shape.size() < 2)
    throw std::invalid_argument(
        "init::calculate_fan_in_and_fan_out: fan in and fan out need a tensor with at least 2 "
        "dimensions, got shape " +
        shape_str(shape));
  // Dims 2.. are the receptive field (kernel) of a conv weight; 1 for a Linear weight.
  std::size_t receptive_field = 1;
  for (std::size_t i = 2; i < shape.size(); ++i) receptive_field *= shape[i];
  return {shape[1] * receptive_field, shape[0] * receptive_field};
}

Fans calculate_fan_in_and_fan_out(const Tensor& t) {
  check_defined("init::calculate_fan_in_and_fan_out", t, "tensor");
  return calculate_fan_in_and_fan_out(t.shape());
}

double calculate_gain(Nonlinearity nonlinearity, std::optional<double> param) {
  switch (nonlinearity) {
    case Nonlinearity::Linear:
    case Nonlinearity::Conv1d:
    case Nonlinearity::Conv2d:
    case Nonlinearity::Conv3d:
    case Nonlinearity::ConvTranspose1d:
    case Nonlinearity::ConvTranspose2d:
    case Nonlinearity::ConvTranspose3d:
    case Nonlinearity::Sigmoid:
      return 1.0;
    case Nonlinearity::Tanh:
      return 5.0 / 3.0;
    case Nonlinearity::ReLU:
      return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU: {
      const double slope = param.value_or(0.01);
      return std::sqrt(2.0 / (1.0 + slope * slope));
    }
    case Nonlinearity::SELU:
      // Chosen in PyTorch to keep the input variance in a sensible range for SELU nets.
      return 3.0 / 4.0;
  }
  throw std::invalid_argument("init::calculate_gain: unknown nonlinearity");
}

double calculate_gain(const std::string& nonlinearity, std::optional<double> param) {
  return calculate_gain(parse_nonlinearity(nonlinearity), param);
}

Tensor& constant_(Tensor& t, double value) {
  return fill_with("init::constant_", t, [&] { return value; });
}
Tensor& zeros_(Tensor& t) { return constant_(t, 0.0); }
Tensor& ones_(Tensor& t) { return constant_(t, 1.0); }

Tensor& uniform_(Tensor& t, Generator& gen, double a, double b) {
  if (!(a <= b))
    throw std::invalid_argument("init::uniform_: expected a <= b, got a=" + std::to_string(a) +
                                ", b=" + std::to_string(b));
  return fill_with("init::uniform_", t, [&] { return gen.uniform(a, b); });
}

Tensor& normal_(Tensor& t, Generator& gen, double mean, double std) {
  if (!(std >= 0))
    throw std::invalid_argument("init::normal_: expected std >= 0, got std=" + std::to_string(std));
  return fill_with("init::normal_", t, [&] { return gen.normal(mean, std); });
}

Tensor& kaiming_uniform_(Tensor& t, Generator& gen, double a, FanMode mode,
                         Nonlinearity nonlinearity) {
  check_defined("init::kaiming_uniform_", t, "tensor");
  if (has_zero_extent(t)) return t;
  const double fan = static_cast<double>(fan_for(t, mode));
  const double std = calculate_gain(nonlinearity, a) / std::sqrt(fan);
  const double bound = std::sqrt(3.0) * std;  // U(-b, b) has variance b²/3 = std²
  return uniform_(t, gen, -bound, bound);
}

Tensor& kaiming_normal_(Tensor& t, Generator& gen, double a, FanMode mode,
                        Nonlinearity nonlinearity) {
  check_defined("init::kaiming_normal_", t, "tensor");
  if (has_zero_extent(t)) return t;
  const double fan = static_cast<double>(fan_for(t, mode));
  return normal_(t, gen, 0.0, calculate_gain(nonlinearity, a) / std::sqrt(fan));
}

Tensor& xavier_uniform_(Tensor& t, Generator& gen, double gain) {
  check_defined("init::xavier_uniform_", t, "tensor");
  const Fans f = calculate_fan_in_and_fan_out(t.shape());
  if (f.fan_in + f.fan_out == 0) return t;  // zero-sized: nothing to fill
  const double std = gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out));
  const double bound = std::sqrt(3.0) * std;
  return uniform_(t, gen, -bound, bound);
}

Tensor& xavier_normal_(Tensor& t, Generator& gen, double gain) {
  check_defined("init::xavier_normal_", t, "tensor");
  const Fans f = calculate_fan_in_and_fan_out(t.shape());
  if (f.fan_in + f.fan_out == 0) return t;
  const double std = gain * std::sqrt(2.0 / static_cast<double>(f.fan_in + f.fan_out));
  return normal_(t, gen, 0.0, std);
}

}  // namespace tapegrad::init
