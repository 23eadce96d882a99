// Every core op against libtorch: same inputs, forward value and the gradients of
// every input for a random upstream gradient, in float64 and float32.
#include <doctest/doctest.h>

#include <functional>
#include <iostream>
#include <tapegrad/tapegrad.hpp>

#include "parity_helpers.hpp"

using namespace tapegrad;
using namespace tapegrad::parity;

namespace {

using TgFn = std::function<Tensor(const std::vector<Tensor>&)>;
using TorchFn = std::function<torch::Tensor(const std::vector<torch::Tensor>&)>;

struct InputSpec {
  Shape shape;
  double lo = -1.0, hi = 1.0;
};

// Each test case runs in its own process under ctest, so each prints its own table.
ParityTable& table() {
  static ParityTable t;
  return t;
}

struct PrintTable {
  std::string title;
  ~PrintTable() { table().print(std::cout, title); }
};

template <class T>
void run_case(const std::string& name, const std::vector<InputSpec>& specs, const TgFn& tg,
              const TorchFn& th, std::uint64_t seed) {
  Generator gen(seed);
  std::vector<Tensor> xs;
  std::vector<torch::Tensor> ts;
  for (const auto& s : specs) {
    Tensor u = Tensor::rand(s.shape, gen, Dtype::Float64);
    tapegrad::Array<T> v = xt::cast<T>(s.lo + (s.hi - s.lo) * u.value<double>());
    xs.push_back(Tensor::from(v, true));
    ts.push_back(to_torch(v).requires_grad_(true));
  }
  Tape tape;
  Tape::Use use(tape);
  Tensor y = tg(xs);
  torch::Tensor ty = th(ts);
  // Random upstream gradient, the same on both sides.
  Tensor seed_t = Tensor::randn(y.shape(), gen, dtype_of<T>());
  y.backward(seed_t);
  ty.backward(to_torch(seed_t.value<T>()));

  const double tol = std::is_same_v<T, double> ? 1e-12 : 1e-6;
  const ErrorStats fwd = compare(y.value<T>(), ty);
  table().add(name + " forward", dtype_label<T>(), fwd);
  INFO(name << " " << dtype_label<T>());
  DOCTEST_CHECK(fwd.same_shape);
  DOCTEST_CHECK(fwd.rel <= tol);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    INFO("input " << i);
    DOCTEST_REQUIRE(xs[i].has_grad() == ts[i].grad().defined());
    if (!xs[i].has_grad()) continue;
    const ErrorStats g = compare(xs[i].grad().value<T>(), ts[i].grad());
    table().add(name + " grad", dtype_label<T>(), g);
    DOCTEST_CHECK(g.same_shape);
    DOCTEST_CHECK(g.rel <= tol);
  }
}

void both(const std::string& name, const std::vector<InputSpec>& specs, const TgFn& tg,
          const TorchFn& th) {
  run_case<double>(name, specs, tg, th, 1234);
  run_case<float>(name, specs, tg, th, 4321);
}

using V = std::vector<Tensor>;
using TV = std::vector<torch::Tensor>;

}  // namespace

TEST_CASE("parity: elementwise binary ops with broadcasting") {
  PrintTable print{"elementwise binary ops with broadcasting vs libtorch (worst errors)"};
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{4, 5}, {4, 5}}, {{4, 5}, {5}}, {{2, 1, 5}, {3, 1}}, {{}, {3, 2}}, {{3, 1, 2}, {1, 4, 1}}};
  for (const auto& [a, b] : shapes) {
    both(
        "add", {{a}, {b}}, [](const V& v) { return add(v[0], v[1]); },
        [](const TV& v) { return v[0] + v[1]; });
    both(
        "sub", {{a}, {b}}, [](const V& v) { return sub(v[0], v[1]); },
        [](const TV& v) { return v[0] - v[1]; });
    both(
        "mul", {{a}, {b}}, [](const V& v) { return mul(v[0], v[1]); },
        [](const TV& v) { return v[0] * v[1]; });
    both(
        "div", {{a}, {b, 0.5, 2.0}}, [](const V& v) { return div(v[0], v[1]); },
        [](const TV& v) { return v[0] / v[1]; });
  }
}

TEST_CASE("parity: unary ops") {
  PrintTable print{"unary ops vs libtorch (worst errors)"};
  const Shape s{3, 7};
  both(
      "neg", {{s}}, [](const V& v) { return neg(v[0]); }, [](const TV& v) { return -v[0]; });
  both(
      "exp", {{s}}, [](const V& v) { return exp(v[0]); }, [](const TV& v) { return v[0].exp(); });
  both(
      "log", {{s, 0.1, 3.0}}, [](const V& v) { return log(v[0]); },
      [](const TV& v) { return v[0].log(); });
  both(
      "sqrt", {{s, 0.1, 3.0}}, [](const V& v) { return sqrt(v[0]); },
      [](const TV& v) { return v[0].sqrt(); });
  for (double e : {2.0, 3.0, 0.5, -1.5}) {
    both(
        "pow", {{s, 0.1, 3.0}}, [e](const V& v) { return pow(v[0], e); },
        [e](const TV& v) { return v[0].pow(e); });
  }
  both(
      "relu", {{s}}, [](const V& v) { return relu(v[0]); },
      [](const TV& v) { return torch::relu(v[0]); });
  both(
      "leaky_relu", {{s}}, [](const V& v) { return leaky_relu(v[0], 0.2); },
      [](const TV& v) { return torch::leaky_relu(v[0], 0.2); });
  both(
      "sigmoid", {{s, -6, 6}}, [](const V& v) { return sigmoid(v[0]); },
      [](const TV& v) { return torch::sigmoid(v[0]); });
  both(
      "tanh", {{s, -3, 3}}, [](const V& v) { return tanh(v[0]); },
      [](const TV& v) { return torch::tanh(v[0]); });
}

