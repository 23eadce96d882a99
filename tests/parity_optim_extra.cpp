// RMSprop, Adagrad and gradient clipping against libtorch 1.13. The optimizers run the
// same parameters (several shapes, one of them skipped at some steps) through the same
// seeded gradients for 50 steps on both sides, every combination of options, float32
// and float64, and compare after every step; a plain float64 loop written from
// Python's equations (torch/optim/rmsprop.py, adagrad.py) is a third opinion.
// libtorch 1.13's C++ RMSprop/Adagrad apply the same single-tensor equations as
// Python's through the same ATen kernels.
// Clipping: libtorch's torch::nn::utils::clip_grad_norm_ / clip_grad_value_ over
// random gradient sets and norm types (norm_type 0 is left out: libtorch's C++ version
// returns the number of gradients there, Python's counts non-zero entries).
#include <doctest/doctest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <tapegrad/core/tensor.hpp>
#include <tapegrad/optim/adagrad.hpp>
#include <tapegrad/optim/clip_grad.hpp>
#include <tapegrad/optim/rmsprop.hpp>
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

// ---- Python's equations as plain loops ----

struct RefState {
  int step = 0;
  std::vector<double> a, b, c;
};

/// torch/optim/rmsprop.py, _single_tensor_rmsprop.
void ref_rmsprop(const to::RMSpropOptions& o, std::vector<double>& p, std::vector<double> g,
                 RefState& st) {
  const std::size_t n = p.size();
  if (st.step == 0) {
    st.a.assign(n, 0.0);  // square_avg
    st.b.assign(n, 0.0);  // momentum_buffer
    st.c.assign(n, 0.0);  // grad_avg
  }
  st.step += 1;
  for (std::size_t j = 0; j < n; ++j) {
    if (o.weight_decay != 0) g[j] += o.weight_decay * p[j];
    st.a[j] = o.alpha * st.a[j] + (1 - o.alpha) * g[j] * g[j];
    double avg;
    if (o.centered) {
      st.c[j] = o.alpha * st.c[j] + (1 - o.alpha) * g[j];
      avg = std::sqrt(st.a[j] - st.c[j] * st.c[j]) + o.eps;
    } else {
      avg = std::sqrt(st.a[j]) + o.eps;
    }
    if (o.momentum > 0) {
      st.b[j] = o.momentum * st.b[j] + g[j] / avg;
      p[j] -= o.lr * st.b[j];
    } else {
      p[j] -= o.lr * g[j] / avg;
    }
  }
}

/// torch/optim/adagrad.py, _single_tensor_adagrad.
void ref_adagrad(const to::AdagradOptions& o, std::vector<double>& p, std::vector<double> g,
                 RefState& st) {
  const std::size_t n = p.size();
  if (st.step == 0) st.a.assign(n, o.initial_accumulator_value);
  st.step += 1;
  const double clr = o.lr / (1 + (st.step - 1) * o.lr_decay);
  for (std::size_t j = 0; j < n; ++j) {
    if (o.weight_decay != 0) g[j] += o.weight_decay * p[j];
    st.a[j] += g[j] * g[j];
    p[j] -= clr * g[j] / (std::sqrt(st.a[j]) + o.eps);
  }
}

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

template <class T>
double rel_err(const tg::Tensor& ours, const torch::Tensor& ref) {
  return parity::compare(ours.value<T>(), ref).rel;
}

struct Errors {
  double vs_libtorch = 0.0;
  double vs_reference = -1.0;
};

using MakeOurs = std::function<std::unique_ptr<to::Optimizer>(std::vector<tg::Tensor>)>;
using MakeTheirs =
    std::function<std::unique_ptr<torch::optim::Optimizer>(std::vector<torch::Tensor>)>;
using RefStep = std::function<void(std::vector<double>&, const std::vector<double>&, RefState&)>;

template <class T>
Errors run(const Problem& pr, const MakeOurs& make_ours, const MakeTheirs& make_theirs,
           const RefStep& ref_step) {
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
  const bool f64 = std::is_same_v<T, double>;
  if (f64) err.vs_reference = 0.0;
  for (int k = 0; k < kSteps; ++k) {
    for (std::size_t i = 0; i < kShapes.size(); ++i) {
      const auto& g = pr.grads[k][i];
      ours[i].zero_grad();
      if (g.empty()) {
        theirs[i].mutable_grad() = torch::Tensor();
        continue;
      }
      ours[i].set_grad(to_tapegrad<T>(g, kShapes[i], false));
      theirs[i].mutable_grad() = to_torch<T>(g, kShapes[i]);
      if (f64) ref_step(ref[i], g, ref_state[i]);
    }
    opt->step();
    topt->step();
    for (std::size_t i = 0; i < kShapes.size(); ++i) {
      err.vs_libtorch = std::max(err.vs_libtorch, rel_err<T>(ours[i], theirs[i]));
      if (f64)
        err.vs_reference =
            std::max(err.vs_reference, rel_err<T>(ours[i], to_torch<double>(ref[i], kShapes[i])));
    }
  }
  return err;
}

