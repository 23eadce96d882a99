#pragma once
// AdamW: Adam with decoupled weight decay, exactly PyTorch 1.13's torch.optim.AdamW.
#include <tapegrad/optim/adam.hpp>
#include <utility>
#include <vector>

namespace tapegrad::optim {

/// Options of AdamW: as Adam's, but weight decay defaults to 1e-2 as in PyTorch.
struct AdamWOptions {
  /// Learning rate.
  double lr = 1e-3;
  /// Decay rates (beta1, beta2) of the first and second moment averages, each in [0, 1).
  std::pair<double, double> betas{0.9, 0.999};
  /// Added to the denominator for numerical stability.
  double eps = 1e-8;
  /// Decoupled decay: the parameter shrinks by lr*weight_decay each step, outside the moments.
  double weight_decay = 1e-2;
  /// Normalize by the running maximum of the second moment (AMSGrad).
  bool amsgrad = false;
  /// Ascend instead of descend (the gradient is negated first).
  bool maximize = false;
};

/// AdamW, per parameter p with gradient g, at step t (PyTorch 1.13, torch/optim/adamw.py):
///   p <- p*(1 - lr*weight_decay)
///   then Adam's update without the L2 term (see Adam).
/// State: as Adam's.
class AdamW : public detail::AdamBase {
 public:
  /// Throws std::invalid_argument with PyTorch's messages for bad options and parameters.
  explicit AdamW(std::vector<Tensor> params, const AdamWOptions& options = {});

  /// The options, with lr as currently set.
  AdamWOptions options() const;
};

}  // namespace tapegrad::optim
