// Optimizers and schedulers against PyTorch. Each case runs the same parameters
// (several shapes) through the same seeded gradient sequence for 50 steps, in
// tapegrad and in libtorch's C++ optimizers, and compares after every step.
//
// Where libtorch's C++ frontend differs from PyTorch's Python optimizers (which
// are the specification), the test says so and uses an independent reference:
//  - libtorch 1.13's C++ SGD/Adam/AdamW have no `maximize` option. Python defines
//    it as negating the gradient before anything else, so libtorch fed -g is the
//    reference, and the plain-loop reference below (written from the Python
//    equations) is checked as well.
//  - libtorch's C++ StepLR decays one step late: its get_lrs() tests the step
//    counter before incrementing it, whereas Python's StepLR tests last_epoch after
//    incrementing. tapegrad follows Python; the test compares with libtorch shifted
//    by one step and with Python's formula written out.
//  - libtorch has no CosineAnnealingLR: Python's recursive formula is written out.
// Besides those, libtorch's C++ SGD/Adam/AdamW (1.13) apply the same single-tensor
// equations as Python's, through the same ATen kernels, so they are compared directly.
// tapegrad rounds as those kernels do (see optim/sgd.cpp), so in practice the
// "vs torch" columns read 0; the reference, written without fused multiply-adds,
// differs from both at round-off (~1e-16).
#include <doctest/doctest.h>
#include <torch/torch.h>
// libtorch's logging header defines its own CHECK (glog style: it aborts and is
// not counted by doctest), so this file spells doctest's macros out in full.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <numbers>
#include <optional>
#include <random>
#include <string>
#include <tapegrad/core/tape.hpp>
#include <tapegrad/core/tensor.hpp>
#include <tapegrad/optim/adam.hpp>
#include <tapegrad/optim/adamw.hpp>
#include <tapegrad/optim/lr_scheduler.hpp>
#include <tapegrad/optim/sgd.hpp>
#include <vector>

#include "parity_helpers.hpp"
#include "parity_optim_problem.hpp"

namespace tg = tapegrad;
namespace to = tapegrad::optim;
namespace parity = tapegrad::parity;

using parity::kShapes;
using parity::kSteps;
using parity::make_problem;
using parity::numel;
using parity::Problem;