constexpr double kTol64 = 1e-12;
constexpr double kTol32 = 1e-5;

struct Worst {
  double f64 = 0, f64_ref = 0, f32 = 0;
};

void check_case(Worst& worst, const std::string& optimizer, const std::string& option,
                const MakeOurs& ours, const MakeTheirs& theirs, const RefStep& ref) {
  const Problem pr = make_problem(4242);
  const Errors e64 = run<double>(pr, ours, theirs, ref);
  const Errors e32 = run<float>(pr, ours, theirs, ref);
  worst.f64 = std::max(worst.f64, e64.vs_libtorch);
  worst.f64_ref = std::max(worst.f64_ref, e64.vs_reference);
  worst.f32 = std::max(worst.f32, e32.vs_libtorch);
  DOCTEST_CAPTURE(optimizer);
  DOCTEST_CAPTURE(option);
  DOCTEST_CHECK(e64.vs_libtorch <= kTol64);
  DOCTEST_CHECK(e64.vs_reference <= kTol64);
  DOCTEST_CHECK(e32.vs_libtorch <= kTol32);
}

}  // namespace

TEST_CASE("parity: RMSprop vs torch::optim::RMSprop, 50 steps, every option combination") {
  Worst worst;
  int cases = 0;
  for (int centered = 0; centered < 2; ++centered)
    for (double momentum : {0.0, 0.9})
      for (double wd : {0.0, 0.05})
        for (double alpha : {0.99, 0.7})
          for (double eps : {1e-8, 1e-2}) {
            const to::RMSpropOptions o{.lr = 0.01,
                                       .alpha = alpha,
                                       .eps = eps,
                                       .weight_decay = wd,
                                       .momentum = momentum,
                                       .centered = centered == 1};
            const std::string name =
                "centered=" + std::to_string(centered) + " momentum=" + std::to_string(momentum) +
                " wd=" + std::to_string(wd) + " alpha=" + std::to_string(alpha) +
                " eps=" + std::to_string(eps);
            check_case(
                worst, "RMSprop", name,
                [o](std::vector<tg::Tensor> ps) { return std::make_unique<to::RMSprop>(ps, o); },
                [o](std::vector<torch::Tensor> ps) {
                  return std::make_unique<torch::optim::RMSprop>(ps,
                                                                 torch::optim::RMSpropOptions(o.lr)
                                                                     .alpha(o.alpha)
                                                                     .eps(o.eps)
                                                                     .weight_decay(o.weight_decay)
                                                                     .momentum(o.momentum)
                                                                     .centered(o.centered));
                },
                [o](std::vector<double>& p, const std::vector<double>& g, RefState& s) {
                  ref_rmsprop(o, p, g, s);
                });
            ++cases;
          }
  DOCTEST_MESSAGE("RMSprop, " << cases << " option sets x 50 steps: worst rel. err f64 vs torch "
                              << worst.f64 << ", f64 vs python loop " << worst.f64_ref
                              << ", f32 vs torch " << worst.f32);
}

TEST_CASE("parity: Adagrad vs torch::optim::Adagrad, 50 steps, every option combination") {
  Worst worst;
  int cases = 0;
  for (double lr_decay : {0.0, 0.05})
    for (double wd : {0.0, 0.05})
      for (double init : {0.0, 0.1})
        for (double eps : {1e-10, 1e-3}) {
          const to::AdagradOptions o{.lr = 0.05,
                                     .lr_decay = lr_decay,
                                     .weight_decay = wd,
                                     .initial_accumulator_value = init,
                                     .eps = eps};
          const std::string name = "lr_decay=" + std::to_string(lr_decay) +
                                   " wd=" + std::to_string(wd) + " init=" + std::to_string(init) +
                                   " eps=" + std::to_string(eps);
          check_case(
              worst, "Adagrad", name,
              [o](std::vector<tg::Tensor> ps) { return std::make_unique<to::Adagrad>(ps, o); },
              [o](std::vector<torch::Tensor> ps) {
                return std::make_unique<torch::optim::Adagrad>(
                    ps, torch::optim::AdagradOptions(o.lr)
                            .lr_decay(o.lr_decay)
                            .weight_decay(o.weight_decay)
                            .initial_accumulator_value(o.initial_accumulator_value)
                            .eps(o.eps));
              },
              [o](std::vector<double>& p, const std::vector<double>& g, RefState& s) {
                ref_adagrad(o, p, g, s);
              });
          ++cases;
        }
  DOCTEST_MESSAGE("Adagrad, " << cases << " option sets x 50 steps: worst rel. err f64 vs torch "
                              << worst.f64 << ", f64 vs python loop " << worst.f64_ref
                              << ", f32 vs torch " << worst.f32);
}

