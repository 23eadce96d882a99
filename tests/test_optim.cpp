// Optimizers and schedulers: small cases worked out by hand from the published
// equations, misuse that must throw, skipping of gradient-less parameters, and
// checkpoint round trips that must continue bit for bit.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numbers>
#include <stdexcept>
#include <string>
#include <tapegrad/core/checkpoint.hpp>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/core/tape.hpp>
#include <tapegrad/core/tensor.hpp>
#include <tapegrad/optim/adam.hpp>
#include <tapegrad/optim/adamw.hpp>
#include <tapegrad/optim/lr_scheduler.hpp>
#include <tapegrad/optim/sgd.hpp>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xbuilder.hpp>

using namespace tapegrad;
using namespace tapegrad::optim;

namespace {

/// A float64 leaf parameter holding `values` (1-d).
Tensor param(std::vector<double> values) {
  tapegrad::Array<double> a = xt::adapt(values, {values.size()});
  return Tensor::from(a, /*requires_grad=*/true);
}

/// Replaces p's gradient by `g` (the way a backward pass would leave it).
template <class T>
void set_grad(Tensor& p, tapegrad::Array<T> g) {
  p.set_grad(Tensor::from_array(std::move(g)));
}
void set_grad(Tensor& p, std::vector<double> g) {
  set_grad<double>(p, tapegrad::Array<double>(xt::adapt(g, {g.size()})));
}

double elem(const Tensor& t, std::size_t i) { return t.value<double>().data()[i]; }

const Tensor* find(const NamedTensors& d, const std::string& key) {
  for (const auto& [k, t] : d)
    if (k == key) return &t;
  return nullptr;
}

/// Bitwise equality of two tensors' values (NaN-safe, no tolerance).
bool identical(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  return dispatch(a.dtype(), [&]<class T>() {
    const T* x = a.value<T>().data();
    const T* y = b.value<T>().data();
    return std::memcmp(x, y, a.numel() * sizeof(T)) == 0;
  });
}

}  // namespace

// ---------------------------------------------------------------- SGD by hand

TEST_CASE("sgd: plain step is p - lr*g") {
  Tensor p = param({1.0, -2.0});
  SGD opt({p}, {.lr = 0.5});
  set_grad(p, {0.5, 0.25});
  opt.step();
  // Dyadic numbers: exact in binary, so exact equality is the right check.
  CHECK(elem(p, 0) == 0.75);
  CHECK(elem(p, 1) == -2.125);
  // Plain SGD keeps no state.
  CHECK(find(opt.state_dict(), "state.0.momentum_buffer") == nullptr);
}

TEST_CASE("sgd: momentum, dampening and weight decay over two steps") {
  Tensor p = param({1.0});
  SGD opt({p}, {.lr = 0.5, .momentum = 0.5, .dampening = 0.5, .weight_decay = 0.25});
  set_grad(p, {1.0});
  opt.step();
  // d = 1 + 0.25*1 = 1.25; the buffer starts as d, undampened; p = 1 - 0.5*1.25.
  CHECK(elem(p, 0) == 0.375);
  set_grad(p, {2.0});
  opt.step();
  // d = 2 + 0.25*0.375 = 2.09375; buf = 0.5*1.25 + (1-0.5)*2.09375 = 1.671875;
  // p = 0.375 - 0.5*1.671875.
  CHECK(elem(p, 0) == -0.4609375);
  const NamedTensors sd = opt.state_dict();
  const Tensor* buf = find(sd, "state.0.momentum_buffer");
  REQUIRE(buf != nullptr);
  CHECK(elem(*buf, 0) == 1.671875);
}

TEST_CASE("sgd: nesterov over two steps") {
  Tensor p = param({1.0});
  SGD opt({p}, {.lr = 0.5, .momentum = 0.5, .nesterov = true});
  set_grad(p, {1.0});
  opt.step();
  // buf = 1; step = 1 + 0.5*1 = 1.5; p = 1 - 0.75.
  CHECK(elem(p, 0) == 0.25);
  set_grad(p, {2.0});
  opt.step();
  // buf = 0.5*1 + 2 = 2.5; step = 2 + 0.5*2.5 = 3.25; p = 0.25 - 1.625.
  CHECK(elem(p, 0) == -1.375);
}