namespace {

// ---- the Python 1.13 equations, written out as plain loops (the reference) ----

struct RefState {
  std::optional<std::vector<double>> momentum_buffer;
  int step = 0;
  std::vector<double> exp_avg, exp_avg_sq, max_exp_avg_sq;
};

/// torch/optim/sgd.py, _single_tensor_sgd.
void ref_sgd(const to::SGDOptions& o, std::vector<double>& p, std::vector<double> d, RefState& st) {
  for (std::size_t j = 0; j < p.size(); ++j) {
    if (o.maximize) d[j] = -d[j];
    if (o.weight_decay != 0) d[j] += o.weight_decay * p[j];
  }
  if (o.momentum != 0) {
    if (!st.momentum_buffer) {
      st.momentum_buffer = d;
    } else {
      auto& b = *st.momentum_buffer;
      for (std::size_t j = 0; j < p.size(); ++j)
        b[j] = o.momentum * b[j] + (1 - o.dampening) * d[j];
    }
    const auto& b = *st.momentum_buffer;
    for (std::size_t j = 0; j < p.size(); ++j) d[j] = o.nesterov ? d[j] + o.momentum * b[j] : b[j];
  }
  for (std::size_t j = 0; j < p.size(); ++j) p[j] -= o.lr * d[j];
}

/// torch/optim/adam.py and adamw.py, _single_tensor_adam(w).
void ref_adam(const to::AdamOptions& o, bool decoupled, std::vector<double>& p,
              std::vector<double> g, RefState& st) {
  const std::size_t n = p.size();
  if (st.step == 0) {
    st.exp_avg.assign(n, 0.0);
    st.exp_avg_sq.assign(n, 0.0);
    st.max_exp_avg_sq.assign(n, 0.0);
  }
  st.step += 1;
  const auto [b1, b2] = o.betas;
  const double bc1 = 1 - std::pow(b1, st.step);
  const double bc2 = 1 - std::pow(b2, st.step);
  for (std::size_t j = 0; j < n; ++j) {
    if (o.maximize) g[j] = -g[j];
    if (decoupled) {
      p[j] *= 1 - o.lr * o.weight_decay;
    } else if (o.weight_decay != 0) {
      g[j] += o.weight_decay * p[j];
    }
    st.exp_avg[j] = b1 * st.exp_avg[j] + (1 - b1) * g[j];
    st.exp_avg_sq[j] = b2 * st.exp_avg_sq[j] + (1 - b2) * g[j] * g[j];
    double v = st.exp_avg_sq[j];
    if (o.amsgrad) {
      st.max_exp_avg_sq[j] = std::max(st.max_exp_avg_sq[j], v);
      v = st.max_exp_avg_sq[j];
    }
    const double denom = std::sqrt(v) / std::sqrt(bc2) + o.eps;
    p[j] -= (o.lr / bc1) * st.exp_avg[j] / denom;
  }
}

// ---- running both sides ----

// A parameter or gradient given as values and a shape, on either side.
template <class T>
tg::Tensor to_tapegrad(const std::vector<double>& v, const std::vector<std::int64_t>& shape,
                       bool requires_grad) {
  tapegrad::Array<T> a = xt::zeros<T>(tg::Shape(shape.begin(), shape.end()));
  std::copy(v.begin(), v.end(), a.data());
  return tg::Tensor::from(std::move(a), requires_grad);
}

template <class T>
torch::Tensor to_torch(const std::vector<double>& v, const std::vector<std::int64_t>& shape) {
  return parity::to_torch<T>(to_tapegrad<T>(v, shape, false).template value<T>());
}

/// max|a - b| / max|b|: relative to each tensor's scale, so entries that pass near zero
/// do not blow the measure up.
template <class T>
double rel_err(const tg::Tensor& ours, const torch::Tensor& ref) {
  return parity::compare(ours.value<T>(), ref).rel;
}

struct Errors {
  double vs_libtorch = 0.0;
  double vs_reference = -1.0;  // < 0: not computed
};

using MakeOurs = std::function<std::unique_ptr<to::Optimizer>(std::vector<tg::Tensor>)>;
using MakeTheirs =
    std::function<std::unique_ptr<torch::optim::Optimizer>(std::vector<torch::Tensor>)>;
using RefStep = std::function<void(std::vector<double>&, const std::vector<double>&, RefState&)>;

/// 50 steps on both sides (and on the reference, in float64); the worst error after any step.
/// `negate_for_torch`: feed libtorch -g (its stand-in for maximize, see the top of the file).
template <class T>
Errors run(const Problem& pr, const MakeOurs& make_ours, const MakeTheirs& make_theirs,
           const RefStep& ref_step, bool negate_for_torch) {
  std::vector<tg::Tensor> ours;
  std::vector<torch::Tensor> theirs;
  std::vector<std::vector<double>> ref = pr.init;
  std::vector<RefState> ref_state(kShapes.size());
  for (std::size_t i = 0; i < kShapes.size(); ++i) {
    ours.push_back(to_tapegrad<T>(pr.init[i], kShapes[i], true));
    theirs.push_back(to_torch<T>(pr.init[i], kShapes[i]).requires_grad_(true));
  }
  auto opt = make_ours(ours);
  auto topt = make_theirs(theirs);
  Errors err;
  if (std::is_same_v<T, double>) err.vs_reference = 0.0;
  for (int k = 0; k < kSteps; ++k) {
    for (std::size_t i = 0; i < kShapes.size(); ++i) {
      const auto& g = pr.grads[k][i];
      ours[i].zero_grad();
      if (g.empty()) {
        theirs[i].mutable_grad() = torch::Tensor();
        continue;
      }
      tg::Tensor gt = to_tapegrad<T>(g, kShapes[i], false);
      ours[i].set_grad(gt);
      torch::Tensor tgrad = to_torch<T>(g, kShapes[i]);
      theirs[i].mutable_grad() = negate_for_torch ? -tgrad : tgrad;
      if (std::is_same_v<T, double>) ref_step(ref[i], g, ref_state[i]);
    }
    opt->step();
    topt->step();
    for (std::size_t i = 0; i < kShapes.size(); ++i) {
      err.vs_libtorch = std::max(err.vs_libtorch, rel_err<T>(ours[i], theirs[i]));
      if (std::is_same_v<T, double>)
        err.vs_reference =
            std::max(err.vs_reference, rel_err<T>(ours[i], to_torch<double>(ref[i], kShapes[i])));
    }
  }
  return err;
}

void print_row(const std::string& optimizer, const std::string& option, const Errors& e64,
               const Errors& e32) {
  static bool header = false;
  if (!header) {
    std::printf("\noptimizer parity, %d steps, worst max|diff|/max|ref| after any step\n", kSteps);
    std::printf("%-9s %-26s %-14s %-14s %-14s\n", "optimizer", "option", "f64 vs torch",
                "f64 vs python", "f32 vs torch");
    header = true;
  }
  std::printf("%-9s %-26s %-14.3e %-14.3e %-14.3e\n", optimizer.c_str(), option.c_str(),
              e64.vs_libtorch, e64.vs_reference, e32.vs_libtorch);
}

constexpr double kTol64 = 1e-12;
constexpr double kTol32 = 1e-6;

void check_case(const std::string& optimizer, const std::string& option, const MakeOurs& ours,
                const MakeTheirs& theirs, const RefStep& ref, bool negate_for_torch) {
  const Problem pr = make_problem(2024);
  const Errors e64 = run<double>(pr, ours, theirs, ref, negate_for_torch);
  const Errors e32 = run<float>(pr, ours, theirs, ref, negate_for_torch);
  print_row(optimizer, option, e64, e32);
  DOCTEST_CAPTURE(optimizer);
  DOCTEST_CAPTURE(option);
  DOCTEST_CHECK(e64.vs_libtorch <= kTol64);
  DOCTEST_CHECK(e64.vs_reference <= kTol64);
  DOCTEST_CHECK(e32.vs_libtorch <= kTol32);
}

void sgd_case(const std::string& name, const to::SGDOptions& o) {
  check_case(
      "SGD", name, [o](std::vector<tg::Tensor> ps) { return std::make_unique<to::SGD>(ps, o); },
      [o](std::vector<torch::Tensor> ps) {
        return std::make_unique<torch::optim::SGD>(ps, torch::optim::SGDOptions(o.lr)
                                                           .momentum(o.momentum)
                                                           .dampening(o.dampening)
                                                           .weight_decay(o.weight_decay)
                                                           .nesterov(o.nesterov));
      },
      [o](std::vector<double>& p, const std::vector<double>& g, RefState& s) {
        ref_sgd(o, p, g, s);
      },
      o.maximize);
}

void adam_case(const std::string& name, const to::AdamOptions& o) {
  check_case(
      "Adam", name, [o](std::vector<tg::Tensor> ps) { return std::make_unique<to::Adam>(ps, o); },
      [o](std::vector<torch::Tensor> ps) {
        return std::make_unique<torch::optim::Adam>(
            ps, torch::optim::AdamOptions(o.lr)
                    .betas(std::make_tuple(o.betas.first, o.betas.second))
                    .eps(o.eps)
                    .weight_decay(o.weight_decay)
                    .amsgrad(o.amsgrad));
      },
      [o](std::vector<double>& p, const std::vector<double>& g, RefState& s) {
        ref_adam(o, false, p, g, s);
      },
      o.maximize);
}

void adamw_case(const std::string& name, const to::AdamWOptions& w) {
  const to::AdamOptions o{w.lr, w.betas, w.eps, w.weight_decay, w.amsgrad, w.maximize};
  check_case(
      "AdamW", name, [w](std::vector<tg::Tensor> ps) { return std::make_unique<to::AdamW>(ps, w); },
      [w](std::vector<torch::Tensor> ps) {
        return std::make_unique<torch::optim::AdamW>(
            ps, torch::optim::AdamWOptions(w.lr)
                    .betas(std::make_tuple(w.betas.first, w.betas.second))
                    .eps(w.eps)
                    .weight_decay(w.weight_decay)
                    .amsgrad(w.amsgrad));
      },
      [o](std::vector<double>& p, const std::vector<double>& g, RefState& s) {
        ref_adam(o, true, p, g, s);
      },
      w.maximize);
}

}  // namespace

