#include <stdexcept>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/layers/activation.hpp>
#include <tapegrad/layers/activation_extra.hpp>

namespace tapegrad {

using detail::format_double;

Tensor Softmax::forward(const Tensor& input) { return softmax(input, dim_); }
std::string Softmax::extra_repr() const { return "dim=" + std::to_string(dim_); }

Tensor LogSoftmax::forward(const Tensor& input) { return log_softmax(input, dim_); }
std::string LogSoftmax::extra_repr() const { return "dim=" + std::to_string(dim_); }

GELU::GELU(std::string approximate) : approximate_(std::move(approximate)) {
  if (approximate_ != "none" && approximate_ != "tanh")
    throw std::invalid_argument("GELU: approximate argument must be either none or tanh. (got '" +
                                approximate_ + "')");
}
Tensor GELU::forward(const Tensor& input) { return gelu(input, approximate_); }
std::string GELU::extra_repr() const { return "approximate='" + approximate_ + "'"; }

Tensor SiLU::forward(const Tensor& input) { return silu(input); }

Tensor Softplus::forward(const Tensor& input) { return softplus(input, beta_, threshold_); }
std::string Softplus::extra_repr() const {
  return "beta=" + format_double(beta_) + ", threshold=" + format_double(threshold_);
}

Tensor ELU::forward(const Tensor& input) { return elu(input, alpha_); }
std::string ELU::extra_repr() const { return "alpha=" + format_double(alpha_); }

Tensor Hardtanh::forward(const Tensor& input) { return hardtanh(input, min_val_, max_val_); }
std::string Hardtanh::extra_repr() const {
  return "min_val=" + format_double(min_val_) + ", max_val=" + format_double(max_val_);
}

Tensor ReLU6::forward(const Tensor& input) { return relu6(input); }

}  // namespace tapegrad
