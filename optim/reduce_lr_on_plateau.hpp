#pragma once
// ReduceLROnPlateau: lowers the lr when a metric stops improving, with exactly the
// logic of PyTorch 1.13's torch.optim.lr_scheduler.ReduceLROnPlateau. Not an
// LRScheduler: its step takes the metric, and it changes the lr only now and then.
#include <cstdint>
#include <string>
#include <tapegrad/optim/optimizer.hpp>

namespace tapegrad::optim {

/// Options of ReduceLROnPlateau, named and defaulted as PyTorch's arguments.
struct ReduceLROnPlateauOptions {
  /// "min": the metric should go down (a loss); "max": up (an accuracy).
  std::string mode = "min";
  /// new_lr = max(lr*factor, min_lr); must be < 1.
  double factor = 0.1;
  /// Epochs without improvement tolerated before the lr is lowered.
  std::int64_t patience = 10;
  /// How much better counts as better (relative or absolute, see threshold_mode).
  double threshold = 1e-4;
  /// "rel": better means < best*(1 - threshold) ("min") or > best*(1 + threshold)
  /// ("max"); "abs": < best - threshold or > best + threshold.
  std::string threshold_mode = "rel";
  /// Epochs to wait after a reduction before counting bad epochs again.
  std::int64_t cooldown = 0;
  /// Lower bound on the lr.
  double min_lr = 0.0;
  /// A reduction smaller than eps is skipped.
  double eps = 1e-8;
};

/// Each step(metric): the metric is better than the best so far (by the threshold) or
/// the bad-epoch count goes up; during a cooldown bad epochs are not counted; when the
/// count exceeds patience, lr <- max(lr*factor, min_lr) (unless that changes it by eps
/// or less), the cooldown starts and the count restarts.
class ReduceLROnPlateau {
 public:
  /// Throws std::invalid_argument with PyTorch's messages ("Factor should be < 1.0.",
  /// "mode foo is unknown!", "threshold mode foo is unknown!").
  explicit ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options = {});
  // Holds a reference to the optimizer, whose lifetime the caller keeps.
  ReduceLROnPlateau(const ReduceLROnPlateau&) = delete;
  ReduceLROnPlateau& operator=(const ReduceLROnPlateau&) = delete;

  /// Takes one epoch's metric and lowers the optimizer's lr if it has plateaued.
  void step(double metric);

  /// The optimizer's lr after the last step (its lr at construction before any).
  double get_last_lr() const { return last_lr_; }
  /// Steps taken.
  std::int64_t last_epoch() const { return last_epoch_; }
  /// Best metric so far (+inf in "min" mode, -inf in "max" mode before any step).
  double best() const { return best_; }
  /// Consecutive epochs without improvement (outside cooldowns).
  std::int64_t num_bad_epochs() const { return num_bad_epochs_; }
  /// Epochs of cooldown left.
  std::int64_t cooldown_counter() const { return cooldown_counter_; }
  /// The options as given (or loaded).
  const ReduceLROnPlateauOptions& options() const { return options_; }

  /// "last_epoch", "best", "num_bad_epochs", "cooldown_counter", "last_lr" and the
  /// options (0-d float64; mode and threshold_mode as 0/1 flags "mode_max",
  /// "threshold_abs").
  NamedTensors state_dict() const;
  /// Strict inverse of state_dict; leaves the scheduler unchanged on error.
  void load_state_dict(const NamedTensors& dict);

 private:
  bool is_better(double a, double best) const;

  Optimizer& optimizer_;
  ReduceLROnPlateauOptions options_;
  double best_;
  std::int64_t num_bad_epochs_ = 0;
  std::int64_t cooldown_counter_ = 0;
  std::int64_t last_epoch_ = 0;
  double last_lr_;
};

}  // namespace tapegrad::optim
