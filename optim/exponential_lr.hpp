#pragma once
// ExponentialLR: PyTorch 1.13's (Python) values, computed as PyTorch computes them,
// recursively from the optimizer's current lr.
#include <tapegrad/optim/lr_scheduler.hpp>

namespace tapegrad::optim {

/// Multiplies the lr by gamma every epoch: lr_e = lr_{e-1}*gamma (= base*gamma^e up to
/// round-off).
class ExponentialLR : public LRScheduler {
 public:
  /// Leaves the lr as is (epoch 0).
  ExponentialLR(Optimizer& optimizer, double gamma);

  /// The factor per epoch.
  double gamma() const { return gamma_; }

 protected:
  double compute_lr() const override;
  void save_options(NamedTensors& out) const override;
  void load_options(detail::StateReader& in) override;

 private:
  double gamma_;
};

}  // namespace tapegrad::optim
