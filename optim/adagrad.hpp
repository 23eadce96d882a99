#pragma once
// Adagrad (with learning-rate decay, L2 weight decay and an initial accumulator), with
// exactly the single-tensor equations of PyTorch 1.13's torch.optim.Adagrad.
#include <tapegrad/optim/optimizer.hpp>
#include <vector>

namespace tapegrad::optim {

/// Options of Adagrad, named and defaulted as torch.optim.Adagrad's arguments.
struct AdagradOptions {
  /// Learning rate.
  double lr = 1e-2;
  /// The step size at step t is lr / (1 + (t - 1)*lr_decay).
  double lr_decay = 0.0;
  /// L2 penalty added to the gradient.
  double weight_decay = 0.0;
  /// Starting value of the sum of squared gradients.
  double initial_accumulator_value = 0.0;
  /// Added to the denominator for numerical stability.
  double eps = 1e-10;
};

/// Adagrad, per parameter p with gradient g, at step t (PyTorch 1.13, torch/optim/adagrad.py):
///   g <- g + weight_decay*p
///   clr = lr / (1 + (t - 1)*lr_decay)
///   sum <- sum + g*g            (sum starts at initial_accumulator_value)
///   p <- p - clr*g/(sqrt(sum) + eps)
/// State: "state.<i>.step", "state.<i>.sum". PyTorch creates the state of every
/// parameter at construction; here it appears at a parameter's first update, which
/// gives the same values (a parameter without a gradient is never updated).
class Adagrad : public Optimizer {
 public:
  /// Throws std::invalid_argument with PyTorch's messages ("Adagrad: Invalid lr_decay
  /// value: -1") for bad options and for bad parameters.
  explicit Adagrad(std::vector<Tensor> params, const AdagradOptions& options = {});

  /// The options, with lr as currently set (schedulers change it).
  AdagradOptions options() const;

 protected:
  void update(const Tensor& param, const Tensor& grad, ParamState& state) override;
  std::vector<std::string> buffer_names() const override { return {"sum"}; }
  bool has_step_state() const override { return true; }
  void save_options(NamedTensors& out) const override;
  void load_options(detail::StateReader& in) override;

 private:
  AdagradOptions options_;  // lr here is unused: Optimizer::lr() is the source of truth
};

}  // namespace tapegrad::optim
