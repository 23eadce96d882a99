#pragma once
// Learning-rate schedulers: StepLR and CosineAnnealingLR, producing PyTorch 1.13's
// (Python) values. Like PyTorch, a scheduler reads and writes the optimizer's
// current lr each epoch, so its formulas are recursive in the lr, not closed forms.
#include <cstdint>
#include <string>
#include <tapegrad/optim/optimizer.hpp>

namespace tapegrad::optim {

/// Base of the schedulers. Construction counts as epoch 0 and leaves the lr as is
/// (PyTorch's initial step); each step() advances one epoch and sets the lr.
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  // Holds a reference to the optimizer, whose lifetime the caller keeps.
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  /// Advances one epoch and sets the optimizer's lr to the scheduled value.
  void step();
  /// The lr this scheduler set last (the optimizer's lr unless changed since).
  double get_last_lr() const { return last_lr_; }
  /// Epochs stepped since construction (0 right after construction).
  std::int64_t last_epoch() const { return last_epoch_; }
  /// The optimizer's lr at construction (PyTorch's base_lrs[0]).
  double base_lr() const { return base_lr_; }

  /// "last_epoch", "base_lr", "last_lr" and the options, as 0-d float64 tensors.
  /// The optimizer's lr lives in the optimizer's own state_dict.
  NamedTensors state_dict() const;
  /// Strict inverse of state_dict (missing/unexpected keys and bad shapes throw,
  /// leaving the scheduler unchanged).
  void load_state_dict(const NamedTensors& dict);

 protected:
  LRScheduler(std::string name, Optimizer& optimizer);

  /// The lr for epoch last_epoch() (already advanced, >= 1) given the optimizer's current lr.
  virtual double compute_lr() const = 0;
  /// Appends the scheduler's options.
  virtual void save_options(NamedTensors& out) const = 0;
  /// Reads, validates and adopts the options written by save_options.
  virtual void load_options(detail::StateReader& in) = 0;

  /// For schedulers whose construction sets the lr (PyTorch's initial step computes
  /// it; OneCycleLR's starts from max_lr/div_factor): sets base_lr, and the
  /// optimizer's lr and last_lr to `lr`.
  void set_initial_lr(double base_lr, double lr);

  Optimizer& optimizer_;
  std::string name_;

 private:
  double base_lr_;
  double last_lr_;
  std::int64_t last_epoch_ = 0;
};

/// Multiplies the lr by gamma every step_size epochs: lr_e = lr_{e-1}*gamma when
/// e % step_size == 0 (e >= 1), else lr_{e-1}. Matches Python's torch.optim.lr_scheduler.StepLR;
/// libtorch's C++ StepLR decays one step later (it tests its counter before incrementing it).
class StepLR : public LRScheduler {
 public:
  /// step_size must be >= 1 (std::invalid_argument otherwise).
  StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma = 0.1);

  std::int64_t step_size() const { return step_size_; }
  double gamma() const { return gamma_; }

 protected:
  double compute_lr() const override;
  void save_options(NamedTensors& out) const override;
  void load_options(detail::StateReader& in) override;

 private:
  std::int64_t step_size_;
  double gamma_;
};

/// Cosine annealing from the base lr to eta_min over T_max epochs, continuing as a
/// cosine wave past T_max. Closed form: eta_min + (base - eta_min)*(1 + cos(pi*e/T_max))/2.
/// Computed, as PyTorch does, by the recursive form from the current lr
///   lr_e = (1 + cos(pi*e/T)) / (1 + cos(pi*(e-1)/T)) * (lr_{e-1} - eta_min) + eta_min,
/// with lr_e = lr_{e-1} + (base - eta_min)*(1 - cos(pi/T))/2 where the ratio is 0/0
/// ((e - 1 - T) divisible by 2T). It therefore composes with outside lr changes
/// exactly as PyTorch's does, and its values equal PyTorch's to the last bit.
class CosineAnnealingLR : public LRScheduler {
 public:
  /// T_max must be >= 1 (std::invalid_argument otherwise).
  CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min = 0.0);

  std::int64_t T_max() const { return T_max_; }
  double eta_min() const { return eta_min_; }

 protected:
  double compute_lr() const override;
  void save_options(NamedTensors& out) const override;
  void load_options(detail::StateReader& in) override;

 private:
  std::int64_t T_max_;
  double eta_min_;
};

}  // namespace tapegrad::optim