namespace {

template <class T>
void clip_sweep(double& worst_norm, double& worst_grad, double& worst_value) {
  std::mt19937_64 rng(99);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_int_distribution<int> dim(0, 4);
  const double inf = std::numeric_limits<double>::infinity();
  for (int trial = 0; trial < 60; ++trial) {
    const int count = 1 + trial % 4;
    std::vector<tg::Tensor> ours;
    std::vector<torch::Tensor> theirs;
    const double scale = std::pow(10.0, trial % 5 - 2);
    for (int i = 0; i < count; ++i) {
      // PyTorch's inf-norm fails on an empty gradient (max() of nothing): no empties then.
      const bool inf_norm = trial % 2 == 0 && trial % 5 == 2;
      const std::vector<std::int64_t> shape = {dim(rng) + 1, dim(rng) + (inf_norm ? 1 : 0)};
      std::vector<double> v(numel(shape)), g(numel(shape));
      for (auto& x : v) x = normal(rng);
      for (auto& x : g) x = scale * normal(rng);
      ours.push_back(to_tapegrad<T>(v, shape, true));
      theirs.push_back(to_torch<T>(v, shape).requires_grad_(true));
      if (i == 2) continue;  // no gradient: skipped on both sides
      ours.back().set_grad(to_tapegrad<T>(g, shape, false));
      theirs.back().mutable_grad() = to_torch<T>(g, shape);
    }
    const double norm_types[] = {2.0, 1.0, inf, 3.0, 0.5};
    const double norm_type = norm_types[trial % 5];
    const double max_norm = (trial % 3 == 0) ? 1e3 : 0.1 + 0.5 * (trial % 7);
    if (trial % 2 == 0) {
      const double a = to::clip_grad_norm_(ours, max_norm, norm_type);
      const double b = torch::nn::utils::clip_grad_norm_(theirs, max_norm, norm_type);
      DOCTEST_CAPTURE(trial);
      worst_norm = std::max(worst_norm, std::abs(a - b) / std::max(std::abs(b), 1e-30));
    } else {
      const double clip = 0.3 * scale;
      to::clip_grad_value_(ours, clip);
      torch::nn::utils::clip_grad_value_(theirs, clip);
    }
    for (int i = 0; i < count; ++i) {
      if (i == 2) {
        DOCTEST_CHECK(!ours[i].grad().defined());
        continue;
      }
      const double e = rel_err<T>(ours[i].grad(), theirs[i].grad());
      if (trial % 2 == 0) {
        worst_grad = std::max(worst_grad, e);
      } else {
        worst_value = std::max(worst_value, e);
      }
    }
  }
}

}  // namespace

TEST_CASE("parity: clip_grad_norm_ and clip_grad_value_ vs torch::nn::utils") {
  double n64 = 0, g64 = 0, v64 = 0, n32 = 0, g32 = 0, v32 = 0;
  clip_sweep<double>(n64, g64, v64);
  clip_sweep<float>(n32, g32, v32);
  DOCTEST_MESSAGE("clip_grad_norm_ total norm rel. err: f64 "
                  << n64 << ", f32 " << n32 << "; clipped grads: f64 " << g64 << ", f32 " << g32);
  DOCTEST_MESSAGE("clip_grad_value_ clipped grads rel. err: f64 " << v64 << ", f32 " << v32);
  DOCTEST_CHECK(n64 <= kTol64);
  DOCTEST_CHECK(g64 <= kTol64);
  DOCTEST_CHECK(v64 == 0.0);
  DOCTEST_CHECK(n32 <= kTol32);
  DOCTEST_CHECK(g32 <= kTol32);
  DOCTEST_CHECK(v32 == 0.0);
}
