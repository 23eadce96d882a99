#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <tapegrad/optim/reduce_lr_on_plateau.hpp>

namespace tapegrad::optim {

namespace {

void validate(const std::string& who, const ReduceLROnPlateauOptions& o) {
  auto fail = [&](const std::string& what) { throw std::invalid_argument(who + ": " + what); };
  // PyTorch's checks and messages, in its order.
  if (!(o.factor < 1.0)) fail("Factor should be < 1.0.");
  if (o.mode != "min" && o.mode != "max") fail("mode " + o.mode + " is unknown!");
  if (o.threshold_mode != "rel" && o.threshold_mode != "abs")
    fail("threshold mode " + o.threshold_mode + " is unknown!");
  // PyTorch takes these without checking and misbehaves; refuse them instead.
  if (!(o.min_lr >= 0.0)) fail("min_lr must be >= 0, got " + detail::format_number(o.min_lr));
  if (o.patience < 0) fail("patience must be >= 0, got " + std::to_string(o.patience));
  if (o.cooldown < 0) fail("cooldown must be >= 0, got " + std::to_string(o.cooldown));
}

double mode_worse(const ReduceLROnPlateauOptions& o) {
  return o.mode == "min" ? std::numeric_limits<double>::infinity()
                         : -std::numeric_limits<double>::infinity();
}

}  // namespace

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, const ReduceLROnPlateauOptions& options)
    : optimizer_(optimizer), options_(options), best_(0.0), last_lr_(optimizer.lr()) {
  validate("ReduceLROnPlateau", options_);
  best_ = mode_worse(options_);
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  const ReduceLROnPlateauOptions& o = options_;
  if (o.mode == "min" && o.threshold_mode == "rel") return a < best * (1. - o.threshold);
  if (o.mode == "min") return a < best - o.threshold;
  if (o.threshold_mode == "rel") return a > best * (o.threshold + 1.);
  return a > best + o.threshold;
}

void ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs in a cooldown do not count
  }
  if (num_bad_epochs_ > options_.patience) {
    const double old_lr = optimizer_.lr();
    const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
    if (old_lr - new_lr > options_.eps) optimizer_.set_lr(new_lr);
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
  last_lr_ = optimizer_.lr();
}

NamedTensors ReduceLROnPlateau::state_dict() const {
  NamedTensors out;
  const ReduceLROnPlateauOptions& o = options_;
  detail::put_scalar(out, "last_epoch", static_cast<double>(last_epoch_));
  detail::put_scalar(out, "best", best_);
  detail::put_scalar(out, "num_bad_epochs", static_cast<double>(num_bad_epochs_));
  detail::put_scalar(out, "cooldown_counter", static_cast<double>(cooldown_counter_));
  detail::put_scalar(out, "last_lr", last_lr_);
  detail::put_scalar(out, "mode_max", o.mode == "max" ? 1.0 : 0.0);
  detail::put_scalar(out, "factor", o.factor);
  detail::put_scalar(out, "patience", static_cast<double>(o.patience));
  detail::put_scalar(out, "threshold", o.threshold);
  detail::put_scalar(out, "threshold_abs", o.threshold_mode == "abs" ? 1.0 : 0.0);
  detail::put_scalar(out, "cooldown", static_cast<double>(o.cooldown));
  detail::put_scalar(out, "min_lr", o.min_lr);
  detail::put_scalar(out, "eps", o.eps);
  return out;
}

void ReduceLROnPlateau::load_state_dict(const NamedTensors& dict) {
  const std::string who = "ReduceLROnPlateau.load_state_dict";
  detail::StateReader in(who, dict);
  const std::int64_t last_epoch = in.integer("last_epoch");
  const double best = in.scalar("best");
  const std::int64_t bad = in.integer("num_bad_epochs");
  const std::int64_t cooldown_counter = in.integer("cooldown_counter");
  const double last_lr = in.scalar("last_lr");
  ReduceLROnPlateauOptions o;
  o.mode = in.flag("mode_max") ? "max" : "min";
  o.factor = in.scalar("factor");
  o.patience = in.integer("patience");
  o.threshold = in.scalar("threshold");
  o.threshold_mode = in.flag("threshold_abs") ? "abs" : "rel";
  o.cooldown = in.integer("cooldown");
  o.min_lr = in.scalar("min_lr");
  o.eps = in.scalar("eps");
  in.expect_all_used();
  validate(who, o);
  if (last_epoch < 0 || bad < 0 || cooldown_counter < 0)
    in.fail("last_epoch, num_bad_epochs and cooldown_counter must be >= 0");
  options_ = o;
  last_epoch_ = last_epoch;
  best_ = best;
  num_bad_epochs_ = bad;
  cooldown_counter_ = cooldown_counter;
  last_lr_ = last_lr;
}

}  // namespace tapegrad::optim
