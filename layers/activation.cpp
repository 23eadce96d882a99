#include <charconv>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/layers/activation.hpp>

namespace tapegrad {

namespace detail {
std::string format_double(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc{} ? std::string(buf, end) : std::to_string(v);
}
}  // namespace detail

Tensor ReLU::forward(const Tensor& input) { return relu(input); }

Tensor LeakyReLU::forward(const Tensor& input) { return leaky_relu(input, negative_slope_); }

std::string LeakyReLU::extra_repr() const {
  return "negative_slope=" + detail::format_double(negative_slope_);
}

Tensor Sigmoid::forward(const Tensor& input) { return sigmoid(input); }

Tensor Tanh::forward(const Tensor& input) { return tanh(input); }

}  // namespace tapegrad
