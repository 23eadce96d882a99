#pragma once
// OneCycleLR (Smith & Topin's 1cycle policy): PyTorch 1.13's (Python) schedule of the
// lr and, optionally, of the momentum (SGD's/RMSprop's momentum or Adam's beta1).
// Unlike the other schedulers it sets the lr at construction (to max_lr/div_factor).
#include <cstdint>
#include <optional>
#include <string>
#include <tapegrad/optim/lr_scheduler.hpp>

namespace tapegrad::optim {

/// Options of OneCycleLR, named and defaulted as torch.optim.lr_scheduler.OneCycleLR's.
struct OneCycleLROptions {
  /// The peak lr (required).
  double max_lr = 0.0;
  /// Length of the cycle in steps; or give epochs and steps_per_epoch.
  std::optional<std::int64_t> total_steps = std::nullopt;
  std::optional<std::int64_t> epochs = std::nullopt;  ///< With steps_per_epoch: total = product.
  std::optional<std::int64_t> steps_per_epoch = std::nullopt;  ///< With epochs.
  /// Fraction of the cycle spent increasing the lr, in [0, 1].
  double pct_start = 0.3;
  /// "cos" or "linear".
  std::string anneal_strategy = "cos";
  /// Cycle the momentum inversely to the lr (needs an optimizer with one).
  bool cycle_momentum = true;
  double base_momentum = 0.85;  ///< Momentum at the lr's peak.
  double max_momentum = 0.95;   ///< Momentum at the start and the end.
  /// initial_lr = max_lr/div_factor.
  double div_factor = 25.0;
  /// min_lr = initial_lr/final_div_factor.
  double final_div_factor = 1e4;
  /// Three phases (up, down to initial_lr, down to min_lr) instead of two.
  bool three_phase = false;
};

/// With phases ending at steps end_k (pct_start*T - 1, [2*pct_start*T - 2,] T - 1) and
/// anneal(a, b, x) = b + (a - b)/2*(1 + cos(pi*x)) ("cos") or (b - a)*x + a ("linear"):
/// at step s, in the first phase with s <= end_k (or the last), lr = anneal(start_k,
/// end_k, (s - end_{k-1})/(end_k - end_{k-1})), end_0 = 0; the lr goes initial -> max ->
/// min (three_phase: initial -> max -> initial -> min), the momentum max -> base -> max.
/// Stepping past total_steps throws. At s = total_steps (allowed, as in PyTorch) the
/// linear schedule's overshoot below zero is clamped to 0.
class OneCycleLR : public LRScheduler {
 public:
  /// Validates as PyTorch (its messages), sets the optimizer's lr to max_lr/div_factor
  /// and, with cycle_momentum, its momentum to max_momentum.
  OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options);

  /// The options as given.
  const OneCycleLROptions& options() const { return options_; }
  /// The cycle's length in steps.
  std::int64_t total_steps() const { return total_steps_; }

 protected:
  double compute_lr() const override;
  void save_options(NamedTensors& out) const override;
  void load_options(detail::StateReader& in) override;

 private:
  OneCycleLROptions options_;
  std::int64_t total_steps_;
};

}  // namespace tapegrad::optim