TEST_CASE("parity: SGD vs torch::optim::SGD, 50 steps") {
  sgd_case("plain", {.lr = 0.05});
  sgd_case("momentum=0.9", {.lr = 0.05, .momentum = 0.9});
  sgd_case("momentum=0.9 dampening=0.3", {.lr = 0.05, .momentum = 0.9, .dampening = 0.3});
  sgd_case("nesterov momentum=0.9", {.lr = 0.05, .momentum = 0.9, .nesterov = true});
  sgd_case("weight_decay=0.01", {.lr = 0.05, .weight_decay = 0.01});
  sgd_case("momentum+weight_decay", {.lr = 0.05, .momentum = 0.5, .weight_decay = 0.1});
  sgd_case("maximize (+momentum, wd)",
           {.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01, .maximize = true});
}

TEST_CASE("parity: Adam vs torch::optim::Adam, 50 steps") {
  adam_case("plain", {.lr = 0.01});
  adam_case("weight_decay=0.05", {.lr = 0.01, .weight_decay = 0.05});
  adam_case("amsgrad", {.lr = 0.01, .amsgrad = true});
  adam_case("betas=(0.8,0.9) eps=1e-3", {.lr = 0.01, .betas = {0.8, 0.9}, .eps = 1e-3});
  adam_case("maximize (+wd=0.05)", {.lr = 0.01, .weight_decay = 0.05, .maximize = true});
}

