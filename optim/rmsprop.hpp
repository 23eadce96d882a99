#pragma once
// RMSprop (optionally centered, with momentum and L2 weight decay), with exactly the
// single-tensor equations of PyTorch 1.13's torch.optim.RMSprop.
#include <tapegrad/optim/optimizer.hpp>
#include <vector>

namespace tapegrad::optim {

/// Options of RMSprop, named and defaulted as torch.optim.RMSprop's arguments.
struct RMSpropOptions {
  /// Learning rate.
  double lr = 1e-2;
  /// Smoothing constant of the running average of g².
  double alpha = 0.99;
  /// Added to the denominator for numerical stability.
  double eps = 1e-8;
  /// L2 penalty added to the gradient.
  double weight_decay = 0.0;
  /// Momentum factor (0 disables the momentum buffer).
  double momentum = 0.0;
  /// Normalize by an estimate of the variance (E[g²] − E[g]²) instead of E[g²].
  bool centered = false;
};

/// RMSprop, per parameter p with gradient g (PyTorch 1.13, torch/optim/rmsprop.py):
///   g <- g + weight_decay*p
///   v <- alpha*v + (1 - alpha)*g*g
///   if centered: m <- alpha*m + (1 - alpha)*g;  avg = sqrt(v - m*m) + eps
///   else:        avg = sqrt(v) + eps
///   if momentum > 0: buf <- momentum*buf + g/avg;  p <- p - lr*buf
///   else:            p <- p - lr*g/avg
/// State: "state.<i>.step", "state.<i>.square_avg", with momentum > 0
/// "state.<i>.momentum_buffer", with centered "state.<i>.grad_avg".
class RMSprop : public Optimizer {
 public:
  /// Throws std::invalid_argument with PyTorch's messages ("RMSprop: Invalid alpha
  /// value: -1") for bad options and for bad parameters.
  explicit RMSprop(std::vector<Tensor> params, const RMSpropOptions& options = {});

  /// The options, with lr as currently set (schedulers change it).
  RMSpropOptions options() const;

  /// The momentum option (cycled by OneCycleLR).
  bool has_cycled_momentum() const override { return true; }
  double cycled_momentum() const override { return options_.momentum; }
  void set_cycled_momentum(double value) override;

 protected:
  void update(const Tensor& param, const Tensor& grad, ParamState& state) override;
  std::vector<std::string> buffer_names() const override;
  bool has_step_state() const override { return true; }
  void save_options(NamedTensors& out) const override;
  void load_options(detail::StateReader& in) override;

 private:
  RMSpropOptions options_;  // lr here is unused: Optimizer::lr() is the source of truth
};

}  // namespace tapegrad::optim
