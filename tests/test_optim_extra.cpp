// RMSprop, Adagrad, gradient clipping and the schedulers MultiStepLR, ExponentialLR,
// OneCycleLR and ReduceLROnPlateau: small cases from the published equations
// (written out here independently, as closed forms where PyTorch recurses), PyTorch's
// messages for bad options, and checkpoints that resume bit for bit.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <numbers>
#include <stdexcept>
#include <string>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/core/tensor.hpp>
#include <tapegrad/optim/adagrad.hpp>
#include <tapegrad/optim/adam.hpp>
#include <tapegrad/optim/clip_grad.hpp>
#include <tapegrad/optim/exponential_lr.hpp>
#include <tapegrad/optim/multi_step_lr.hpp>
#include <tapegrad/optim/one_cycle_lr.hpp>
#include <tapegrad/optim/reduce_lr_on_plateau.hpp>
#include <tapegrad/optim/rmsprop.hpp>
#include <tapegrad/optim/sgd.hpp>
#include <vector>
#include <xtensor/xadapt.hpp>

using namespace tapegrad;
using namespace tapegrad::optim;

namespace {

Tensor param(std::vector<double> values) {
  tapegrad::Array<double> a = xt::adapt(values, {values.size()});
  return Tensor::from(a, /*requires_grad=*/true);
}

void set_grad(Tensor& p, std::vector<double> g) {
  p.set_grad(Tensor::from_array(tapegrad::Array<double>(xt::adapt(g, {g.size()}))));
}

double elem(const Tensor& t, std::size_t i) { return t.cvalue<double>().data()[i]; }

template <class F>
void expect_message(F&& f, const std::string& needle) {
  try {
    f();
    FAIL("no exception; expected one containing: " << needle);
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find(needle) != std::string::npos);
  }
}

bool identical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.cvalue<double>().data(), b.cvalue<double>().data(),
                                               a.numel() * sizeof(double)) == 0;
}

/// Runs `steps` steps of `opt` on p with gradient sin(k + j) at step k, element j.
void run(Optimizer& opt, Tensor& p, int first, int steps) {
  for (int k = first; k < first + steps; ++k) {
    std::vector<double> g(p.numel());
    for (std::size_t j = 0; j < g.size(); ++j) g[j] = std::sin(1.3 * k + 0.7 * double(j));
    set_grad(p, g);
    opt.step();
  }
}

/// Three steps, a checkpoint, three more; a fresh optimizer loading the checkpoint
/// must land on exactly the same values.
template <class Opt, class Options>
void check_resume(const Options& o) {
  Tensor p = param({0.5, -1.0, 2.0});
  Opt opt({p}, o);
  run(opt, p, 0, 3);
  const NamedTensors saved = opt.state_dict();
  const Tensor p_saved = p.clone_detached();
  run(opt, p, 3, 3);

  Tensor q = Tensor::from(Array<double>(p_saved.cvalue<double>()), true);
  Opt fresh({q}, Options{});
  fresh.load_state_dict(saved);
  run(fresh, q, 3, 3);
  CHECK(identical(p, q));
}

}  // namespace

// ---- RMSprop ----

TEST_CASE("rmsprop: two steps against the equations, every option") {
  for (int centered = 0; centered < 2; ++centered)
    for (double momentum : {0.0, 0.9})
      for (double wd : {0.0, 0.1}) {
        CAPTURE(centered);
        CAPTURE(momentum);
        CAPTURE(wd);
        const RMSpropOptions o{.lr = 0.01,
                               .alpha = 0.9,
                               .eps = 1e-3,
                               .weight_decay = wd,
                               .momentum = momentum,
                               .centered = centered == 1};
        Tensor p = param({1.5});
        RMSprop opt({p}, o);
        double x = 1.5, v = 0, m = 0, buf = 0;
        for (double g : {0.4, -2.0}) {
          set_grad(p, {g});
          opt.step();
          const double d = g + wd * x;
          v = 0.9 * v + 0.1 * d * d;
          m = 0.9 * m + 0.1 * d;
          const double avg = std::sqrt(centered ? v - m * m : v) + 1e-3;
          if (momentum > 0) {
            buf = momentum * buf + d / avg;
            x -= 0.01 * buf;
          } else {
            x -= 0.01 * d / avg;
          }
          CHECK(elem(p, 0) == doctest::Approx(x).epsilon(1e-14));
        }
      }
}