TEST_CASE("parity: matmul") {
  PrintTable print{"matmul vs libtorch (worst errors)"};
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{5, 7}, {7, 3}}, {{2, 5, 7}, {2, 7, 3}}, {{2, 1, 5, 7}, {3, 7, 4}},
      {{7}, {7, 3}},    {{2, 5, 7}, {7}},       {{7}, {7}}};
  for (const auto& [a, b] : shapes)
    both(
        "matmul", {{a}, {b}}, [](const V& v) { return matmul(v[0], v[1]); },
        [](const TV& v) { return torch::matmul(v[0], v[1]); });
}

TEST_CASE("parity: reductions and shape ops") {
  PrintTable print{"reductions and shape ops vs libtorch (worst errors)"};
  const Shape s{2, 3, 4};
  both(
      "sum", {{s}}, [](const V& v) { return sum(v[0]); }, [](const TV& v) { return v[0].sum(); });
  both(
      "sum(dims)", {{s}},
      [](const V& v) {
        return sum(v[0], {0, 2});
      },
      [](const TV& v) {
        return v[0].sum(std::vector<std::int64_t>{0, 2});
      });
  both(
      "sum(keepdim)", {{s}}, [](const V& v) { return sum(v[0], {-1}, true); },
      [](const TV& v) { return v[0].sum(std::vector<std::int64_t>{-1}, true); });
  both(
      "mean", {{s}}, [](const V& v) { return mean(v[0]); },
      [](const TV& v) { return v[0].mean(); });
  both(
      "mean(dims)", {{s}}, [](const V& v) { return mean(v[0], {1}, true); },
      [](const TV& v) { return v[0].mean(std::vector<std::int64_t>{1}, true); });
  both(
      "reshape", {{s}},
      [](const V& v) {
        return reshape(v[0], {4, -1});
      },
      [](const TV& v) {
        return v[0].reshape({4, -1});
      });
  both(
      "flatten", {{s}}, [](const V& v) { return flatten(v[0], 1); },
      [](const TV& v) { return v[0].flatten(1); });
  both(
      "transpose", {{s}}, [](const V& v) { return transpose(v[0], 0, 2); },
      [](const TV& v) { return v[0].transpose(0, 2); });
  both(
      "permute", {{s}},
      [](const V& v) {
        return permute(v[0], {2, 0, 1});
      },
      [](const TV& v) {
        return v[0].permute({2, 0, 1});
      });
}

TEST_CASE("parity: losses, every reduction") {
  PrintTable print{"losses, every reduction vs libtorch (worst errors)"};
  const Shape s{4, 6};
  const std::vector<std::pair<Reduction, torch::nn::functional::MSELossFuncOptions::reduction_t>>
      mse_r = {{Reduction::None, torch::kNone},
               {Reduction::Mean, torch::kMean},
               {Reduction::Sum, torch::kSum}};
  for (const auto& [r, tr] : mse_r) {
    namespace F = torch::nn::functional;
    const auto red = r;
    const auto tred = tr;
    both(
        "mse_loss", {{s}, {s}}, [red](const V& v) { return mse_loss(v[0], v[1], red); },
        [tred](const TV& v) {
          return F::mse_loss(v[0], v[1], F::MSELossFuncOptions().reduction(tred));
        });
    both(
        "binary_cross_entropy", {{s, 0.02, 0.98}, {s, 0.0, 1.0}},
        [red](const V& v) { return binary_cross_entropy(v[0], v[1], red); },
        [red](const TV& v) {
          const auto o =
              red == Reduction::None  ? F::BinaryCrossEntropyFuncOptions().reduction(torch::kNone)
              : red == Reduction::Sum ? F::BinaryCrossEntropyFuncOptions().reduction(torch::kSum)
                                      : F::BinaryCrossEntropyFuncOptions().reduction(torch::kMean);
          return F::binary_cross_entropy(v[0], v[1], o);
        });
    both(
        "binary_cross_entropy_with_logits", {{s, -30, 30}, {s, 0.0, 1.0}},
        [red](const V& v) { return binary_cross_entropy_with_logits(v[0], v[1], red); },
        [red](const TV& v) {
          const auto o = red == Reduction::None
                             ? F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone)
                         : red == Reduction::Sum
                             ? F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kSum)
                             : F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kMean);
          return F::binary_cross_entropy_with_logits(v[0], v[1], o);
        });
  }
  // Mixed shapes in mse_loss: Python's F.mse_loss broadcasts the operands first (with a
  // warning); at::mse_loss itself does not, so the reference broadcasts explicitly.
  both(
      "mse_loss(broadcast)", {{{3, 4}}, {{4}}}, [](const V& v) { return mse_loss(v[0], v[1]); },
      [](const TV& v) {
        const auto b = torch::broadcast_tensors({v[0], v[1]});
        return torch::mse_loss(b[0], b[1]);
      });
}
