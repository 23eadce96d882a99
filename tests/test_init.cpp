// tapegrad::init: PyTorch's fan and gain rules exactly, and the distributions
// checked by their bounds and moments on large tensors.
//
// Tolerances: for n samples the sample mean has standard error σ/√n, and the
// sample variance a relative standard error √((κ-1)/n) with kurtosis κ = 1.8 for a
// uniform and 3 for a normal. With n = 65536 that is 0.35% and 0.55%; the checks
// below allow about 6 standard errors, so they fail on a wrong formula, not on luck.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <tapegrad/core/init.hpp>

using namespace tapegrad;

namespace {

struct Stats {
  double mean = 0, var = 0, max_abs = 0, min = 0, max = 0;
  std::size_t n = 0;
};

Stats stats_of(const Tensor& t) {
  Stats s;
  dispatch(t.dtype(), [&]<class T>() {
    const auto& v = t.value<T>();
    s.n = v.size();
    s.min = s.max = double(v.size() ? *v.begin() : 0);
    for (auto x : v) {
      s.mean += double(x);
      s.max_abs = std::max(s.max_abs, std::abs(double(x)));
      s.min = std::min(s.min, double(x));
      s.max = std::max(s.max, double(x));
    }
    s.mean /= double(s.n);
    for (auto x : v) s.var += (double(x) - s.mean) * (double(x) - s.mean);
    s.var /= double(s.n - 1);
  });
  return s;
}

// The sample mean is within 6 standard errors of `mean`, the variance within `rel`.
void check_moments(const Stats& s, double mean, double var, double rel) {
  CHECK(std::abs(s.mean - mean) <= 6.0 * std::sqrt(var / double(s.n)));
  CHECK(s.var == doctest::Approx(var).epsilon(rel));
}

constexpr double kUniformVarTol = 0.025;  // ~6 standard errors at n = 65536
constexpr double kNormalVarTol = 0.035;

}  // namespace

TEST_CASE("init: fans of linear and conv-shaped weights follow PyTorch") {
  // Linear weight [out, in].
  auto f = init::calculate_fan_in_and_fan_out(Shape{3, 5});
  CHECK(f.fan_in == 5);
  CHECK(f.fan_out == 3);
  // Conv2d weight [C_out, C_in/g, kH, kW] = [8, 4, 3, 3].
  f = init::calculate_fan_in_and_fan_out(Shape{8, 4, 3, 3});
  CHECK(f.fan_in == 4 * 3 * 3);
  CHECK(f.fan_out == 8 * 3 * 3);
  // Grouped conv, C_in = 6, groups = 3: weight [8, 2, 3, 5]; the receptive field is 15.
  f = init::calculate_fan_in_and_fan_out(Shape{8, 2, 3, 5});
  CHECK(f.fan_in == 2 * 15);
  CHECK(f.fan_out == 8 * 15);
  // ConvTranspose2d weight [C_in, C_out/g, kH, kW]: PyTorch takes fan_in from dim 1.
  f = init::calculate_fan_in_and_fan_out(Tensor::zeros({4, 6, 3, 3}));
  CHECK(f.fan_in == 6 * 9);
  CHECK(f.fan_out == 4 * 9);
}

TEST_CASE("init: fans of a tensor with fewer than 2 dims are an error naming the shape") {
  CHECK_THROWS_WITH_AS(init::calculate_fan_in_and_fan_out(Shape{7}), doctest::Contains("[7]"),
                       std::invalid_argument);
  Tensor bias = Tensor::zeros({7});
  Generator gen(0);
  CHECK_THROWS_AS(init::kaiming_uniform_(bias, gen), std::invalid_argument);
  CHECK_THROWS_AS(init::xavier_normal_(bias, gen), std::invalid_argument);
}