TEST_CASE("rmsprop: state keys follow the options, and resume is bit for bit") {
  Tensor p = param({1.0, 2.0});
  RMSprop opt({p}, {.momentum = 0.5, .centered = true});
  run(opt, p, 0, 1);
  std::vector<std::string> keys;
  for (const auto& [k, t] : opt.state_dict()) keys.push_back(k);
  CHECK(std::find(keys.begin(), keys.end(), "state.0.square_avg") != keys.end());
  CHECK(std::find(keys.begin(), keys.end(), "state.0.momentum_buffer") != keys.end());
  CHECK(std::find(keys.begin(), keys.end(), "state.0.grad_avg") != keys.end());
  CHECK(std::find(keys.begin(), keys.end(), "state.0.step") != keys.end());
  check_resume<RMSprop>(
      RMSpropOptions{.lr = 0.02, .weight_decay = 0.1, .momentum = 0.9, .centered = true});
  check_resume<RMSprop>(RMSpropOptions{.lr = 0.02});
}

TEST_CASE("rmsprop: bad options throw PyTorch's messages, in its order") {
  Tensor p = param({1.0});
  expect_message([&] { RMSprop({p}, {.lr = -1}); }, "RMSprop: Invalid learning rate: -1");
  expect_message([&] { RMSprop({p}, {.eps = -1e-8}); }, "RMSprop: Invalid epsilon value: -1e-08");
  expect_message([&] { RMSprop({p}, {.momentum = -0.5}); },
                 "RMSprop: Invalid momentum value: -0.5");
  expect_message([&] { RMSprop({p}, {.weight_decay = -1}); },
                 "RMSprop: Invalid weight_decay value: -1");
  expect_message([&] { RMSprop({p}, {.alpha = -0.1}); }, "RMSprop: Invalid alpha value: -0.1");
  expect_message([&] { RMSprop({p}, {.eps = -1, .momentum = -1}); }, "Invalid epsilon value");
}

// ---- Adagrad ----

TEST_CASE("adagrad: three steps against the equations, every option") {
  for (double lr_decay : {0.0, 0.5})
    for (double wd : {0.0, 0.2})
      for (double init : {0.0, 0.3}) {
        CAPTURE(lr_decay);
        CAPTURE(wd);
        CAPTURE(init);
        Tensor p = param({-0.7, 2.0});
        Adagrad opt({p}, {.lr = 0.1,
                          .lr_decay = lr_decay,
                          .weight_decay = wd,
                          .initial_accumulator_value = init,
                          .eps = 1e-6});
        double x[2] = {-0.7, 2.0}, s[2] = {init, init};
        const double gs[3][2] = {{0.3, -1.0}, {2.0, 0.5}, {-0.1, 0.0}};
        for (int t = 1; t <= 3; ++t) {
          set_grad(p, {gs[t - 1][0], gs[t - 1][1]});
          opt.step();
          const double clr = 0.1 / (1 + (t - 1) * lr_decay);
          for (int j = 0; j < 2; ++j) {
            const double d = gs[t - 1][j] + wd * x[j];
            s[j] += d * d;
            x[j] -= clr * d / (std::sqrt(s[j]) + 1e-6);
            CHECK(elem(p, j) == doctest::Approx(x[j]).epsilon(1e-14));
          }
        }
      }
}

TEST_CASE("adagrad: resume is bit for bit; bad options throw PyTorch's messages") {
  check_resume<Adagrad>(AdagradOptions{
      .lr = 0.05, .lr_decay = 0.1, .weight_decay = 0.01, .initial_accumulator_value = 0.2});
  Tensor p = param({1.0});
  expect_message([&] { Adagrad({p}, {.lr = -1}); }, "Adagrad: Invalid learning rate: -1");
  expect_message([&] { Adagrad({p}, {.lr_decay = -1}); }, "Adagrad: Invalid lr_decay value: -1");
  expect_message([&] { Adagrad({p}, {.weight_decay = -2}); },
                 "Adagrad: Invalid weight_decay value: -2");
  expect_message([&] { Adagrad({p}, {.initial_accumulator_value = -0.5}); },
                 "Adagrad: Invalid initial_accumulator_value value: -0.5");
  expect_message([&] { Adagrad({p}, {.eps = -1e-10}); }, "Adagrad: Invalid epsilon value: -1e-10");
}

