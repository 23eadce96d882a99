#include <cmath>
#include <stdexcept>
#include <tapegrad/optim/one_cycle_lr.hpp>
#include <vector>

namespace tapegrad::optim {

namespace {

using detail::format_number;

[[noreturn]] void fail(const std::string& what) {
  throw std::invalid_argument("OneCycleLR: " + what);
}

std::int64_t total_steps_of(const OneCycleLROptions& o) {
  // PyTorch's checks and messages, in its order.
  if (o.total_steps) {
    if (*o.total_steps <= 0)
      fail("Expected positive integer total_steps, but got " + std::to_string(*o.total_steps));
    return *o.total_steps;
  }
  if (o.epochs && o.steps_per_epoch) {
    if (*o.epochs <= 0)
      fail("Expected positive integer epochs, but got " + std::to_string(*o.epochs));
    if (*o.steps_per_epoch <= 0)
      fail("Expected positive integer steps_per_epoch, but got " +
           std::to_string(*o.steps_per_epoch));
    return *o.epochs * *o.steps_per_epoch;
  }
  fail("You must define either total_steps OR (epochs AND steps_per_epoch)");
}

void validate(const OneCycleLROptions& o) {
  if (!(o.pct_start >= 0.0 && o.pct_start <= 1.0))
    fail("Expected float between 0 and 1 pct_start, but got " + format_number(o.pct_start));
  if (o.anneal_strategy != "cos" && o.anneal_strategy != "linear")
    fail("anneal_strategy must be one of 'cos' or 'linear', instead got " + o.anneal_strategy);
}

struct Phase {
  double end_step;
  int start_lr, end_lr, start_m, end_m;  // indices into {initial, max, min} / {max_m, base_m}
};

}  // namespace

OneCycleLR::OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options)
    : LRScheduler("OneCycleLR", optimizer),
      options_(options),
      total_steps_(total_steps_of(options)) {
  validate(options_);
  if (options_.cycle_momentum && !optimizer.has_cycled_momentum())
    fail("optimizer must support momentum or beta1 with `cycle_momentum` option enabled (" +
         optimizer.name() + " has neither)");
  // PyTorch's initial step: lr at step 0 (= initial_lr), momentum = max_momentum.
  const double lr = compute_lr();
  set_initial_lr(options_.max_lr / options_.div_factor, lr);
}

double OneCycleLR::compute_lr() const {
  const OneCycleLROptions& o = options_;
  const std::int64_t step_num = last_epoch();
  if (step_num > total_steps_)
    fail("Tried to step " + std::to_string(step_num) +
         " times. The specified number of total steps is " + std::to_string(total_steps_));
  const double T = static_cast<double>(total_steps_);
  const double initial_lr = o.max_lr / o.div_factor;
  const double lrs[3] = {initial_lr, o.max_lr, initial_lr / o.final_div_factor};
  const double moms[2] = {o.max_momentum, o.base_momentum};
  std::vector<Phase> phases;
  if (o.three_phase) {
    phases = {{o.pct_start * T - 1, 0, 1, 0, 1},
              {2 * o.pct_start * T - 2, 1, 0, 1, 0},
              {T - 1, 0, 2, 0, 0}};
  } else {
    phases = {{o.pct_start * T - 1, 0, 1, 0, 1}, {T - 1, 1, 2, 1, 0}};
  }
  auto anneal = [&](double start, double end, double pct) {
    if (o.anneal_strategy == "cos") {
      const double cos_out = std::cos(3.141592653589793 * pct) + 1;
      return end + (start - end) / 2.0 * cos_out;
    }
    return (end - start) * pct + start;
  };
  const double s = static_cast<double>(step_num);
  double start_step = 0.0;
  for (std::size_t i = 0; i < phases.size(); ++i) {
    const Phase& ph = phases[i];
    if (s <= ph.end_step || i + 1 == phases.size()) {
      // Python raises ZeroDivisionError on a phase of zero length.
      if (ph.end_step == start_step)
        fail("float division by zero: phase " + std::to_string(i + 1) +
             " has no steps (pct_start=" + format_number(o.pct_start) +
             ", total_steps=" + std::to_string(total_steps_) + ")");
      const double pct = (s - start_step) / (ph.end_step - start_step);
      double lr = anneal(lrs[ph.start_lr], lrs[ph.end_lr], pct);
      // PyTorch allows one step past the cycle (s = total_steps: the lr set after the
      // last batch), where the linear schedule overshoots below zero. Optimizers here
      // refuse a negative lr, and that value is never used by an update in the usual
      // loop, so it is clamped to 0 (the cosine schedule stays above min_lr there).
      if (lr < 0.0 && step_num == total_steps_) lr = 0.0;
      if (o.cycle_momentum)
        optimizer_.set_cycled_momentum(anneal(moms[ph.start_m], moms[ph.end_m], pct));
      return lr;
    }
    start_step = ph.end_step;
  }
  return lrs[0];  // not reached: the last phase always matches
}

void OneCycleLR::save_options(NamedTensors& out) const {
  const OneCycleLROptions& o = options_;
  detail::put_scalar(out, "max_lr", o.max_lr);
  detail::put_scalar(out, "total_steps", static_cast<double>(total_steps_));
  detail::put_scalar(out, "pct_start", o.pct_start);
  detail::put_scalar(out, "anneal_linear", o.anneal_strategy == "linear" ? 1.0 : 0.0);
  detail::put_scalar(out, "cycle_momentum", o.cycle_momentum ? 1.0 : 0.0);
  detail::put_scalar(out, "base_momentum", o.base_momentum);
  detail::put_scalar(out, "max_momentum", o.max_momentum);
  detail::put_scalar(out, "div_factor", o.div_factor);
  detail::put_scalar(out, "final_div_factor", o.final_div_factor);
  detail::put_scalar(out, "three_phase", o.three_phase ? 1.0 : 0.0);
}

void OneCycleLR::load_options(detail::StateReader& in) {
  OneCycleLROptions o;
  o.max_lr = in.scalar("max_lr");
  o.total_steps = in.integer("total_steps");
  o.pct_start = in.scalar("pct_start");
  o.anneal_strategy = in.flag("anneal_linear") ? "linear" : "cos";
  o.cycle_momentum = in.flag("cycle_momentum");
  o.base_momentum = in.scalar("base_momentum");
  o.max_momentum = in.scalar("max_momentum");
  o.div_factor = in.scalar("div_factor");
  o.final_div_factor = in.scalar("final_div_factor");
  o.three_phase = in.flag("three_phase");
  const std::int64_t total = total_steps_of(o);
  validate(o);
  options_ = o;
  total_steps_ = total;
}

}  // namespace tapegrad::optim
