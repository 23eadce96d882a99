#pragma once
// Adam (with optional L2 weight decay and AMSGrad), with exactly the single-tensor
// equations of PyTorch 1.13's torch.optim.Adam. AdamW (adamw.hpp) shares the
// machinery: the two differ only in where weight decay enters.
#include <tapegrad/optim/optimizer.hpp>
#include <utility>
#include <vector>

namespace tapegrad::optim {

/// Options of Adam, named and defaulted as torch.optim.Adam's arguments.
struct AdamOptions {
  /// Learning rate.
  double lr = 1e-3;
  /// Decay rates (beta1, beta2) of the first and second moment averages, each in [0, 1).
  std::pair<double, double> betas{0.9, 0.999};
  /// Added to the denominator for numerical stability.
  double eps = 1e-8;
  /// L2 penalty added to the gradient (coupled: it passes through the moments).
  double weight_decay = 0.0;
  /// Normalize by the running maximum of the second moment (AMSGrad).
  bool amsgrad = false;
  /// Ascend instead of descend (the gradient is negated first).
  bool maximize = false;
};

namespace detail {

/// Machinery shared by Adam and AdamW; `decoupled` selects AdamW's weight decay
/// (p <- p*(1 - lr*wd) before the update) over Adam's (g <- g + wd*p).
class AdamBase : public Optimizer {
 protected:
  AdamBase(const char* name, bool decoupled, std::vector<Tensor> params,
           const AdamOptions& options);

  void update(const Tensor& param, const Tensor& grad, ParamState& state) override;
  std::vector<std::string> buffer_names() const override;
  bool has_step_state() const override { return true; }
  void save_options(NamedTensors& out) const override;
  void load_options(StateReader& in) override;

 public:
  /// beta1 (cycled by OneCycleLR, as PyTorch does for optimizers with betas).
  bool has_cycled_momentum() const override { return true; }
  double cycled_momentum() const override { return options_.betas.first; }
  void set_cycled_momentum(double value) override;

 protected:
  /// Throws PyTorch's messages ("Invalid beta parameter at index 0: 1.5").
  void validate(const AdamOptions& o) const;

  AdamOptions options_;  // lr here is unused: Optimizer::lr() is the source of truth
  bool decoupled_;
};

}  // namespace detail

/// Adam, per parameter p with gradient g, at step t (PyTorch 1.13, torch/optim/adam.py):
///   g <- -g if maximize;  g <- g + weight_decay*p
///   m <- beta1*m + (1 - beta1)*g;   v <- beta2*v + (1 - beta2)*g*g
///   vmax <- max(vmax, v) and use vmax for v below          (if amsgrad)
///   denom = sqrt(v)/sqrt(1 - beta2^t) + eps
///   p <- p - lr/(1 - beta1^t) * m/denom
/// State: "state.<i>.step", "state.<i>.exp_avg", "state.<i>.exp_avg_sq" and, with
/// amsgrad, "state.<i>.max_exp_avg_sq".
class Adam : public detail::AdamBase {
 public:
  /// Throws std::invalid_argument with PyTorch's messages for bad options and parameters.
  explicit Adam(std::vector<Tensor> params, const AdamOptions& options = {});

  /// The options, with lr as currently set.
  AdamOptions options() const;
};

}  // namespace tapegrad::optim
