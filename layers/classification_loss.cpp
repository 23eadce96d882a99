#include <stdexcept>
#include <tapegrad/layers/activation.hpp>
#include <tapegrad/layers/classification_loss.hpp>

namespace tapegrad {

NLLLoss::NLLLoss(Tensor weight, std::int64_t ignore_index, Reduction reduction)
    : Loss(reduction), ignore_index_(ignore_index) {
  if (weight.defined()) weight_ = register_buffer("weight", weight.detach());
}

Tensor NLLLoss::forward(const Tensor& input, const IndexTensor& target) {
  return nll_loss(input, target, weight_, ignore_index_, reduction());
}

Tensor NLLLoss::forward(const Tensor&, const Tensor&) {
  throw std::invalid_argument(
      "NLLLoss: the target must hold class indices (an IndexTensor), not floats");
}

CrossEntropyLoss::CrossEntropyLoss(Tensor weight, std::int64_t ignore_index, Reduction reduction,
                                   double label_smoothing)
    : Loss(reduction), ignore_index_(ignore_index), label_smoothing_(label_smoothing) {
  if (weight.defined()) weight_ = register_buffer("weight", weight.detach());
}

Tensor CrossEntropyLoss::forward(const Tensor& input, const IndexTensor& target) {
  return cross_entropy(input, target, weight_, ignore_index_, reduction(), label_smoothing_);
}

Tensor CrossEntropyLoss::forward(const Tensor& input, const Tensor& target) {
  return cross_entropy(input, target, weight_, ignore_index_, reduction(), label_smoothing_);
}

std::string CrossEntropyLoss::extra_repr() const {
  std::string r = Loss::extra_repr();
  if (label_smoothing_ != 0.0)
    r += (r.empty() ? "" : ", ") + std::string("label_smoothing=") +
         detail::format_double(label_smoothing_);
  return r;
}

}  // namespace tapegrad