// ---- clipping ----

TEST_CASE("clip_grad_norm_: scales by max_norm/(total + 1e-6) when above, returns total") {
  Tensor a = param({3.0, 0.0}), b = param({4.0}), c = param({9.0});
  set_grad(a, {3.0, 0.0});
  set_grad(b, {-4.0});  // c has no gradient: skipped
  const double total = clip_grad_norm_({a, b, c}, 1.0);
  CHECK(total == doctest::Approx(5.0).epsilon(1e-15));
  const double coef = 1.0 / (5.0 + 1e-6);
  CHECK(elem(a.grad(), 0) == doctest::Approx(3.0 * coef).epsilon(1e-15));
  CHECK(elem(b.grad(), 0) == doctest::Approx(-4.0 * coef).epsilon(1e-15));
  CHECK(!c.grad().defined());

  // Below max_norm: the coefficient clamps to 1, gradients unchanged.
  set_grad(a, {0.3, 0.4});
  set_grad(b, {0.0});
  CHECK(clip_grad_norm_({a, b}, 10.0) == doctest::Approx(0.5));
  CHECK(elem(a.grad(), 1) == 0.4);

  // inf-norm and 1-norm.
  set_grad(a, {-3.0, 1.0});
  set_grad(b, {2.0});
  CHECK(clip_grad_norm_({a, b}, 100.0, std::numeric_limits<double>::infinity()) == 3.0);
  CHECK(clip_grad_norm_({a, b}, 100.0, 1.0) == doctest::Approx(6.0));
  CHECK(clip_grad_norm_({a, b}, 100.0, 3.0) == doctest::Approx(std::cbrt(36.0)));
  CHECK(clip_grad_norm_({c}, 1.0) == 0.0);  // no gradients at all
  Tensor e = Tensor::zeros({0}, Dtype::Float64, true);
  e.set_grad(Tensor::zeros({0}, Dtype::Float64));
  CHECK(clip_grad_norm_({e}, 1.0) == 0.0);  // an empty gradient has 2-norm 0
  expect_message([&] { clip_grad_norm_({e}, 1.0, std::numeric_limits<double>::infinity()); },
                 "max(): Expected reduction dim to be specified for input.numel() == 0");
}

TEST_CASE("clip_grad_norm_: a non-finite total is an error only when asked") {
  Tensor a = param({1.0});
  set_grad(a, {std::numeric_limits<double>::infinity()});
  expect_message([&] { clip_grad_norm_({a}, 1.0, 2.0, true); },
                 "clip_grad_norm_: The total norm of order 2.0 for gradients from `parameters` "
                 "is non-finite, so it cannot be clipped.");
  CHECK(std::isinf(elem(a.grad(), 0)));  // untouched
  CHECK(std::isinf(clip_grad_norm_({a}, 1.0)));
}

TEST_CASE("clip_grad_value_: clamps into [-v, v], NaN stays") {
  Tensor a = param({0, 0, 0, 0});
  set_grad(a, {-3.0, 0.2, 5.0, std::nan("")});
  clip_grad_value_({a}, 1.0);
  CHECK(elem(a.grad(), 0) == -1.0);
  CHECK(elem(a.grad(), 1) == 0.2);
  CHECK(elem(a.grad(), 2) == 1.0);
  CHECK(std::isnan(elem(a.grad(), 3)));
}

// ---- schedulers ----

TEST_CASE("multisteplr: gamma^count at each milestone, repeated milestones included") {
  Tensor p = param({1.0});
  SGD opt({p}, {.lr = 0.5});
  MultiStepLR sched(opt, {6, 2, 6, 9}, 0.5);
  for (int e = 1; e <= 12; ++e) {
    sched.step();
    const int passed = (e >= 2) + 2 * (e >= 6) + (e >= 9);
    CAPTURE(e);
    CHECK(opt.lr() == doctest::Approx(0.5 * std::pow(0.5, passed)).epsilon(1e-15));
    CHECK(sched.get_last_lr() == opt.lr());
  }
  // Resume: a fresh scheduler loading the state continues identically.
  const NamedTensors st = sched.state_dict();
  Tensor q = param({1.0});
  SGD opt2({q}, {.lr = opt.lr()});
  MultiStepLR again(opt2, {}, 0.9);
  again.load_state_dict(st);
  CHECK(again.milestones().at(6) == 2);
  CHECK(again.gamma() == 0.5);
  CHECK(again.last_epoch() == 12);
}

