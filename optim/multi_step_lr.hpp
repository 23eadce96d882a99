#pragma once
// MultiStepLR: PyTorch 1.13's (Python) values, computed as PyTorch computes them,
// recursively from the optimizer's current lr.
#include <cstdint>
#include <map>
#include <tapegrad/optim/lr_scheduler.hpp>
#include <vector>

namespace tapegrad::optim {

/// Multiplies the lr by gamma^k at epoch e when e appears k times among the
/// milestones (Python's Counter), else leaves it: lr_e = lr_{e-1}*gamma^count(e).
/// Unsorted or negative milestones are allowed, as in PyTorch (a negative one is never reached).
class MultiStepLR : public LRScheduler {
 public:
  /// Leaves the lr as is (epoch 0).
  MultiStepLR(Optimizer& optimizer, std::vector<std::int64_t> milestones, double gamma = 0.1);

  /// The milestones with their multiplicities.
  const std::map<std::int64_t, std::int64_t>& milestones() const { return milestones_; }
  /// The factor per milestone.
  double gamma() const { return gamma_; }

 protected:
  double compute_lr() const override;
  void save_options(NamedTensors& out) const override;
  void load_options(detail::StateReader& in) override;

 private:
  std::map<std::int64_t, std::int64_t> milestones_;
  double gamma_;
};

}  // namespace tapegrad::optim
