// Modules against libtorch's torch::nn: with the weights copied over (by name,
// through load_state_dict, which also checks that the names agree with PyTorch's),
// Linear and Sequential MLPs give the same outputs and parameter gradients; the
// loss modules agree; Linear's default init has torch's distribution; the
// printout reads like torch's.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/layers/activation.hpp>
#include <tapegrad/layers/flatten.hpp>
#include <tapegrad/layers/linear.hpp>
#include <tapegrad/layers/loss.hpp>
#include <tapegrad/layers/sequential.hpp>

#include "parity_helpers.hpp"

using namespace tapegrad;
using tapegrad::parity::compare;
using tapegrad::parity::to_torch;
using tapegrad::parity::to_xt;

namespace {

// Parameters and buffers of a torch module under PyTorch's state_dict names.
template <class T>
NamedTensors state_from_torch(const torch::nn::Module& m) {
  NamedTensors out;
  for (const auto& p : m.named_parameters())
    out.emplace_back(p.key(), Tensor::from(to_xt<T>(p.value())));
  for (const auto& b : m.named_buffers())
    out.emplace_back(b.key(), Tensor::from(to_xt<T>(b.value())));
  return out;
}

// Tolerance relative to the reference's scale: float64 round-off, or float32's.
template <class T>
double tolerance() {
  return std::is_same_v<T, double> ? 1e-12 : 1e-5;
}

parity::ParityTable& table() {
  static parity::ParityTable t;
  return t;
}

template <class T>
void check_against(const std::string& what, const tapegrad::Array<T>& got,
                   const torch::Tensor& ref) {
  const parity::ErrorStats s = compare(got, ref);
  table().add(what, parity::dtype_label<T>(), s);
  CAPTURE(what);
  REQUIRE(s.same_shape);
  CHECK(s.rel <= tolerance<T>());
}

// A torch MLP and the same architecture in tapegrad, with torch's weights copied.
template <class T>
void check_mlp(const std::vector<std::int64_t>& input_shape, bool bias) {
  torch::manual_seed(0);
  torch::nn::Sequential ref(torch::nn::Linear(torch::nn::LinearOptions(4, 8).bias(bias)),
                            torch::nn::Tanh(), torch::nn::Linear(8, 8), torch::nn::ReLU(),
                            torch::nn::Linear(8, 3), torch::nn::Sigmoid());
  ref->to(parity::torch_dtype<T>());

  Generator gen(1);
  Sequential model({std::make_shared<Linear>(4, 8, gen, bias), std::make_shared<Tanh>(),
                    std::make_shared<Linear>(8, 8, gen), std::make_shared<ReLU>(),
                    std::make_shared<Linear>(8, 3, gen), std::make_shared<Sigmoid>()});
  model.to(dtype_of<T>());
  REQUIRE(model.load_state_dict(state_from_torch<T>(*ref)).ok());  // strict: same names

  torch::Tensor x_ref = torch::randn(input_shape, parity::torch_dtype<T>()).requires_grad_(true);
  std::vector<std::int64_t> out_shape = input_shape;
  out_shape.back() = 3;
  torch::Tensor w_out = torch::randn(out_shape, parity::torch_dtype<T>());

  Tensor x = Tensor::from(to_xt<T>(x_ref), true);
  Tensor weights = Tensor::from(to_xt<T>(w_out));

  // L = Σ model(x) ⊙ w_out: every output element gets a different gradient.
  torch::Tensor y_ref = ref->forward(x_ref);
  (y_ref * w_out).sum().backward();
  Tensor y = model(x);
  sum(mul(y, weights)).backward();

  check_against<T>("MLP output", y.value<T>(), y_ref);
  check_against<T>("MLP dL/dx", x.grad().value<T>(), x_ref.grad());
  const auto ours = model.named_parameters();
  const auto theirs = ref->named_parameters();
  REQUIRE(ours.size() == theirs.size());
  for (std::size_t i = 0; i < ours.size(); ++i) {
    CHECK(ours[i].first == theirs[i].key());
    check_against<T>("MLP dL/d" + ours[i].first.substr(2), ours[i].second.grad().value<T>(),
                     theirs[i].value().grad());
  }
}

}  // namespace

TEST_CASE("parity: Linear/Sequential MLP outputs and parameter gradients match torch::nn") {
  for (bool bias : {true, false}) {
    CAPTURE(bias);
    check_mlp<double>({6, 4}, bias);
    check_mlp<float>({6, 4}, bias);
    check_mlp<double>({2, 5, 4}, bias);  // leading batch dims
  }
  table().print(std::cout, "Module parity against torch::nn (worst over configurations)");
}

TEST_CASE("parity: a single Linear in float64, weights from torch::nn::Linear") {
  torch::manual_seed(3);
  torch::nn::Linear ref(7, 5);
  ref->to(torch::kDouble);
  Linear lin(7, 5, /*bias=*/true, /*seed=*/0, Dtype::Float64);
  lin.load_state_dict(state_from_torch<double>(*ref));
  torch::Tensor x_ref = torch::randn({3, 7}, torch::kDouble).requires_grad_(true);
  Tensor x = Tensor::from(to_xt<double>(x_ref), true);
  torch::Tensor y_ref = ref->forward(x_ref);
  y_ref.pow(2).sum().backward();
  Tensor y = lin(x);
  sum(mul(y, y)).backward();
  check_against<double>("Linear output", y.value<double>(), y_ref);
  check_against<double>("Linear dL/dW", lin.weight.grad().value<double>(), ref->weight.grad());
  check_against<double>("Linear dL/db", lin.bias.grad().value<double>(), ref->bias.grad());
  check_against<double>("Linear dL/dx", x.grad().value<double>(), x_ref.grad());
}