TEST_CASE("exponentiallr: lr = base * gamma^e") {
  Tensor p = param({1.0});
  Adam opt({p}, {.lr = 0.2});
  ExponentialLR sched(opt, 0.9);
  for (int e = 1; e <= 40; ++e) {
    sched.step();
    CHECK(opt.lr() == doctest::Approx(0.2 * std::pow(0.9, e)).epsilon(1e-13));
  }
}

namespace {

/// PyTorch's OneCycleLR written as a closed form of the step: the phase boundaries
/// and the annealing, with the momentum.
struct OneCycleRef {
  double lr, momentum;
};
OneCycleRef one_cycle_ref(const OneCycleLROptions& o, double T, double s) {
  const double pi = std::numbers::pi;
  const double init = o.max_lr / o.div_factor, min = init / o.final_div_factor;
  auto anneal = [&](double a, double b, double x) {
    return o.anneal_strategy == "cos" ? b + (a - b) * 0.5 * (1 + std::cos(pi * x))
                                      : a + (b - a) * x;
  };
  const double e1 = o.pct_start * T - 1;
  if (!o.three_phase) {
    if (s <= e1)
      return {anneal(init, o.max_lr, s / e1), anneal(o.max_momentum, o.base_momentum, s / e1)};
    const double x = (s - e1) / (T - 1 - e1);
    return {anneal(o.max_lr, min, x), anneal(o.base_momentum, o.max_momentum, x)};
  }
  const double e2 = 2 * o.pct_start * T - 2;
  if (s <= e1)
    return {anneal(init, o.max_lr, s / e1), anneal(o.max_momentum, o.base_momentum, s / e1)};
  if (s <= e2) {
    const double x = (s - e1) / (e2 - e1);
    return {anneal(o.max_lr, init, x), anneal(o.base_momentum, o.max_momentum, x)};
  }
  const double x = (s - e2) / (T - 1 - e2);
  return {anneal(init, min, x), o.max_momentum};
}

}  // namespace

TEST_CASE("onecyclelr: lr and momentum follow PyTorch's phases, every option") {
  for (int three = 0; three < 2; ++three)
    for (const char* strategy : {"cos", "linear"})
      for (int use_adam = 0; use_adam < 2; ++use_adam) {
        CAPTURE(three);
        CAPTURE(strategy);
        CAPTURE(use_adam);
        OneCycleLROptions o;
        o.max_lr = 0.3;
        o.epochs = 7;
        o.steps_per_epoch = 9;  // 63 steps
        o.pct_start = 0.25;
        o.anneal_strategy = strategy;
        o.three_phase = three == 1;
        Tensor p = param({1.0});
        std::unique_ptr<Optimizer> opt;
        if (use_adam) {
          opt = std::make_unique<Adam>(std::vector<Tensor>{p}, AdamOptions{.lr = 1.0});
        } else {
          opt = std::make_unique<SGD>(std::vector<Tensor>{p}, SGDOptions{.lr = 1.0});
        }
        OneCycleLR sched(*opt, o);
        CHECK(sched.total_steps() == 63);
        CHECK(sched.base_lr() == 0.3 / 25);
        double worst = 0.0;
        for (int s = 0; s <= 63; ++s) {
          if (s > 0) sched.step();
          const OneCycleRef r = one_cycle_ref(o, 63, s);
          // At s = T the linear schedule overshoots below 0; clamped to 0 here.
          const double expected_lr = s == 63 ? std::max(r.lr, 0.0) : r.lr;
          worst = std::max(worst, std::abs(opt->lr() - expected_lr) / o.max_lr);
          worst = std::max(worst, std::abs(opt->cycled_momentum() - r.momentum));
        }
        CHECK(worst < 1e-14);
        if (use_adam) CHECK(dynamic_cast<Adam&>(*opt).options().betas.second == 0.999);
        expect_message([&] { sched.step(); },
                       "OneCycleLR: Tried to step 64 times. The specified number of total steps "
                       "is 63");
      }
}

