#include <cmath>
#include <numbers>
#include <stdexcept>
#include <tapegrad/optim/lr_scheduler.hpp>

namespace tapegrad::optim {

LRScheduler::LRScheduler(std::string name, Optimizer& optimizer)
    : optimizer_(optimizer),
      name_(std::move(name)),
      base_lr_(optimizer.lr()),
      last_lr_(optimizer.lr()) {}

void LRScheduler::step() {
  ++last_epoch_;
  double lr = 0.0;
  try {
    lr = compute_lr();
    optimizer_.set_lr(lr);  // rejects a negative or NaN schedule value
  } catch (...) {
    --last_epoch_;
    throw;
  }
  last_lr_ = lr;
}

void LRScheduler::set_initial_lr(double base_lr, double lr) {
  optimizer_.set_lr(lr);
  base_lr_ = base_lr;  // PyTorch's base_lrs come from group['initial_lr'], set by the scheduler
  last_lr_ = lr;
}

NamedTensors LRScheduler::state_dict() const {
  NamedTensors out;
  detail::put_scalar(out, "last_epoch", static_cast<double>(last_epoch_));
  detail::put_scalar(out, "base_lr", base_lr_);
  detail::put_scalar(out, "last_lr", last_lr_);
  save_options(out);
  return out;
}

void LRScheduler::load_state_dict(const NamedTensors& dict) {
  detail::StateReader in(name_ + ".load_state_dict", dict);
  const std::int64_t last_epoch = in.integer("last_epoch");
  if (last_epoch < 0) in.fail("key 'last_epoch' must be >= 0, got " + std::to_string(last_epoch));
  const double base_lr = in.scalar("base_lr");
  const double last_lr = in.scalar("last_lr");
  NamedTensors old_options;
  save_options(old_options);
  try {
    load_options(in);
    in.expect_all_used();
  } catch (...) {
    detail::StateReader restore(name_, old_options);
    load_options(restore);
    throw;
  }
  last_epoch_ = last_epoch;
  base_lr_ = base_lr;
  last_lr_ = last_lr;
}

// ---- StepLR ----

namespace {
std::int64_t checked_positive(const std::string& who, const char* what, std::int64_t v) {
  // PyTorch does not check these and fails later with a division by zero.
  if (v < 1) {
    throw std::invalid_argument(who + ": " + what + " must be a positive integer, got " +
                                std::to_string(v));
  }
  return v;
}
}  // namespace

StepLR::StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma)
    : LRScheduler("StepLR", optimizer),
      step_size_(checked_positive("StepLR", "step_size", step_size)),
      gamma_(gamma) {}

double StepLR::compute_lr() const {
  // Recursive like PyTorch (lr * gamma from the current lr), not base * gamma^(e/s):
  // the two differ in the last bits, and PyTorch's composes with outside lr changes.
  const double lr = optimizer_.lr();
  return last_epoch() % step_size_ == 0 ? lr * gamma_ : lr;
}

void StepLR::save_options(NamedTensors& out) const {
  detail::put_scalar(out, "step_size", static_cast<double>(step_size_));
  detail::put_scalar(out, "gamma", gamma_);
}

void StepLR::load_options(detail::StateReader& in) {
  const std::int64_t step_size = in.integer("step_size");
  const double gamma = in.scalar("gamma");
  step_size_ = checked_positive(name_ + ".load_state_dict", "step_size", step_size);
  gamma_ = gamma;
}

// ---- CosineAnnealingLR ----

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, std::int64_t T_max, double eta_min)
    : LRScheduler("CosineAnnealingLR", optimizer),
      T_max_(checked_positive("CosineAnnealingLR", "T_max", T_max)),
      eta_min_(eta_min) {}

double CosineAnnealingLR::compute_lr() const {
  // Same operations in the same order as PyTorch's get_lr (IEEE double, glibc cos),
  // so the values agree bit for bit, round-off drift of the recursion included.
  constexpr double pi = std::numbers::pi;
  const double e = static_cast<double>(last_epoch());
  const double T = static_cast<double>(T_max_);
  const double lr = optimizer_.lr();
  if ((last_epoch() - 1 - T_max_) % (2 * T_max_) == 0) {
    // The ratio below would be 0/0 here (the previous epoch sat at the minimum):
    // step up by the first increment of the next period instead.
    return lr + (base_lr() - eta_min_) * (1 - std::cos(pi / T)) / 2;
  }
  return (1 + std::cos(pi * e / T)) / (1 + std::cos(pi * (e - 1) / T)) * (lr - eta_min_) + eta_min_;
}

void CosineAnnealingLR::save_options(NamedTensors& out) const {
  detail::put_scalar(out, "T_max", static_cast<double>(T_max_));
  detail::put_scalar(out, "eta_min", eta_min_);
}

void CosineAnnealingLR::load_options(detail::StateReader& in) {
  const std::int64_t T_max = in.integer("T_max");
  const double eta_min = in.scalar("eta_min");
  T_max_ = checked_positive(name_ + ".load_state_dict", "T_max", T_max);
  eta_min_ = eta_min;
}

}  // namespace tapegrad::optim
