#pragma once
// Stochastic gradient descent with momentum, dampening, Nesterov momentum, L2 weight
// decay and maximization, with exactly the equations of PyTorch 1.13's torch.optim.SGD.
#include <limits>
#include <tapegrad/optim/optimizer.hpp>
#include <vector>

namespace tapegrad::optim {

/// Options of SGD, named and defaulted as torch.optim.SGD's arguments.
struct SGDOptions {
  /// Learning rate; required, as in PyTorch (NaN means "not given" and is rejected).
  double lr = std::numeric_limits<double>::quiet_NaN();
  /// Momentum factor mu (0 disables the momentum buffer).
  double momentum = 0.0;
  /// Dampening tau of the momentum: buf = mu*buf + (1 - tau)*g (not applied on the first step).
  double dampening = 0.0;
  /// L2 penalty lambda: g += lambda*p.
  double weight_decay = 0.0;
  /// Nesterov momentum: the step is g + mu*buf; needs momentum > 0 and dampening = 0.
  bool nesterov = false;
  /// Ascend instead of descend (the gradient is negated first).
  bool maximize = false;
};

/// SGD, per parameter p with gradient g (PyTorch 1.13, torch/optim/sgd.py):
///   g <- -g if maximize;  g <- g + weight_decay*p
///   buf <- g on the first step, else momentum*buf + (1 - dampening)*g   (if momentum != 0)
///   g <- g + momentum*buf if nesterov, else buf                         (if momentum != 0)
///   p <- p - lr*g
/// State: "state.<i>.momentum_buffer" when momentum != 0.
class SGD : public Optimizer {
 public:
  /// Throws std::invalid_argument with PyTorch's messages for bad options
  /// ("SGD: Invalid momentum value: -0.5") and for bad parameters.
  SGD(std::vector<Tensor> params, const SGDOptions& options);

  /// The options, with lr as currently set (schedulers change it).
  SGDOptions options() const;

  /// The momentum option (cycled by OneCycleLR).
  bool has_cycled_momentum() const override { return true; }
  double cycled_momentum() const override { return options_.momentum; }
  void set_cycled_momentum(double value) override;

 protected:
  void update(const Tensor& param, const Tensor& grad, ParamState& state) override;
  std::vector<std::string> buffer_names() const override;
  void save_options(NamedTensors& out) const override;
  void load_options(detail::StateReader& in) override;

 private:
  SGDOptions options_;  // lr here is unused: Optimizer::lr() is the source of truth
};

}  // namespace tapegrad::optim
