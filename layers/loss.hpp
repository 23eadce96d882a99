#pragma once
// Loss functions as modules (torch.nn.MSELoss, BCELoss, BCEWithLogitsLoss), thin
// wrappers over the differentiable functions in core/ops.hpp that remember the
// reduction. They take two inputs: call loss(input, target).
#include <string>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/layers/module.hpp>

namespace tapegrad {

/// Common base of the losses: holds the reduction and provides loss(input, target).
class Loss : public Module {
 public:
  explicit Loss(Reduction reduction = Reduction::Mean) : reduction_(reduction) {}
  /// The loss of `input` against `target`, reduced as configured.
  virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
  /// Calls forward(input, target).
  Tensor operator()(const Tensor& input, const Tensor& target) { return forward(input, target); }
  /// Losses need a target: throws std::logic_error pointing at forward(input, target).
  Tensor forward(const Tensor& input) override;

  Reduction reduction() const { return reduction_; }
  /// Empty for the default "mean" (PyTorch prints "MSELoss()"), else "reduction=sum".
  std::string extra_repr() const override;

 private:
  Reduction reduction_;
};

/// Mean (or summed) squared error: (input - target)².
class MSELoss : public Loss {
 public:
  explicit MSELoss(Reduction reduction = Reduction::Mean) : Loss(reduction) {}
  /// reduction "none", "mean" or "sum".
  explicit MSELoss(const std::string& reduction) : Loss(parse_reduction(reduction)) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
};

/// Binary cross entropy of probabilities in [0, 1]: -(t log x + (1-t) log(1-x)).
class BCELoss : public Loss {
 public:
  explicit BCELoss(Reduction reduction = Reduction::Mean) : Loss(reduction) {}
  explicit BCELoss(const std::string& reduction) : Loss(parse_reduction(reduction)) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
};

/// Binary cross entropy of logits: BCELoss(sigmoid(x), t), computed without the
/// overflow and log(0) of doing those two steps separately.
class BCEWithLogitsLoss : public Loss {
 public:
  explicit BCEWithLogitsLoss(Reduction reduction = Reduction::Mean) : Loss(reduction) {}
  explicit BCEWithLogitsLoss(const std::string& reduction) : Loss(parse_reduction(reduction)) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
};

}  // namespace tapegrad