TEST_CASE("parity: AdamW vs torch::optim::AdamW, 50 steps") {
  adamw_case("plain (wd=0.01)", {.lr = 0.01});
  adamw_case("amsgrad wd=0.1", {.lr = 0.01, .weight_decay = 0.1, .amsgrad = true});
  adamw_case("maximize", {.lr = 0.01, .maximize = true});
}

// ---- schedulers ----

TEST_CASE("parity: StepLR vs Python's formula and torch::optim::StepLR (one step shifted)") {
  const double base = 0.1, gamma = 0.3;
  const int step_size = 4;
  auto p = to_tapegrad<double>({1.0}, {1}, true);
  to::SGD opt({p}, {.lr = base});
  to::StepLR sched(opt, step_size, gamma);

  auto tp = torch::zeros({1}, torch::kFloat64).requires_grad_(true);
  torch::optim::SGD topt({tp}, torch::optim::SGDOptions(base));
  torch::optim::StepLR tsched(topt, step_size, gamma);
  auto torch_lr = [&] { return topt.param_groups()[0].options().get_lr(); };
  tsched.step();  // libtorch lags Python by one step (see the top of the file)

  double python_lr = base;  // Python: lr = lr*gamma when last_epoch % step_size == 0
  double worst = 0.0;
  for (int e = 1; e <= 30; ++e) {
    sched.step();
    tsched.step();
    if (e % step_size == 0) python_lr *= gamma;
    DOCTEST_CAPTURE(e);
    DOCTEST_CHECK(opt.lr() == python_lr);
    DOCTEST_CHECK(sched.get_last_lr() == python_lr);
    DOCTEST_CHECK(opt.lr() == torch_lr());
    worst = std::max(worst, std::abs(opt.lr() - torch_lr()) / python_lr);
  }
  std::printf(
      "\nStepLR(step_size=4, gamma=0.3), 30 epochs: max rel. diff vs Python formula 0, vs libtorch "
      "(shifted) %.1e\n",
      worst);
}

