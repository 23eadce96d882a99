// Every op's hand-written backward against central finite differences (float64),
// including broadcasting and inputs used twice; plus shape-error messages.
#include <doctest/doctest.h>

#include <tapegrad/tapegrad.hpp>

using namespace tapegrad;

namespace {

Tensor rnd(const Shape& s, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Generator g(seed);
  Tensor t = Tensor::rand(s, g, Dtype::Float64, true);
  t.value<double>() = lo + (hi - lo) * t.value<double>();
  return t;
}

void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                      const std::vector<Tensor>& inputs) {
  GradcheckReport r = gradcheck(f, inputs);
  INFO(r.message);
  CHECK(r.passed);
  CHECK(r.checked > 0);
}

using V = std::vector<Tensor>;

}  // namespace

TEST_CASE("gradcheck: add, sub, mul, div with broadcasting") {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{2, 1, 4}, {3, 1}}, {{1}, {2, 3}}, {{}, {2, 2}}};
  std::uint64_t seed = 1;
  for (const auto& pair : shapes) {
    const Shape& sa = pair.first;  // not bindings: CAPTURE is a lambda
    const Shape& sb = pair.second;
    CAPTURE(shape_str(sa));
    CAPTURE(shape_str(sb));
    Tensor a = rnd(sa, seed++), b = rnd(sb, seed++, 0.5, 2.0);
    expect_gradcheck([](const V& v) { return add(v[0], v[1]); }, {a, b});
    expect_gradcheck([](const V& v) { return sub(v[0], v[1]); }, {a, b});
    expect_gradcheck([](const V& v) { return mul(v[0], v[1]); }, {a, b});
    expect_gradcheck([](const V& v) { return div(v[0], v[1]); }, {a, b});
  }
}

TEST_CASE("gradcheck: an input used twice gets both contributions") {
  Tensor a = rnd({3, 2}, 7);
  expect_gradcheck([](const V& v) { return mul(v[0], v[0]); }, {a});
  expect_gradcheck([](const V& v) { return matmul(v[0], transpose(v[0], 0, 1)); }, {a});
  expect_gradcheck([](const V& v) { return sum(exp(v[0]) * v[0] - v[0] / 3.0); }, {a});
}

TEST_CASE("gradcheck: unary ops") {
  Tensor a = rnd({2, 3}, 11);
  Tensor p = rnd({2, 3}, 12, 0.2, 2.0);  // positive, away from 0, for log/sqrt/pow
  expect_gradcheck([](const V& v) { return neg(v[0]); }, {a});
  expect_gradcheck([](const V& v) { return exp(v[0]); }, {a});
  expect_gradcheck([](const V& v) { return log(v[0]); }, {p});
  expect_gradcheck([](const V& v) { return sqrt(v[0]); }, {p});
  for (double e : {2.0, 3.0, 0.5, -1.5, 0.0}) {
    CAPTURE(e);
    expect_gradcheck([e](const V& v) { return pow(v[0], e); }, {p});
  }
  expect_gradcheck([](const V& v) { return sigmoid(v[0]); }, {a});
  expect_gradcheck([](const V& v) { return tanh(v[0]); }, {a});
  // Keep relu/leaky_relu inputs away from the kink, where differences are undefined.
  Tensor k = rnd({2, 3}, 13);
  for (auto& x : k.value<double>()) x = x < 0 ? x - 0.1 : x + 0.1;
  expect_gradcheck([](const V& v) { return relu(v[0]); }, {k});
  expect_gradcheck([](const V& v) { return leaky_relu(v[0], 0.2); }, {k});
}

TEST_CASE("gradcheck: matmul 2-d, batched, broadcast batch and 1-d") {
  expect_gradcheck([](const V& v) { return matmul(v[0], v[1]); }, {rnd({3, 4}, 1), rnd({4, 2}, 2)});
  expect_gradcheck([](const V& v) { return matmul(v[0], v[1]); },
                   {rnd({2, 3, 4}, 3), rnd({2, 4, 5}, 4)});
  expect_gradcheck([](const V& v) { return matmul(v[0], v[1]); },
                   {rnd({2, 1, 3, 4}, 5), rnd({3, 4, 2}, 6)});
  expect_gradcheck([](const V& v) { return matmul(v[0], v[1]); }, {rnd({4}, 7), rnd({4, 3}, 8)});
  expect_gradcheck([](const V& v) { return matmul(v[0], v[1]); },
                   {rnd({2, 3, 4}, 9), rnd({4}, 10)});
  expect_gradcheck([](const V& v) { return matmul(v[0], v[1]); }, {rnd({5}, 11), rnd({5}, 12)});
}

TEST_CASE("gradcheck: sum and mean over all, axes, keepdim") {
  Tensor a = rnd({2, 3, 4}, 21);
  expect_gradcheck([](const V& v) { return sum(v[0]); }, {a});
  expect_gradcheck([](const V& v) { return mean(v[0]); }, {a});
  expect_gradcheck([](const V& v) { return sum(v[0], {1}); }, {a});
  expect_gradcheck([](const V& v) { return sum(v[0], {0, -1}, true); }, {a});
  expect_gradcheck([](const V& v) { return mean(v[0], {2}); }, {a});
  expect_gradcheck([](const V& v) { return mean(v[0], {-3, 1}, true); }, {a});
}

TEST_CASE("gradcheck: reshape, view, flatten, transpose, permute") {
  Tensor a = rnd({2, 3, 4}, 31);
  expect_gradcheck([](const V& v) { return reshape(v[0], {4, -1}) * 2.0; }, {a});
  expect_gradcheck([](const V& v) { return view(v[0], {24}); }, {a});
  expect_gradcheck([](const V& v) { return flatten(v[0], 1); }, {a});
  expect_gradcheck([](const V& v) { return transpose(v[0], 0, 2); }, {a});
  expect_gradcheck(
      [](const V& v) {
        return permute(v[0], {1, 2, 0}) * v[1];
      },
      {a, rnd({4, 2}, 32)});
}

