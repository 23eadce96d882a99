#include <cmath>
#include <stdexcept>
#include <tapegrad/core/init.hpp>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/layers/linear.hpp>

namespace tapegrad {

Linear::Linear(std::size_t in_features, std::size_t out_features, Generator& gen, bool bias,
               Dtype dtype)
    : in_features_(in_features), out_features_(out_features) {
  weight = register_parameter("weight", Tensor::zeros({out_features, in_features}, dtype));
  if (bias) this->bias = register_parameter("bias", Tensor::zeros({out_features}, dtype));
  reset_parameters(gen);
}

Linear::Linear(std::size_t in_features, std::size_t out_features, bool bias, std::uint64_t seed,
               Dtype dtype)
    : in_features_(in_features), out_features_(out_features) {
  Generator gen(seed);
  weight = register_parameter("weight", Tensor::zeros({out_features, in_features}, dtype));
  if (bias) this->bias = register_parameter("bias", Tensor::zeros({out_features}, dtype));
  reset_parameters(gen);
}

void Linear::reset_parameters(Generator& gen) {
  // kaiming_uniform with a=√5: gain √(2/(1+5)), bound √3·gain/√fan_in = 1/√fan_in.
  init::kaiming_uniform_(weight, gen, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = in_features_ > 0 ? 1.0 / std::sqrt(double(in_features_)) : 0.0;
    init::uniform_(bias, gen, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& input) {
  check_defined("Linear", input);
  if (input.dim() == 0 || input.size(-1) != in_features_)
    throw std::invalid_argument(
        "Linear: expected an input of shape [..., " + std::to_string(in_features_) +
        "] (in_features=" + std::to_string(in_features_) + "), got " + shape_str(input.shape()));
  if (input.dtype() != weight.dtype())
    throw std::invalid_argument(std::string("Linear: input is ") + dtype_name(input.dtype()) +
                                " but the weight is " + dtype_name(weight.dtype()) +
                                " (convert the input, or the module with Module::to)");
  // [..., in] @ [in, out] -> [..., out]; the bias broadcasts over the leading dims.
  Tensor y = matmul(input, transpose(weight, 0, 1));
  return bias.defined() ? add(y, bias) : y;
}

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features_) +
         ", out_features=" + std::to_string(out_features_) +
         ", bias=" + (bias.defined() ? "true" : "false");
}

}  // namespace tapegrad