TEST_CASE("sgd: maximize negates the gradient before weight decay") {
  Tensor p = param({1.0});
  SGD opt({p}, {.lr = 0.5, .weight_decay = 0.5, .maximize = true});
  set_grad(p, {1.0});
  opt.step();
  // d = -1 + 0.5*1 = -0.5; p = 1 - 0.5*(-0.5). (PyTorch <= 1.11 got this case wrong.)
  CHECK(elem(p, 0) == 1.25);
}

TEST_CASE("sgd: float32 parameters are updated in float32") {
  tapegrad::Array<float> v = {1.0f, 2.0f};
  Tensor p = Tensor::from(v, true);
  SGD opt({p}, {.lr = 0.25});
  set_grad<float>(p, tapegrad::Array<float>{4.0f, -4.0f});
  opt.step();
  CHECK(p.dtype() == Dtype::Float32);
  CHECK(p.value<float>()(0) == 0.0f);
  CHECK(p.value<float>()(1) == 3.0f);
}

// ---------------------------------------------------------------- Adam by hand

// Textbook Adam (Kingma & Ba): mhat = m/(1-b1^t), vhat = v/(1-b2^t),
// p -= lr*mhat/(sqrt(vhat) + eps). Written independently of the implementation,
// which uses PyTorch's rearrangement; the two agree to round-off.
TEST_CASE("adam: the first step moves each coordinate by lr (eps = 0)") {
  Tensor p = param({1.0, -2.0});
  Adam opt({p}, {.lr = 0.1, .betas = {0.5, 0.75}, .eps = 0.0});
  set_grad(p, {0.3, -4.0});
  opt.step();
  // mhat = g, vhat = g^2, so the step is lr*sign(g).
  CHECK(elem(p, 0) == doctest::Approx(0.9).epsilon(1e-15));
  CHECK(elem(p, 1) == doctest::Approx(-1.9).epsilon(1e-15));
}

TEST_CASE("adam: second step against the textbook formula") {
  Tensor p = param({1.0, -2.0});
  const double lr = 0.1, b1 = 0.5, b2 = 0.75, eps = 1e-3;
  Adam opt({p}, {.lr = lr, .betas = {b1, b2}, .eps = eps});
  const double g1[2] = {0.3, -4.0}, g2[2] = {0.1, 2.0};
  set_grad(p, {g1[0], g1[1]});
  opt.step();
  set_grad(p, {g2[0], g2[1]});
  opt.step();
  const double p0[2] = {1.0, -2.0};
  for (int i = 0; i < 2; ++i) {
    double x = p0[i];
    double m = (1 - b1) * g1[i], v = (1 - b2) * g1[i] * g1[i];
    x -= lr * (m / (1 - b1)) / (std::sqrt(v / (1 - b2)) + eps);
    m = b1 * m + (1 - b1) * g2[i];
    v = b2 * v + (1 - b2) * g2[i] * g2[i];
    x -= lr * (m / (1 - b1 * b1)) / (std::sqrt(v / (1 - b2 * b2)) + eps);
    CHECK(elem(p, i) == doctest::Approx(x).epsilon(1e-14));
  }
  const NamedTensors sd = opt.state_dict();
  REQUIRE(find(sd, "state.0.step") != nullptr);
  CHECK(find(sd, "state.0.step")->item() == 2.0);
  CHECK(find(sd, "state.0.max_exp_avg_sq") == nullptr);
}