TEST_CASE("parity: loss modules match torch::nn losses in value and gradient") {
  torch::manual_seed(4);
  const auto opts = torch::TensorOptions().dtype(torch::kDouble);
  torch::Tensor logits_ref = torch::randn({5, 3}, opts).requires_grad_(true);
  torch::Tensor target_ref = torch::rand({5, 3}, opts);
  for (const char* reduction : {"mean", "sum", "none"}) {
    CAPTURE(reduction);
    const Reduction r = parse_reduction(reduction);
    auto torch_reduction = [&]() -> torch::nn::MSELossOptions::reduction_t {
      if (r == Reduction::Mean) return torch::kMean;
      if (r == Reduction::Sum) return torch::kSum;
      return torch::kNone;
    }();
    struct Case {
      const char* name;
      std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)> ref;
      std::shared_ptr<Loss> ours;
      bool probabilities;  // BCELoss takes sigmoid(logits)
    };
    const std::vector<Case> cases = {
        {"MSELoss",
         [&](const torch::Tensor& a, const torch::Tensor& b) {
           return torch::nn::MSELoss(torch::nn::MSELossOptions().reduction(torch_reduction))(a, b);
         },
         std::make_shared<MSELoss>(r), false},
        {"BCELoss",
         [&](const torch::Tensor& a, const torch::Tensor& b) {
           return torch::nn::BCELoss(torch::nn::BCELossOptions().reduction(torch_reduction))(a, b);
         },
         std::make_shared<BCELoss>(r), true},
        {"BCEWithLogitsLoss",
         [&](const torch::Tensor& a, const torch::Tensor& b) {
           return torch::nn::BCEWithLogitsLoss(
               torch::nn::BCEWithLogitsLossOptions().reduction(torch_reduction))(a, b);
         },
         std::make_shared<BCEWithLogitsLoss>(r), false},
    };
    for (const Case& c : cases) {
      CAPTURE(c.name);
      if (logits_ref.grad().defined()) logits_ref.mutable_grad().zero_();
      torch::Tensor in_ref = c.probabilities ? torch::sigmoid(logits_ref) : logits_ref;
      torch::Tensor l_ref = c.ref(in_ref, target_ref);
      l_ref.sum().backward();
      Tensor logits = Tensor::from(to_xt<double>(logits_ref), true);
      Tensor target = Tensor::from(to_xt<double>(target_ref));
      Tensor in = c.probabilities ? sigmoid(logits) : logits;
      Tensor l = (*c.ours)(in, target);
      sum(l).backward();
      check_against<double>(std::string(c.name) + " value", l.value<double>(), l_ref);
      check_against<double>(std::string(c.name) + " gradient", logits.grad().value<double>(),
                            logits_ref.grad());
    }
  }
}

TEST_CASE("parity: Linear's default init has torch::nn::Linear's distribution") {
  // Both draw U(±1/√in) for weight and bias (kaiming_uniform with a=√5); the
  // generators differ, so compare bounds and moments, not values.
  const std::int64_t in = 64, out = 256;
  const double bound = 1.0 / std::sqrt(double(in));
  torch::manual_seed(5);
  torch::nn::Linear ref(in, out);
  Generator gen(5);
  Linear lin(in, out, gen);
  const tapegrad::Array<double> w_ref = to_xt<double>(ref->weight),
                                b_ref = to_xt<double>(ref->bias);
  const tapegrad::Array<double> w = xt::cast<double>(lin.weight.value<float>());
  const tapegrad::Array<double> b = xt::cast<double>(lin.bias.value<float>());
  auto max_abs = [](const tapegrad::Array<double>& a) { return xt::amax(xt::abs(a))(); };
  auto var = [](const tapegrad::Array<double>& a) { return xt::variance(a)(); };
  CHECK(max_abs(w_ref) <= bound);
  CHECK(max_abs(w) <= bound);
  CHECK(max_abs(w_ref) > 0.99 * bound);
  CHECK(max_abs(w) > 0.99 * bound);
  CHECK(max_abs(b_ref) <= bound);
  CHECK(max_abs(b) <= bound);
  // Variance bound²/3 for n = 16384 samples: relative standard error 0.7%, allow 5%.
  CHECK(var(w) == doctest::Approx(bound * bound / 3).epsilon(0.05));
  CHECK(var(w_ref) == doctest::Approx(bound * bound / 3).epsilon(0.05));
  CHECK(var(w) == doctest::Approx(var(w_ref)).epsilon(0.07));
}

TEST_CASE("parity: the printout reads like torch's C++ printout without the namespace") {
  torch::nn::Sequential ref(
      torch::nn::Linear(4, 8), torch::nn::ReLU(), torch::nn::Tanh(), torch::nn::Sigmoid(),
      torch::nn::Linear(torch::nn::LinearOptions(8, 2).bias(false)), torch::nn::Flatten());
  Generator gen(0);
  Sequential model({std::make_shared<Linear>(4, 8, gen), std::make_shared<ReLU>(),
                    std::make_shared<Tanh>(), std::make_shared<Sigmoid>(),
                    std::make_shared<Linear>(8, 2, gen, false), std::make_shared<Flatten>()});
  std::ostringstream os;
  os << *ref;
  std::string expected = os.str();
  for (std::size_t p; (p = expected.find("torch::nn::")) != std::string::npos;)
    expected.erase(p, 11);
  CHECK(model.repr() == expected);
}