TEST_CASE("gradcheck: losses with every reduction") {
  Tensor x = rnd({3, 4}, 41);
  Tensor t = rnd({3, 4}, 42);
  Tensor p = rnd({3, 4}, 43, 0.05, 0.95);
  Tensor q = rnd({3, 4}, 44, 0.0, 1.0);
  for (auto red : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    CAPTURE(static_cast<int>(red));
    expect_gradcheck([red](const V& v) { return mse_loss(v[0], v[1], red); }, {x, t});
    expect_gradcheck([red](const V& v) { return binary_cross_entropy(v[0], v[1], red); }, {p, q});
    expect_gradcheck(
        [red](const V& v) { return binary_cross_entropy_with_logits(v[0], v[1], red); }, {x, q});
  }
}

TEST_CASE("gradcheck: detects a wrong backward") {
  // A user-defined op whose backward is off by a factor 2 must fail the check.
  auto bad_square = [](const V& v) {
    const Tensor& x = v[0];
    Tensor out = Tensor::from(tapegrad::Array<double>(x.value<double>() * x.value<double>()));
    return record("bad_square", out, {x}, [](const GradContext& ctx) {
      ctx.accumulate<double>(0, ctx.grad_output<double>() * ctx.input<double>(0));  // should be 2x
    });
  };
  GradcheckReport r = gradcheck(bad_square, {rnd({3}, 51)});
  CHECK_FALSE(r.passed);
  CHECK(r.failures == 3);
  CHECK(r.message.find("FAILED") != std::string::npos);
  GradcheckOptions strict;
  strict.raise = true;
  CHECK_THROWS_AS(gradcheck(bad_square, {rnd({3}, 51)}, strict), std::runtime_error);
}

TEST_CASE("gradcheck: float32 inputs are refused") {
  Tensor a = Tensor::ones({2}, Dtype::Float32, true);
  CHECK_THROWS_WITH_AS(gradcheck([](const V& v) { return v[0] * 2.0; }, {a}),
                       doctest::Contains("gradcheck needs float64 inputs"), std::invalid_argument);
}

TEST_CASE("gradcheck: leaves the inputs' gradients and the current tape untouched") {
  Tensor a = rnd({2}, 61);
  a.value<double>();
  sum(a * 3.0).backward();
  const tapegrad::Array<double> before = a.grad().value<double>();
  Tensor w = Tensor::ones({1}, Dtype::Float64, true);
  Tensor pending = w * 2.0;  // recorded on the current tape
  const auto n = Tape::current().node_count();
  gradcheck([](const V& v) { return sum(v[0] * v[0]); }, {a});
  CHECK(a.grad().value<double>() == before);
  CHECK(Tape::current().node_count() == n);
  Tape::current().clear();
}

TEST_CASE("ops: shape errors name the op and both shapes") {
  Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({4, 5});
  // PyTorch's wording, with both shapes added.
  CHECK_THROWS_WITH_AS(add(a, b),
                       "add: The size of tensor a (3) must match the size of tensor b (5) at "
                       "non-singleton dimension 1 (shapes [2, 3] and [4, 5])",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      mul(a, Tensor::ones({2})),
      doctest::Contains("mul: The size of tensor a (3) must match the size of "
                        "tensor b (2) at non-singleton dimension 1 (shapes [2, 3] and [2])"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(matmul(a, b),
                       "matmul: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      matmul(Tensor::ones({2, 3, 4}), Tensor::ones({3, 4, 2})),
      doctest::Contains("matmul: The size of tensor a (2) must match the size of tensor b (3) "
                        "at non-singleton dimension 0"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(reshape(a, {4, 2}),
                       doctest::Contains("reshape: shape [4, 2] is invalid for input of size 6"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(sum(a, {2}), doctest::Contains("sum: dimension out of range"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(permute(a, {0, 0}), doctest::Contains("permute: repeated dim"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(binary_cross_entropy(a, Tensor::ones({3})),
                       doctest::Contains("binary_cross_entropy: Using a target size ([3])"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(binary_cross_entropy(Tensor::full({2}, 1.5), Tensor::ones({2})),
                       doctest::Contains("all elements of input should be between 0 and 1"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_reduction("avg"),
                       doctest::Contains("avg is not a valid value for reduction"),
                       std::invalid_argument);
}

TEST_CASE("ops: forward values by hand") {
  Tensor a = Tensor::from(tapegrad::Array<double>{{1.0, 2.0}, {3.0, 4.0}});
  Tensor b = Tensor::from(tapegrad::Array<double>{10.0, 20.0});
  CHECK((a + b).value<double>() == tapegrad::Array<double>{{11.0, 22.0}, {13.0, 24.0}});
  CHECK(matmul(a, a).value<double>() == tapegrad::Array<double>{{7.0, 10.0}, {15.0, 22.0}});
  CHECK(sum(a, {0}).value<double>() == tapegrad::Array<double>{4.0, 6.0});
  CHECK(mean(a).item() == 2.5);
  CHECK(transpose(a, 0, 1).value<double>() == tapegrad::Array<double>{{1.0, 3.0}, {2.0, 4.0}});
  CHECK(mse_loss(a, Tensor::zeros({2, 2}, Dtype::Float64)).item() == 7.5);
  CHECK(mse_loss(a, Tensor::zeros({2, 2}, Dtype::Float64), Reduction::Sum).item() == 30.0);
}
