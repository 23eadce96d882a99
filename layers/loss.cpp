#include <stdexcept>
#include <tapegrad/layers/loss.hpp>

namespace tapegrad {

Tensor Loss::forward(const Tensor&) {
  throw std::logic_error(name() +
                         ": a loss takes two inputs; call forward(input, target) or "
                         "loss(input, target)");
}

std::string Loss::extra_repr() const {
  switch (reduction_) {
    case Reduction::None:
      return "reduction=none";
    case Reduction::Sum:
      return "reduction=sum";
    case Reduction::Mean:
      break;
  }
  return {};
}

Tensor MSELoss::forward(const Tensor& input, const Tensor& target) {
  return mse_loss(input, target, reduction());
}

Tensor BCELoss::forward(const Tensor& input, const Tensor& target) {
  return binary_cross_entropy(input, target, reduction());
}

Tensor BCEWithLogitsLoss::forward(const Tensor& input, const Tensor& target) {
  return binary_cross_entropy_with_logits(input, target, reduction());
}

}  // namespace tapegrad