TEST_CASE("adam: amsgrad normalizes by the running maximum of v") {
  // betas (0.5, 0.5), g = 2 then 0: v = 2 then 1 while max(v) stays 2.
  // Second step: mhat = 0.5/0.75, and sqrt(vmax/0.75) vs sqrt(v/0.75).
  const double lr = 0.1, eps = 1e-8;
  for (bool amsgrad : {false, true}) {
    CAPTURE(amsgrad);
    Tensor p = param({0.0});
    Adam opt({p}, {.lr = lr, .betas = {0.5, 0.5}, .eps = eps, .amsgrad = amsgrad});
    set_grad(p, {2.0});
    opt.step();
    const double x1 = 0.0 - lr * (1.0 / 0.5) / (std::sqrt(2.0 / 0.5) + eps);
    CHECK(elem(p, 0) == doctest::Approx(x1).epsilon(1e-15));
    set_grad(p, {0.0});
    opt.step();
    const double v_used = amsgrad ? 2.0 : 1.0;
    const double x2 = x1 - lr * (0.5 / 0.75) / (std::sqrt(v_used / 0.75) + eps);
    CHECK(elem(p, 0) == doctest::Approx(x2).epsilon(1e-15));
    CHECK((find(opt.state_dict(), "state.0.max_exp_avg_sq") != nullptr) == amsgrad);
  }
}

TEST_CASE("adam: weight decay is coupled (through the moments); maximize negates g") {
  Tensor p = param({2.0});
  Adam opt({p}, {.lr = 0.1, .betas = {0.5, 0.75}, .eps = 0.0, .weight_decay = 0.5});
  set_grad(p, {-0.5});
  opt.step();
  // g = -0.5 + 0.5*2 = 0.5 > 0: the first step is -lr.
  CHECK(elem(p, 0) == doctest::Approx(1.9).epsilon(1e-15));

  Tensor q = param({2.0});
  Adam up({q}, {.lr = 0.1, .betas = {0.5, 0.75}, .eps = 0.0, .maximize = true});
  set_grad(q, {1.0});
  up.step();
  CHECK(elem(q, 0) == doctest::Approx(2.1).epsilon(1e-15));
}

TEST_CASE("adamw: decay is decoupled: p*(1 - lr*wd) first, then Adam without the L2 term") {
  Tensor p = param({2.0});
  AdamW opt({p}, {.lr = 0.1, .betas = {0.5, 0.75}, .eps = 0.0, .weight_decay = 0.5});
  set_grad(p, {1.0});
  opt.step();
  // 2*(1 - 0.05) = 1.9, then the first Adam step -lr*sign(g).
  CHECK(elem(p, 0) == doctest::Approx(1.8).epsilon(1e-15));
  CHECK(opt.options().weight_decay == 0.5);
  CHECK(AdamWOptions{}.weight_decay == 0.01);  // PyTorch's default
  CHECK(AdamOptions{}.weight_decay == 0.0);
}

// ---------------------------------------------------------------- misuse