TEST_CASE("onecyclelr: bad options and optimizers") {
  Tensor p = param({1.0});
  SGD sgd({p}, {.lr = 0.1});
  expect_message([&] { OneCycleLR(sgd, {.max_lr = 1}); },
                 "You must define either total_steps OR (epochs AND steps_per_epoch)");
  expect_message([&] { OneCycleLR(sgd, {.max_lr = 1, .total_steps = 0}); },
                 "Expected positive integer total_steps, but got 0");
  expect_message([&] { OneCycleLR(sgd, {.max_lr = 1, .epochs = -1, .steps_per_epoch = 2}); },
                 "Expected positive integer epochs, but got -1");
  expect_message([&] { OneCycleLR(sgd, {.max_lr = 1, .epochs = 1, .steps_per_epoch = 0}); },
                 "Expected positive integer steps_per_epoch, but got 0");
  expect_message([&] { OneCycleLR(sgd, {.max_lr = 1, .total_steps = 10, .pct_start = 1.5}); },
                 "Expected float between 0 and 1 pct_start, but got 1.5");
  expect_message(
      [&] { OneCycleLR(sgd, {.max_lr = 1, .total_steps = 10, .anneal_strategy = "exp"}); },
      "anneal_strategy must be one of 'cos' or 'linear', instead got exp");
  Adagrad ada({p}, {});
  expect_message([&] { OneCycleLR(ada, {.max_lr = 1, .total_steps = 10}); },
                 "optimizer must support momentum or beta1 with `cycle_momentum` option enabled");
  OneCycleLR ok(ada, {.max_lr = 1, .total_steps = 10, .cycle_momentum = false});
  CHECK(ada.lr() == doctest::Approx(1.0 / 25));
}

TEST_CASE("reducelronplateau: a hand-worked run with patience, cooldown and min_lr") {
  Tensor p = param({1.0});
  SGD opt({p}, {.lr = 1.0});
  ReduceLROnPlateau sched(opt, {.factor = 0.5, .patience = 2, .cooldown = 1, .min_lr = 0.3});
  const double metrics[] = {10, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
  // e1, e2 improve; e3-e5 bad -> halve at e5 (cooldown 1); e6 is swallowed by the
  // cooldown; e7-e9 bad -> max(0.25, 0.3) at e9; e13 would reduce again, but
  // 0.3 - max(0.15, 0.3) = 0 <= eps: unchanged.
  const double expected[] = {1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3};
  for (int e = 0; e < 13; ++e) {
    sched.step(metrics[e]);
    CAPTURE(e + 1);
    CHECK(opt.lr() == expected[e]);
    CHECK(sched.get_last_lr() == expected[e]);
  }
  CHECK(sched.best() == 9);
}

TEST_CASE("reducelronplateau: max mode, abs threshold, eps, and resume") {
  Tensor p = param({1.0});
  SGD opt({p}, {.lr = 0.1});
  ReduceLROnPlateau sched(
      opt,
      {.mode = "max", .factor = 0.1, .patience = 0, .threshold = 0.5, .threshold_mode = "abs"});
  sched.step(1.0);  // better than -inf
  CHECK(opt.lr() == 0.1);
  sched.step(1.4);  // not better by 0.5: reduce (patience 0)
  CHECK(opt.lr() == doctest::Approx(0.01).epsilon(1e-15));
  sched.step(1.6);  // 1.6 > 1.0 + 0.5: better
  CHECK(opt.lr() == doctest::Approx(0.01).epsilon(1e-15));
  CHECK(sched.best() == 1.6);

  const NamedTensors st = sched.state_dict();
  ReduceLROnPlateau again(opt, {});
  again.load_state_dict(st);
  CHECK(again.best() == 1.6);
  CHECK(again.options().mode == "max");
  CHECK(again.options().threshold_mode == "abs");
  CHECK(again.last_epoch() == 3);

  // A reduction by eps or less is skipped.
  SGD tiny({p}, {.lr = 1e-9});
  ReduceLROnPlateau s2(tiny, {.patience = 0});
  s2.step(1.0);
  s2.step(2.0);
  CHECK(tiny.lr() == 1e-9);

  expect_message([&] { ReduceLROnPlateau(opt, {.factor = 1.0}); }, "Factor should be < 1.0.");
  expect_message([&] { ReduceLROnPlateau(opt, {.mode = "up"}); }, "mode up is unknown!");
  expect_message([&] { ReduceLROnPlateau(opt, {.threshold_mode = "x"}); },
                 "threshold mode x is unknown!");
}
