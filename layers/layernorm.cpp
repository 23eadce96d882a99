#include <sstream>
#include <stdexcept>
#include <tapegrad/core/ops/normalization.hpp>
#include <tapegrad/layers/layernorm.hpp>

namespace tapegrad {

LayerNorm::LayerNorm(std::vector<std::int64_t> normalized_shape, double eps,
                     bool elementwise_affine, Dtype dtype)
    : normalized_shape_(std::move(normalized_shape)), eps_(eps) {
  for (auto d : normalized_shape_)
    if (d < 0)
      throw std::invalid_argument("LayerNorm: invalid normalized_shape " +
                                  list_str(normalized_shape_));
  if (elementwise_affine) {
    const Shape s(normalized_shape_.begin(), normalized_shape_.end());
    weight = register_parameter("weight", Tensor::ones(s, dtype));
    bias = register_parameter("bias", Tensor::zeros(s, dtype));
  }
}

Tensor LayerNorm::forward(const Tensor& input) {
  return layer_norm(input, normalized_shape_, weight, bias, eps_);
}

std::string LayerNorm::extra_repr() const {
  std::ostringstream os;
  os << tuple_str(normalized_shape_) << ", eps=" << eps_
     << ", elementwise_affine=" << (weight.defined() ? "true" : "false");
  return os.str();
}

GroupNorm::GroupNorm(std::size_t num_groups, std::size_t num_channels, double eps, bool affine,
                     Dtype dtype)
    : num_groups_(num_groups), num_channels_(num_channels), eps_(eps) {
  if (num_groups == 0 || num_channels % num_groups != 0)
    throw std::invalid_argument("GroupNorm: num_channels must be divisible by num_groups (got " +
                                std::to_string(num_channels) + " channels and " +
                                std::to_string(num_groups) + " groups)");
  if (affine) {
    weight = register_parameter("weight", Tensor::ones({num_channels}, dtype));
    bias = register_parameter("bias", Tensor::zeros({num_channels}, dtype));
  }
}

Tensor GroupNorm::forward(const Tensor& input) {
  return group_norm(input, std::int64_t(num_groups_), weight, bias, eps_);
}

std::string GroupNorm::extra_repr() const {
  std::ostringstream os;
  os << num_groups_ << ", " << num_channels_ << ", eps=" << eps_
     << ", affine=" << (weight.defined() ? "true" : "false");
  return os.str();
}

}  // namespace tapegrad
