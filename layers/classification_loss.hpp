#pragma once
// Classification losses as modules (torch.nn.NLLLoss, CrossEntropyLoss). Their
// targets are class indices (IndexTensor); CrossEntropyLoss also takes class
// probabilities (a Tensor of the input's shape). The class weight, if any, is a buffer.
#include <cstdint>
#include <string>
#include <tapegrad/core/index_tensor.hpp>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/layers/loss.hpp>

namespace tapegrad {

/// nll_loss(input, target, weight, ignore_index, reduction): input holds
/// log-probabilities, target class indices.
class NLLLoss : public Loss {
 public:
  /// `weight`: undefined, or [C] class weights (registered as buffer "weight").
  explicit NLLLoss(Tensor weight = {}, std::int64_t ignore_index = -100,
                   Reduction reduction = Reduction::Mean);
  using Loss::forward;
  using Loss::operator();
  /// The loss against class indices.
  Tensor forward(const Tensor& input, const IndexTensor& target);
  /// Calls forward(input, target).
  Tensor operator()(const Tensor& input, const IndexTensor& target) {
    return forward(input, target);
  }
  /// Float targets are refused: NLLLoss takes class indices.
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::int64_t ignore_index() const { return ignore_index_; }
  const Tensor& weight() const { return weight_; }

 private:
  Tensor weight_;
  std::int64_t ignore_index_;
};

/// cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing):
/// input holds logits; target class indices (IndexTensor) or probabilities (Tensor).
class CrossEntropyLoss : public Loss {
 public:
  /// `weight`: undefined, or [C] class weights (registered as buffer "weight").
  explicit CrossEntropyLoss(Tensor weight = {}, std::int64_t ignore_index = -100,
                            Reduction reduction = Reduction::Mean, double label_smoothing = 0.0);
  using Loss::forward;
  using Loss::operator();
  /// The loss against class indices.
  Tensor forward(const Tensor& input, const IndexTensor& target);
  /// Calls forward(input, target).
  Tensor operator()(const Tensor& input, const IndexTensor& target) {
    return forward(input, target);
  }
  /// The loss against class probabilities of the input's shape.
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::int64_t ignore_index() const { return ignore_index_; }
  double label_smoothing() const { return label_smoothing_; }
  const Tensor& weight() const { return weight_; }
  /// The reduction, then "label_smoothing=0.1" when set.
  std::string extra_repr() const override;

 private:
  Tensor weight_;
  std::int64_t ignore_index_;
  double label_smoothing_;
};

}  // namespace tapegrad