TEST_CASE("parity: CosineAnnealingLR vs Python's recursive formula over 3*T_max epochs") {
  const double base = 0.05, eta_min = 1e-3;
  const int T = 10;
  auto p = to_tapegrad<double>({1.0}, {1}, true);
  to::SGD opt({p}, {.lr = base});
  to::CosineAnnealingLR sched(opt, T, eta_min);

  // torch/optim/lr_scheduler.py, CosineAnnealingLR.get_lr (1.13), for last_epoch >= 1
  // after construction (so the _step_count == 1 branch does not apply).
  const double pi = 3.141592653589793;  // Python's math.pi
  double py_lr = base;
  double worst_recursive = 0.0, worst_closed = 0.0;
  for (int e = 1; e <= 3 * T; ++e) {
    if ((e - 1 - T) % (2 * T) == 0) {
      py_lr = py_lr + (base - eta_min) * (1 - std::cos(pi / T)) / 2;
    } else {
      py_lr = (1 + std::cos(pi * e / T)) / (1 + std::cos(pi * (e - 1) / T)) * (py_lr - eta_min) +
              eta_min;
    }
    const double closed = eta_min + (base - eta_min) * (1 + std::cos(pi * e / T)) / 2;
    sched.step();
    DOCTEST_CAPTURE(e);
    DOCTEST_CHECK(sched.last_epoch() == e);
    worst_recursive = std::max(worst_recursive, std::abs(opt.lr() - py_lr) / base);
    worst_closed = std::max(worst_closed, std::abs(opt.lr() - closed) / base);
  }
  std::printf(
      "CosineAnnealingLR(T_max=10, eta_min=1e-3), 30 epochs: max |diff|/base_lr vs Python "
      "recursive %.1e, vs closed form %.1e\n",
      worst_recursive, worst_closed);
  DOCTEST_CHECK(worst_recursive == 0.0);  // same operations in the same order: bit-identical
  DOCTEST_CHECK(worst_closed <= 1e-12);
}

TEST_CASE("parity: Adam under CosineAnnealingLR vs libtorch Adam with the same lr per step") {
  const Problem pr = make_problem(77);
  std::vector<tg::Tensor> ours;
  std::vector<torch::Tensor> theirs;
  for (std::size_t i = 0; i < kShapes.size(); ++i) {
    ours.push_back(to_tapegrad<double>(pr.init[i], kShapes[i], true));
    theirs.push_back(to_torch<double>(pr.init[i], kShapes[i]).requires_grad_(true));
  }
  to::Adam opt(ours, {.lr = 0.02, .amsgrad = true});
  to::CosineAnnealingLR sched(opt, 15, 1e-4);
  torch::optim::Adam topt(theirs, torch::optim::AdamOptions(0.02).amsgrad(true));
  double worst = 0.0;
  for (int k = 0; k < kSteps; ++k) {
    for (std::size_t i = 0; i < kShapes.size(); ++i) {
      const auto& g = pr.grads[k][i];
      ours[i].zero_grad();
      if (g.empty()) {
        theirs[i].mutable_grad() = torch::Tensor();
        continue;
      }
      ours[i].set_grad(to_tapegrad<double>(g, kShapes[i], false));
      theirs[i].mutable_grad() = to_torch<double>(g, kShapes[i]);
    }
    opt.step();
    topt.step();
    sched.step();
    topt.param_groups()[0].options().set_lr(opt.lr());
    for (std::size_t i = 0; i < kShapes.size(); ++i) {
      worst = std::max(worst, rel_err<double>(ours[i], theirs[i]));
    }
  }
  std::printf(
      "Adam(amsgrad) + CosineAnnealingLR(15), 50 steps, f64: max rel. err vs libtorch %.3e\n",
      worst);
  DOCTEST_CHECK(worst <= kTol64);
}