TEST_CASE("init: calculate_gain matches torch.nn.init.calculate_gain") {
  using init::Nonlinearity;
  CHECK(init::calculate_gain(Nonlinearity::Linear) == 1.0);
  CHECK(init::calculate_gain(Nonlinearity::Conv2d) == 1.0);
  CHECK(init::calculate_gain(Nonlinearity::ConvTranspose2d) == 1.0);
  CHECK(init::calculate_gain(Nonlinearity::Sigmoid) == 1.0);
  CHECK(init::calculate_gain(Nonlinearity::Tanh) == doctest::Approx(5.0 / 3.0).epsilon(1e-15));
  CHECK(init::calculate_gain(Nonlinearity::ReLU) == doctest::Approx(std::sqrt(2.0)).epsilon(1e-15));
  CHECK(init::calculate_gain(Nonlinearity::SELU) == 0.75);
  // leaky_relu: default slope 0.01; slope 0 is relu's gain; PyTorch's Linear uses √5.
  CHECK(init::calculate_gain(Nonlinearity::LeakyReLU) ==
        doctest::Approx(std::sqrt(2.0 / (1 + 0.01 * 0.01))).epsilon(1e-15));
  CHECK(init::calculate_gain(Nonlinearity::LeakyReLU, 0.0) ==
        doctest::Approx(std::sqrt(2.0)).epsilon(1e-15));
  CHECK(init::calculate_gain("leaky_relu", std::sqrt(5.0)) ==
        doctest::Approx(std::sqrt(1.0 / 3.0)).epsilon(1e-15));
  CHECK(init::calculate_gain("conv_transpose2d") == 1.0);
  CHECK_THROWS_WITH_AS(init::calculate_gain("swish"), doctest::Contains("\"swish\""),
                       std::invalid_argument);
}

TEST_CASE("init: kaiming_uniform_ stays within sqrt(6/((1+a^2) fan_in)) with variance bound^2/3") {
  for (Dtype dtype : {Dtype::Float32, Dtype::Float64}) {
    for (double a : {0.0, std::sqrt(5.0)}) {
      CAPTURE(dtype_name(dtype));
      CAPTURE(a);
      Generator gen(1);
      Tensor w = Tensor::zeros({512, 128}, dtype);  // fan_in = 128
      init::kaiming_uniform_(w, gen, a);
      const double bound = std::sqrt(6.0 / ((1 + a * a) * 128.0));
      const Stats s = stats_of(w);
      CHECK(s.max_abs <= bound);
      CHECK(s.max_abs > 0.999 * bound);  // the whole range is used
      CHECK(s.min < 0);
      check_moments(s, 0.0, bound * bound / 3.0, kUniformVarTol);
    }
  }
  // a = √5 is PyTorch's Linear default: the bound becomes 1/√fan_in.
  CHECK(std::sqrt(6.0 / ((1 + 5.0) * 128.0)) == doctest::Approx(1.0 / std::sqrt(128.0)));
}

TEST_CASE("init: kaiming_uniform_ with fan_out and relu on a conv weight") {
  Generator gen(2);
  Tensor w = Tensor::zeros({16, 8, 4, 4}, Dtype::Float64);  // fan_out = 16·16 = 256
  init::kaiming_uniform_(w, gen, 0.0, init::FanMode::FanOut, init::Nonlinearity::ReLU);
  const double bound = std::sqrt(2.0) * std::sqrt(3.0 / 256.0);
  const Stats s = stats_of(w);
  CHECK(s.max_abs <= bound);
  CHECK(s.max_abs > 0.99 * bound);
}

TEST_CASE("init: kaiming_normal_ has std gain/sqrt(fan)") {
  Generator gen(3);
  Tensor w = Tensor::zeros({256, 256}, Dtype::Float64);
  init::kaiming_normal_(w, gen, 0.0, init::FanMode::FanIn, init::Nonlinearity::ReLU);
  const double std = std::sqrt(2.0) / std::sqrt(256.0);
  check_moments(stats_of(w), 0.0, std * std, kNormalVarTol);
}

