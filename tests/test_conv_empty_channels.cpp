// Convolutions over zero channels, which PyTorch accepts (its test_conv_empty_channel):
// a sum over no input channels is zero, so the output is the bias broadcast over
// [N, C_out, H_out, W_out] and every gradient but the bias's is zero or empty.
// libtorch 1.13 returns a tensor of the input's channel count instead (see
// docs/convolution.md), so these results are checked against the mathematics, not
// against libtorch.
#include <doctest/doctest.h>

#include <tapegrad/core/gradcheck.hpp>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/core/tape.hpp>
#include <tapegrad/layers/conv.hpp>

using namespace tapegrad;
using kernels::Conv2dOptions;
using kernels::ConvTranspose2dOptions;

namespace {

Tensor rnd(const Shape& s, std::uint64_t seed, bool requires_grad = true) {
  Generator gen(seed);
  return Tensor::rand(s, gen, Dtype::Float64, requires_grad);
}

// y[n, c, i, j] == b[c] for every element.
void check_is_bias(const Tensor& y, const Tensor& b) {
  const auto& v = y.cvalue<double>();
  const auto& bv = b.cvalue<double>();
  const std::size_t c_out = y.shape()[1], plane = y.shape()[2] * y.shape()[3];
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < v.size(); ++i)
    if (v.data()[i] != bv((i / plane) % c_out)) ++mismatches;
  CHECK(mismatches == 0);
}

}  // namespace

TEST_CASE("conv empty channels: Conv2d(0, 33, 3, stride 2) on [2, 0, 50, 100] outputs its bias") {
  Conv2d conv(0, 33, 3, Conv2dOptions{}.stride(2), true, 7, Dtype::Float64);
  CHECK(conv.weight.shape() == Shape{33, 0, 3, 3});
  Tensor x = rnd({2, 0, 50, 100}, 1);
  Tensor y = conv(x);
  REQUIRE(y.shape() == Shape{2, 33, 24, 49});
  // With no fan-in PyTorch leaves the bias uninitialised; tapegrad makes it zero.
  check_is_bias(y, conv.bias);
  conv.bias.value<double>() = xt::arange<double>(33);
  y = conv(x);
  check_is_bias(y, conv.bias);

  Tensor g = rnd({2, 33, 24, 49}, 2, false);
  sum(y * g).backward();
  CHECK(x.grad().shape() == Shape{2, 0, 50, 100});
  CHECK(conv.weight.grad().shape() == Shape{33, 0, 3, 3});
  // d/db[c] = Σ_{n,i,j} g[n, c, i, j]
  Tensor expected = sum(g, {0, 2, 3});
  CHECK(xt::allclose(conv.bias.grad().cvalue<double>(), expected.cvalue<double>(), 1e-12, 0));
}

TEST_CASE("conv empty channels: grouped, empty batch, unbatched and every option") {
  struct Case {
    const char* what;
    Shape x, w;
    Conv2dOptions opts;
    Shape out;
  };
  const std::vector<Case> cases = {
      {"groups 2", {1, 0, 5, 5}, {4, 0, 3, 3}, Conv2dOptions{}.groups(2), {1, 4, 3, 3}},
      {"empty batch", {0, 0, 5, 5}, {4, 0, 3, 3}, Conv2dOptions{}, {0, 4, 3, 3}},
      {"unbatched", {0, 6, 7}, {3, 0, 2, 2}, Conv2dOptions{}.padding(1), {3, 7, 8}},
      {"dilation and reflect padding",
       {2, 0, 6, 6},
       {2, 0, 3, 3},
       Conv2dOptions{}.dilation(2).padding(1).padding_mode(kernels::PaddingMode::Reflect),
       {2, 2, 4, 4}},
      {"padding same", {1, 0, 5, 4}, {3, 0, 3, 2}, Conv2dOptions{}.padding("same"), {1, 3, 5, 4}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    Tensor x = rnd(c.x, 3), w = rnd(c.w, 4), b = rnd({c.w[0]}, 5);
    Tensor y = conv2d(x, w, b, c.opts);
    REQUIRE(y.shape() == c.out);
    Shape y4 = c.out;
    if (y4.size() == 3) y4.insert(y4.begin(), 1);
    check_is_bias(reshape(y, {std::int64_t(y4[0]), std::int64_t(y4[1]), std::int64_t(y4[2]),
                              std::int64_t(y4[3])}),
                  b);
    // The bias is the only input with elements: its gradient, and the gradient of that
    // gradient, are checked numerically.
    auto f = [&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], c.opts); };
    const GradcheckReport first = gradcheck(f, {x, w, b});
    const GradcheckReport second = gradgradcheck(f, {x, w, b});
    CAPTURE(first.message);
    CAPTURE(second.message);
    CHECK(first.passed);
    CHECK(second.passed);
    CHECK(first.checked == b.numel() * y.numel());
  }
}

TEST_CASE("conv empty channels: ConvTranspose2d with zero output channels") {
  // weight [C_in, C_out/groups = 0, kH, kW]: the output has no channels, and the input's
  // gradient is zero (nothing depends on it).
  ConvTranspose2d convt(3, 0, 3, ConvTranspose2dOptions{}.stride(2), true, 9, Dtype::Float64);
  CHECK(convt.weight.shape() == Shape{3, 0, 3, 3});
  CHECK(convt.bias.shape() == Shape{0});
  Tensor x = rnd({2, 3, 5, 5}, 6);
  Tensor y = convt(x);
  CHECK(y.shape() == Shape{2, 0, 11, 11});
  sum(y).backward();
  REQUIRE(x.grad().shape() == x.shape());
  CHECK(xt::all(xt::equal(x.grad().cvalue<double>(), 0.0)));
  CHECK(convt.weight.grad().shape() == Shape{3, 0, 3, 3});
}

TEST_CASE("conv empty channels: Conv2d with zero output channels is PyTorch's error") {
  CHECK_THROWS_WITH_AS(conv2d(rnd({1, 2, 5, 5}, 1), rnd({0, 2, 3, 3}, 2)),
                       "conv2d: Given groups=1, expected weight to be at least 1 at dimension 0, "
                       "but got weight of size [0, 2, 3, 3] instead",
                       std::invalid_argument);
}