TEST_CASE("optim: bad hyper-parameters throw PyTorch's messages") {
  auto ps = [] { return std::vector<Tensor>{param({1.0})}; };
  using doctest::Contains;
  CHECK_THROWS_WITH_AS(SGD(ps(), {.lr = -1}), Contains("SGD: Invalid learning rate: -1"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(SGD(ps(), {}), Contains("learning rate is required"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(SGD(ps(), {.lr = 0.1, .momentum = -0.5}),
                       Contains("Invalid momentum value: -0.5"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(SGD(ps(), {.lr = 0.1, .weight_decay = -1e-4}),
                       Contains("Invalid weight_decay value: -0.0001"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(SGD(ps(), {.lr = 0.1, .nesterov = true}),
                       Contains("Nesterov momentum requires a momentum and zero dampening"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(SGD(ps(), {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                       Contains("Nesterov momentum requires a momentum and zero dampening"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Adam(ps(), {.lr = -1}), Contains("Adam: Invalid learning rate: -1"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Adam(ps(), {.eps = -1e-8}), Contains("Invalid epsilon value: -1e-08"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Adam(ps(), {.betas = {1.5, 0.999}}),
                       Contains("Invalid beta parameter at index 0: 1.5"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(Adam(ps(), {.betas = {0.9, 1.0}}),
                       Contains("Invalid beta parameter at index 1: 1"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(Adam(ps(), {.weight_decay = -0.5}),
                       Contains("Invalid weight_decay value: -0.5"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(AdamW(ps(), {.betas = {-0.1, 0.999}}),
                       Contains("AdamW: Invalid beta parameter at index 0: -0.1"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(AdamW(ps(), {.lr = std::nan("")}), Contains("Invalid learning rate: nan"),
                       std::invalid_argument);
  SGD ok(ps(), {.lr = 0.1});
  CHECK_THROWS_WITH_AS(ok.set_lr(-0.5), Contains("SGD: Invalid learning rate: -0.5"),
                       std::invalid_argument);
  CHECK(ok.lr() == 0.1);
}

TEST_CASE("optim: parameters must be distinct leaves that require grad") {
  using doctest::Contains;
  CHECK_THROWS_WITH_AS(Adam(std::vector<Tensor>{}), Contains("Adam: got an empty parameter list"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Adam({param({1.0}), Tensor()}),
                       Contains("Adam: parameter 1 is an undefined"), std::invalid_argument);
  Tensor frozen = Tensor::from(tapegrad::Array<double>{1.0, 2.0}, /*requires_grad=*/false);
  CHECK_THROWS_WITH_AS(SGD({frozen}, {.lr = 0.1}),
                       Contains("SGD: parameter 0 (shape [2]) does not require grad"),
                       std::invalid_argument);
  Tensor leaf = param({1.0, 2.0});
  Tensor computed = leaf * 2.0;
  CHECK_THROWS_WITH_AS(AdamW({leaf, computed}), Contains("AdamW: can't optimize a non-leaf tensor"),
                       std::invalid_argument);
  Tape::current().clear();
  CHECK_THROWS_WITH_AS(SGD({leaf, leaf}, {.lr = 0.1}),
                       Contains("parameter 1 is the same tensor as parameter 0"),
                       std::invalid_argument);
}

TEST_CASE("optim: parameters without a gradient are skipped and get no state") {
  Tensor a = param({1.0, 2.0});
  Tensor b = param({3.0});
  Adam adam({a, b}, {.lr = 0.1});
  SGD sgd({b, a}, {.lr = 0.1, .momentum = 0.9});
  set_grad(a, {1.0, 1.0});
  adam.step();
  sgd.step();
  CHECK(elem(b, 0) == 3.0);
  const NamedTensors sa = adam.state_dict();
  CHECK(find(sa, "state.0.exp_avg") != nullptr);
  CHECK(find(sa, "state.1.exp_avg") == nullptr);
  CHECK(find(sa, "state.1.step") == nullptr);
  const NamedTensors ss = sgd.state_dict();
  CHECK(find(ss, "state.0.momentum_buffer") == nullptr);
  CHECK(find(ss, "state.1.momentum_buffer") != nullptr);
  // Later gradients start b's state at step 1, as PyTorch's per-parameter step.
  set_grad(b, {1.0});
  adam.step();
  const NamedTensors later = adam.state_dict();
  CHECK(find(later, "state.1.step")->item() == 1.0);
  CHECK(find(later, "state.0.step")->item() == 2.0);
}

TEST_CASE("optim: zero_grad forgets gradients (set_to_none)") {
  Tensor a = param({1.0});
  SGD opt({a}, {.lr = 0.1});
  set_grad(a, {1.0});
  CHECK(a.has_grad());
  opt.zero_grad();
  CHECK_FALSE(a.has_grad());
  opt.step();  // nothing to do
  CHECK(elem(a, 0) == 1.0);
}

TEST_CASE("optim: updates are not recorded on the tape") {
  Tape::current().clear();
  Tensor a = param({1.0, 2.0});
  Adam opt({a});
  set_grad(a, {1.0, 1.0});
  opt.step();
  CHECK(Tape::current().node_count() == 0);
  CHECK(a.is_leaf());
}

// ---------------------------------------------------------------- state_dict

namespace {

/// Several parameters of different shapes and both dtypes.
std::vector<Tensor> make_params(std::uint64_t seed) {
  Generator gen(seed);
  return {Tensor::randn({3, 4}, gen, Dtype::Float64, true),
          Tensor::randn({5}, gen, Dtype::Float32, true),
          Tensor::randn({2, 1, 3}, gen, Dtype::Float64, true),
          Tensor::randn({}, gen, Dtype::Float32, true)};
}

std::vector<Tensor> copies(const std::vector<Tensor>& ps) {
  std::vector<Tensor> out;
  for (const auto& p : ps) out.push_back(p.clone_detached().requires_grad_(true));
  return out;
}

/// Gradients for step `k`, the same on every call; parameter 2 gets none on odd steps
/// so the skipping path is part of the round trip too.
void fill_grads(std::vector<Tensor>& ps, int k) {
  Generator gen(1000 + k);
  for (std::size_t i = 0; i < ps.size(); ++i) {
    ps[i].zero_grad();
    if (i == 2 && k % 2 == 1) continue;
    Tensor g = Tensor::randn(ps[i].shape(), gen, ps[i].dtype());
    dispatch(ps[i].dtype(), [&]<class T>() { set_grad<T>(ps[i], g.value<T>()); });
  }
}

/// Runs `make(params)` for 10 steps, checkpoints, runs 10 more; then restores a fresh
/// optimizer (built with different hyper-parameters, which the dict must override)
/// from the checkpoint and runs the same 10: the results must be bitwise equal.
template <class MakeOpt, class MakeOther>
void check_resume(MakeOpt make, MakeOther make_other) {
  std::vector<Tensor> ps = make_params(7);
  auto opt = make(ps);
  CosineAnnealingLR sched(*opt, 6, 1e-4);
  for (int k = 0; k < 10; ++k) {
    fill_grads(ps, k);
    opt->step();
    sched.step();
  }
  const NamedTensors saved_opt = opt->state_dict();
  const NamedTensors saved_sched = sched.state_dict();
  const std::vector<Tensor> saved_params = copies(ps);
  for (int k = 10; k < 20; ++k) {
    fill_grads(ps, k);
    opt->step();
    sched.step();
  }

  std::vector<Tensor> qs = copies(saved_params);
  auto resumed = make_other(qs);
  CosineAnnealingLR sched2(*resumed, 3, 0.5);
  resumed->load_state_dict(saved_opt);
  sched2.load_state_dict(saved_sched);
  CHECK(sched2.last_epoch() == 10);
  for (int k = 10; k < 20; ++k) {
    fill_grads(qs, k);
    resumed->step();
    sched2.step();
  }
  for (std::size_t i = 0; i < ps.size(); ++i) {
    CAPTURE(i);
    CHECK(identical(ps[i], qs[i]));
  }
  CHECK(resumed->lr() == opt->lr());
  const NamedTensors a = opt->state_dict(), b = resumed->state_dict();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i].first);
    CHECK(a[i].first == b[i].first);
    CHECK(identical(a[i].second, b[i].second));
  }
}

}  // namespace

TEST_CASE("optim: state_dict round trip continues bit for bit") {
  SUBCASE("Adam amsgrad") {
    check_resume(
        [](std::vector<Tensor>& ps) {
          return std::make_unique<Adam>(
              ps, AdamOptions{.lr = 0.01, .weight_decay = 0.1, .amsgrad = true});
        },
        [](std::vector<Tensor>& ps) { return std::make_unique<Adam>(ps, AdamOptions{.lr = 5.0}); });
  }
  SUBCASE("AdamW") {
    check_resume(
        [](std::vector<Tensor>& ps) {
          return std::make_unique<AdamW>(ps, AdamWOptions{.lr = 0.02, .betas = {0.8, 0.99}});
        },
        [](std::vector<Tensor>& ps) {
          return std::make_unique<AdamW>(ps, AdamWOptions{.amsgrad = true, .maximize = true});
        });
  }
  SUBCASE("SGD nesterov") {
    check_resume(
        [](std::vector<Tensor>& ps) {
          return std::make_unique<SGD>(
              ps, SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true});
        },
        [](std::vector<Tensor>& ps) { return std::make_unique<SGD>(ps, SGDOptions{.lr = 1.0}); });
  }
}

TEST_CASE("optim: state_dict is a snapshot, and load copies") {
  Tensor a = param({1.0});
  SGD opt({a}, {.lr = 0.5, .momentum = 0.5});
  set_grad(a, {1.0});
  opt.step();
  NamedTensors sd = opt.state_dict();
  const double buf_before = elem(*find(sd, "state.0.momentum_buffer"), 0);
  opt.step();
  CHECK(elem(*find(sd, "state.0.momentum_buffer"), 0) == buf_before);  // not aliased
  opt.load_state_dict(sd);
  opt.step();
  CHECK(elem(*find(sd, "state.0.momentum_buffer"), 0) ==
        buf_before);  // the dict is not written into
}

TEST_CASE("optim: load_state_dict is strict and leaves the optimizer unchanged on error") {
  using doctest::Contains;
  Tensor a = Tensor::zeros({2, 3}, Dtype::Float64, true);
  Adam opt({a}, {.lr = 0.1});
  set_grad<double>(a, xt::ones<double>({2, 3}));
  opt.step();
  const NamedTensors good = opt.state_dict();

  auto without = [&](const std::string& key) {
    NamedTensors d;
    for (const auto& e : good)
      if (e.first != key) d.push_back(e);
    return d;
  };
  auto replaced = [&](const std::string& key, Tensor t) {
    NamedTensors d = good;
    for (auto& e : d)
      if (e.first == key) e.second = t;
    return d;
  };

  CHECK_THROWS_WITH_AS(opt.load_state_dict(without("state.0.exp_avg_sq")),
                       Contains("Adam.load_state_dict: missing key 'state.0.exp_avg_sq'"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(opt.load_state_dict(without("param_groups.eps")),
                       Contains("missing key 'param_groups.eps'"), std::invalid_argument);
  NamedTensors extra = good;
  extra.emplace_back("state.1.exp_avg", Tensor::zeros({2, 3}, Dtype::Float64));
  CHECK_THROWS_WITH_AS(opt.load_state_dict(extra), Contains("unexpected key 'state.1.exp_avg'"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      opt.load_state_dict(replaced("state.0.exp_avg", Tensor::zeros({3, 2}, Dtype::Float64))),
      Contains("key 'state.0.exp_avg' has shape [3, 2] and dtype float64, expected "
               "shape [2, 3] and dtype float64"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      opt.load_state_dict(replaced("state.0.exp_avg", Tensor::zeros({2, 3}, Dtype::Float32))),
      Contains("dtype float32, expected shape [2, 3] and dtype float64"), std::invalid_argument);
  // amsgrad switched on by the dict: max_exp_avg_sq is now expected.
  CHECK_THROWS_WITH_AS(
      opt.load_state_dict(replaced("param_groups.amsgrad", Tensor::scalar(1.0, Dtype::Float64))),
      Contains("missing key 'state.0.max_exp_avg_sq'"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(opt.load_state_dict(replaced(
                           "param_groups.betas", Tensor::from(tapegrad::Array<double>{0.9, 1.5}))),
                       Contains("Invalid beta parameter at index 1: 1.5"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      opt.load_state_dict(replaced("state.0.step", Tensor::scalar(1.5, Dtype::Float64))),
      Contains("'state.0.step' must be a whole number"), std::invalid_argument);
  // A dict from another optimizer is caught by its keys.
  Tensor b = Tensor::zeros({2, 3}, Dtype::Float64, true);
  SGD sgd({b}, {.lr = 0.1});
  CHECK_THROWS_WITH_AS(opt.load_state_dict(sgd.state_dict()), Contains("missing key"),
                       std::invalid_argument);

  // After all those failures the optimizer still holds exactly its own state.
  CHECK_FALSE(opt.options().amsgrad);
  const NamedTensors now = opt.state_dict();
  REQUIRE(now.size() == good.size());
  for (std::size_t i = 0; i < now.size(); ++i) CHECK(identical(now[i].second, good[i].second));
}

// ---------------------------------------------------------------- schedulers

TEST_CASE("steplr: multiplies by gamma every step_size epochs") {
  Tensor a = param({1.0});
  SGD opt({a}, {.lr = 1.0});
  StepLR sched(opt, 3, 0.5);
  CHECK(sched.last_epoch() == 0);
  CHECK(opt.lr() == 1.0);
  const double expected[] = {1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125};
  for (double e : expected) {
    sched.step();
    CHECK(opt.lr() == e);
    CHECK(sched.get_last_lr() == e);
  }
  CHECK(sched.last_epoch() == 9);
  CHECK_THROWS_WITH_AS(StepLR(opt, 0),
                       doctest::Contains("StepLR: step_size must be a positive integer"),
                       std::invalid_argument);
}

TEST_CASE("cosine: follows the cosine, through T_max and back up") {
  Tensor a = param({1.0});
  SGD opt({a}, {.lr = 1.0});
  CosineAnnealingLR sched(opt, 2);
  // Closed form eta_min + (1 - eta_min)(1 + cos(pi e/2))/2 at e = 1..8.
  const double expected[] = {0.5, 0.0, 0.5, 1.0, 0.5, 0.0, 0.5, 1.0};
  for (double e : expected) {
    sched.step();
    CHECK(std::abs(opt.lr() - e) < 1e-15);
  }
  CHECK_THROWS_WITH_AS(CosineAnnealingLR(opt, 0),
                       doctest::Contains("T_max must be a positive integer"),
                       std::invalid_argument);
}

TEST_CASE("cosine: with eta_min, against the closed form over 3*T_max epochs") {
  Tensor a = param({1.0});
  const double base = 0.1, eta_min = 0.001;
  const int T = 7;
  SGD opt({a}, {.lr = base});
  CosineAnnealingLR sched(opt, T, eta_min);
  for (int e = 1; e <= 3 * T; ++e) {
    sched.step();
    const double closed = eta_min + (base - eta_min) * (1 + std::cos(std::numbers::pi * e / T)) / 2;
    CAPTURE(e);
    CHECK(std::abs(opt.lr() - closed) <= 1e-15);
  }
}

TEST_CASE("optim: numbers in messages print as Python's repr (integers without .0)") {
  using tapegrad::optim::detail::format_number;
  CHECK(format_number(-1.0) == "-1");
  CHECK(format_number(1.5) == "1.5");
  CHECK(format_number(0.001) == "0.001");
  CHECK(format_number(-0.0001) == "-0.0001");
  CHECK(format_number(1e-5) == "1e-05");
  CHECK(format_number(-1e-8) == "-1e-08");
  CHECK(format_number(123.25) == "123.25");
  CHECK(format_number(1e16) == "1e+16");
  CHECK(format_number(0.1) == "0.1");
  CHECK(format_number(std::nan("")) == "nan");
}

TEST_CASE("optim: an element's update does not depend on where it sits in the tensor") {
  // The bulk of a tensor runs on SIMD batches and the rest in a scalar tail; both
  // must round identically (a checkpoint reshaped, or a parameter split, must not
  // change the numbers). One 37-element tensor versus 37 one-element tensors.
  const std::size_t n = 37;
  for (Dtype dt : {Dtype::Float32, Dtype::Float64}) {
    Generator gen(5);
    Tensor whole = Tensor::randn({n}, gen, dt, true);
    std::vector<Tensor> parts;
    dispatch(dt, [&]<class T>() {
      for (std::size_t j = 0; j < n; ++j)
        parts.push_back(Tensor::from(tapegrad::Array<T>{whole.value<T>()(j)}, true));
    });
    std::vector<std::unique_ptr<Optimizer>> a, b;
    a.push_back(std::make_unique<Adam>(
        std::vector<Tensor>{whole}, AdamOptions{.lr = 0.01, .weight_decay = 0.1, .amsgrad = true}));
    b.push_back(std::make_unique<Adam>(
        parts, AdamOptions{.lr = 0.01, .weight_decay = 0.1, .amsgrad = true}));
    a.push_back(std::make_unique<AdamW>(std::vector<Tensor>{whole},
                                        AdamWOptions{.lr = 0.01, .maximize = true}));
    b.push_back(std::make_unique<AdamW>(parts, AdamWOptions{.lr = 0.01, .maximize = true}));
    a.push_back(std::make_unique<SGD>(
        std::vector<Tensor>{whole},
        SGDOptions{.lr = 0.01, .momentum = 0.9, .weight_decay = 0.1, .nesterov = true}));
    b.push_back(std::make_unique<SGD>(
        parts, SGDOptions{.lr = 0.01, .momentum = 0.9, .weight_decay = 0.1, .nesterov = true}));
    for (int k = 0; k < 5; ++k) {
      Tensor g = Tensor::randn({n}, gen, dt);
      dispatch(dt, [&]<class T>() {
        set_grad<T>(whole, g.value<T>());
        for (std::size_t j = 0; j < n; ++j)
          set_grad<T>(parts[j], tapegrad::Array<T>{g.value<T>()(j)});
      });
      for (std::size_t o = 0; o < a.size(); ++o) {
        a[o]->step();
        b[o]->step();
      }
    }
    dispatch(dt, [&]<class T>() {
      for (std::size_t j = 0; j < n; ++j) {
        CAPTURE(j);
        const T x = whole.value<T>()(j), y = parts[j].value<T>()(0);
        CHECK(std::memcmp(&x, &y, sizeof(T)) == 0);
      }
    });
  }
}

TEST_CASE("optim: resume from an .npz checkpoint continues bit for bit") {
  namespace fs = std::filesystem;
  const fs::path path =
      fs::temp_directory_path() / ("tapegrad_test_optim_" + std::to_string(::getpid()) + ".npz");
  auto named = [](const std::vector<Tensor>& ps) {
    NamedTensors out;
    for (std::size_t i = 0; i < ps.size(); ++i) out.emplace_back(std::to_string(i), ps[i]);
    return out;
  };
  std::vector<Tensor> ps = make_params(11);
  AdamW opt(ps, {.lr = 0.01, .amsgrad = true});
  StepLR sched(opt, 3, 0.5);
  for (int k = 0; k < 7; ++k) {
    fill_grads(ps, k);
    opt.step();
    sched.step();
  }
  save_checkpoint(path,
                  merge({add_prefix("model", named(ps)), add_prefix("optim", opt.state_dict()),
                         add_prefix("sched", sched.state_dict())}));
  for (int k = 7; k < 14; ++k) {
    fill_grads(ps, k);
    opt.step();
    sched.step();
  }

  const NamedTensors loaded = load_checkpoint(path);
  fs::remove(path);
  std::vector<Tensor> qs;
  for (std::size_t i = 0; i < ps.size(); ++i)
    qs.push_back(
        lookup(loaded, "model." + std::to_string(i)).clone_detached().requires_grad_(true));
  AdamW opt2(qs);
  StepLR sched2(opt2, 1, 0.9);
  opt2.load_state_dict(strip_prefix("optim", loaded));
  sched2.load_state_dict(strip_prefix("sched", loaded));
  for (int k = 7; k < 14; ++k) {
    fill_grads(qs, k);
    opt2.step();
    sched2.step();
  }
  for (std::size_t i = 0; i < ps.size(); ++i) {
    CAPTURE(i);
    CHECK(identical(ps[i], qs[i]));
  }
  CHECK(opt2.lr() == opt.lr());
}