TEST_CASE("init: xavier_uniform_ and xavier_normal_ use gain*sqrt(2/(fan_in+fan_out))") {
  Generator gen(4);
  Tensor w = Tensor::zeros({64, 32, 2, 2}, Dtype::Float64);  // fan_in 128, fan_out 256
  const double gain = 5.0 / 3.0;
  const double std = gain * std::sqrt(2.0 / (128.0 + 256.0));
  init::xavier_uniform_(w, gen, gain);
  Stats s = stats_of(w);
  CHECK(s.max_abs <= std::sqrt(3.0) * std);
  CHECK(s.max_abs > 0.99 * std::sqrt(3.0) * std);
  check_moments(s, 0.0, std * std, 0.06);  // n = 8192 here: 6 s.e. ≈ 6%

  Tensor v = Tensor::zeros({256, 256}, Dtype::Float32);
  init::xavier_normal_(v, gen);
  const double std2 = std::sqrt(2.0 / 512.0);
  check_moments(stats_of(v), 0.0, std2 * std2, kNormalVarTol);
}

TEST_CASE("init: uniform_, normal_, constant_, zeros_, ones_") {
  Generator gen(5);
  Tensor t = Tensor::zeros({256, 256}, Dtype::Float64);
  init::uniform_(t, gen, -1.0, 3.0);
  Stats s = stats_of(t);
  CHECK(s.min >= -1.0);
  CHECK(s.max < 3.0);
  check_moments(s, 1.0, 16.0 / 12.0, kUniformVarTol);

  init::normal_(t, gen, 2.0, 0.5);
  check_moments(stats_of(t), 2.0, 0.25, kNormalVarTol);

  Tensor f = Tensor::zeros({3, 2}, Dtype::Float32);
  init::constant_(f, 0.25);
  for (float x : f.value<float>()) CHECK(x == 0.25f);
  init::ones_(f);
  for (float x : f.value<float>()) CHECK(x == 1.0f);
  init::zeros_(f);
  for (float x : f.value<float>()) CHECK(x == 0.0f);
  // zeros_/ones_/uniform_ work on any rank, including 0-d and 1-d.
  Tensor s0 = Tensor::scalar(7.0, Dtype::Float64);
  init::ones_(s0);
  CHECK(s0.item() == 1.0);
}

TEST_CASE("init: the same seed gives identical values, another seed different ones") {
  auto draw = [](std::uint64_t seed, Dtype dtype) {
    Generator gen(seed);
    Tensor w = Tensor::zeros({8, 5}, dtype);
    Tensor b = Tensor::zeros({8}, dtype);
    init::kaiming_uniform_(w, gen, std::sqrt(5.0));
    init::uniform_(b, gen, -0.1, 0.1);
    return std::pair{w, b};
  };
  for (Dtype dtype : {Dtype::Float32, Dtype::Float64}) {
    const auto first = draw(42, dtype), again = draw(42, dtype), other = draw(43, dtype);
    dispatch(dtype, [&]<class T>() {
      CHECK(first.first.cvalue<T>() == again.first.cvalue<T>());
      CHECK(first.second.cvalue<T>() == again.second.cvalue<T>());
      CHECK(first.first.cvalue<T>() != other.first.cvalue<T>());
    });
  }
}

TEST_CASE("init: zero-sized tensors are left alone, bad arguments throw naming the values") {
  Generator gen(6);
  Tensor empty = Tensor::zeros({0, 4});
  CHECK_NOTHROW(init::kaiming_uniform_(empty, gen));
  CHECK_NOTHROW(init::kaiming_normal_(empty, gen));
  CHECK_NOTHROW(init::xavier_uniform_(empty, gen));

  Tensor t = Tensor::zeros({2, 2});
  CHECK_THROWS_WITH_AS(init::uniform_(t, gen, 1.0, -1.0), doctest::Contains("a <= b"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(init::normal_(t, gen, 0.0, -1.0), doctest::Contains("std >= 0"),
                       std::invalid_argument);
  Tensor undefined;
  CHECK_THROWS_AS(init::zeros_(undefined), std::invalid_argument);
  CHECK_THROWS_WITH_AS(init::parse_nonlinearity("gelu"), doctest::Contains("gelu"),
                       std::invalid_argument);
}
