// Taped conv ops and the Conv2d / ConvTranspose2d modules: gradcheck of input, weight
// and bias over a sweep of small configurations, initialisation, printout, errors.
#include <doctest/doctest.h>

#include <cmath>
#include <tapegrad/core/gradcheck.hpp>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/core/tape.hpp>
#include <tapegrad/layers/conv.hpp>

using namespace tapegrad;

namespace {

Tensor rnd(const Shape& s, Generator& g) { return Tensor::randn(s, g, Dtype::Float64, true); }

struct Cfg {
  std::size_t n, cin, cout, h, w, kh, kw;
  std::int64_t sh, sw, ph, pw, dh, dw, groups;
  bool bias;
};

}  // namespace

TEST_CASE("conv2d op: gradcheck of input, weight and bias over a sweep") {
  Generator gen(7);
  const std::vector<Cfg> cfgs = {{1, 1, 1, 4, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1, true},
                                 {2, 2, 3, 5, 4, 2, 3, 2, 1, 1, 0, 1, 1, 1, true},
                                 {1, 4, 4, 5, 5, 3, 3, 1, 2, 1, 1, 2, 1, 2, false},
                                 {2, 3, 6, 4, 5, 1, 1, 2, 2, 0, 1, 1, 1, 3, true},
                                 {1, 2, 2, 6, 6, 3, 2, 3, 2, 2, 1, 1, 2, 2, true},
                                 {1, 3, 2, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, true}};
  int checked = 0;
  for (const auto& c : cfgs) {
    CAPTURE(checked);
    auto opts = Conv2dOptions{}
                    .stride({c.sh, c.sw})
                    .padding({c.ph, c.pw})
                    .dilation({c.dh, c.dw})
                    .groups(c.groups);
    Tensor x = rnd({c.n, c.cin, c.h, c.w}, gen);
    Tensor w = rnd({c.cout, c.cin / c.groups, c.kh, c.kw}, gen);
    std::vector<Tensor> in = {x, w};
    if (c.bias) in.push_back(rnd({c.cout}, gen));
    auto r = gradcheck(
        [opts](const std::vector<Tensor>& v) {
          return conv2d(v[0], v[1], v.size() > 2 ? v[2] : Tensor(), opts);
        },
        in);
    INFO(r.message);
    CHECK(r.passed);
    ++checked;
  }
  // Padding modes and same/valid go through an explicit pad: check their backward too.
  for (const char* mode : {"reflect", "replicate", "circular"}) {
    CAPTURE(mode);
    auto opts = Conv2dOptions{}.padding({1, 2}).padding_mode(mode);
    auto r =
        gradcheck([opts](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], opts); },
                  {rnd({2, 2, 4, 5}, gen), rnd({3, 2, 3, 3}, gen), rnd({3}, gen)});
    INFO(r.message);
    CHECK(r.passed);
  }
  for (const char* pad : {"same", "valid"}) {
    CAPTURE(pad);
    auto opts = Conv2dOptions{}.padding(pad).dilation({1, 2});
    auto r =
        gradcheck([opts](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], opts); },
                  {rnd({1, 2, 6, 7}, gen), rnd({2, 2, 2, 3}, gen), rnd({2}, gen)});
    INFO(r.message);
    CHECK(r.passed);
  }
  // Unbatched input.
  auto r = gradcheck(
      [](const std::vector<Tensor>& v) {
        return conv2d(v[0], v[1], v[2], Conv2dOptions{}.padding(1));
      },
      {rnd({2, 4, 4}, gen), rnd({3, 2, 3, 3}, gen), rnd({3}, gen)});
  CHECK(r.passed);
}

TEST_CASE("conv_transpose2d op: gradcheck of input, weight and bias over a sweep") {
  Generator gen(8);
  struct TCfg {
    std::size_t n, cin, cout, h, w, kh, kw;
    std::int64_t sh, sw, ph, pw, oph, opw, dh, dw, groups;
    bool bias;
  };
  const std::vector<TCfg> cfgs = {{1, 1, 1, 3, 3, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},
                                  {2, 2, 3, 3, 4, 3, 2, 2, 1, 1, 0, 1, 0, 1, 1, 1, true},
                                  {1, 4, 2, 3, 3, 3, 3, 2, 2, 1, 1, 1, 0, 2, 1, 2, false},
                                  {2, 3, 6, 2, 3, 1, 1, 2, 3, 0, 0, 1, 2, 1, 1, 3, true},
                                  {1, 2, 2, 3, 2, 2, 3, 3, 2, 1, 0, 2, 1, 1, 2, 2, true},
                                  {1, 2, 4, 2, 2, 3, 3, 1, 1, 0, 0, 1, 1, 2, 2, 1, true}};
  for (const auto& c : cfgs) {
    auto opts = ConvTranspose2dOptions{}
                    .stride({c.sh, c.sw})
                    .padding({c.ph, c.pw})
                    .output_padding({c.oph, c.opw})
                    .dilation({c.dh, c.dw})
                    .groups(c.groups);
    Tensor x = rnd({c.n, c.cin, c.h, c.w}, gen);
    Tensor w = rnd({c.cin, c.cout / c.groups, c.kh, c.kw}, gen);
    std::vector<Tensor> in = {x, w};
    if (c.bias) in.push_back(rnd({c.cout}, gen));
    auto r = gradcheck(
        [opts](const std::vector<Tensor>& v) {
          return conv_transpose2d(v[0], v[1], v.size() > 2 ? v[2] : Tensor(), opts);
        },
        in);
    INFO(r.message);
    CHECK(r.passed);
  }
  // output_size at call time, and unbatched input.
  auto opts = ConvTranspose2dOptions{}.stride(3).padding(1);
  auto r = gradcheck(
      [opts](const std::vector<Tensor>& v) {
        return conv_transpose2d(v[0], v[1], v[2], opts, std::vector<std::int64_t>{7, 8});
      },
      {rnd({2, 3, 3}, gen), rnd({2, 2, 3, 3}, gen), rnd({2}, gen)});
  INFO(r.message);
  CHECK(r.passed);
}

TEST_CASE("conv ops: only the gradients that are needed are computed") {
  Tape tape;
  Tape::Use use(tape);
  Generator gen(3);
  Tensor x = Tensor::randn({1, 2, 5, 5}, gen);  // data: no grad
  Tensor w = Tensor::randn({3, 2, 3, 3}, gen, Dtype::Float32, true);
  Tensor b = Tensor::randn({3}, gen);  // frozen bias
  sum(conv2d(x, w, b)).backward();
  CHECK(w.has_grad());
  CHECK_FALSE(x.has_grad());
  CHECK_FALSE(b.has_grad());
}

TEST_CASE("Conv2d / ConvTranspose2d modules: PyTorch's default initialisation bounds") {
  Generator gen(11);
  Conv2d conv(6, 8, {3, 5}, gen, Conv2dOptions{}.groups(2));
  CHECK(conv.weight.shape() == Shape{8, 3, 3, 5});
  const double bound = 1.0 / std::sqrt(3.0 * 3 * 5);  // kaiming_uniform(a=√5) = U(±1/√fan_in)
  double wmax = 0, bmax = 0;
  for (float v : conv.weight.value<float>()) wmax = std::max(wmax, std::fabs(double(v)));
  for (float v : conv.bias.value<float>()) bmax = std::max(bmax, std::fabs(double(v)));
  CHECK(wmax <= bound);
  CHECK(wmax > 0.8 * bound);  // 360 draws fill the interval
  CHECK(bmax <= bound);
  // ConvTranspose2d's fan-in comes from the weight's dim 1 = out_channels/groups·kH·kW.
  ConvTranspose2d deconv(4, 6, 3, gen, ConvTranspose2dOptions{}.groups(2));
  CHECK(deconv.weight.shape() == Shape{4, 3, 3, 3});
  const double tbound = 1.0 / std::sqrt(3.0 * 9);
  double tmax = 0;
  for (float v : deconv.weight.value<float>()) tmax = std::max(tmax, std::fabs(double(v)));
  CHECK(tmax <= tbound);
  CHECK(tmax > 0.7 * tbound);
  // Same seed, same model.
  Conv2d a(2, 3, 3, Conv2dOptions{}, true, 42), b(2, 3, 3, Conv2dOptions{}, true, 42);
  CHECK(a.weight.value<float>() == b.weight.value<float>());
  CHECK(a.num_parameters() == 3 * 2 * 9 + 3);
}

TEST_CASE("Conv2d / ConvTranspose2d modules: printout like PyTorch's repr") {
  Conv2d c(1, 16, 3, Conv2dOptions{}.stride(2).padding(1));
  CHECK(c.repr() == "Conv2d(1, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))");
  ConvTranspose2d t(32, 16, 3, ConvTranspose2dOptions{}.stride(2).padding(1).output_padding(1),
                    false);
  CHECK(t.repr() ==
        "ConvTranspose2d(32, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
        "output_padding=(1, 1), bias=false)");
  Conv2d r(4, 4, {3, 1}, Conv2dOptions{}.padding("same").groups(4).padding_mode("reflect"));
  CHECK(r.repr() ==
        "Conv2d(4, 4, kernel_size=(3, 1), stride=(1, 1), padding=same, groups=4, "
        "padding_mode=reflect)");
}

TEST_CASE("Conv2d / ConvTranspose2d modules: constructor errors as PyTorch") {
  CHECK_THROWS_WITH_AS(Conv2d(3, 4, 3, Conv2dOptions{}.groups(2)),
                       doctest::Contains("Conv2d: in_channels must be divisible by groups"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Conv2d(4, 3, 3, Conv2dOptions{}.groups(2)),
                       doctest::Contains("Conv2d: out_channels must be divisible by groups"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Conv2d(4, 4, 3, Conv2dOptions{}.groups(0)),
                       doctest::Contains("groups must be a positive integer"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Conv2d(4, 4, {3, 3, 3}),
                       doctest::Contains("kernel_size must be one value or a pair"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Conv2d(4, 4, 0), doctest::Contains("kernel_size must be positive"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      Conv2d(4, 4, 3, Conv2dOptions{}.padding("same").stride(2)),
      doctest::Contains("padding='same' is not supported for strided convolutions"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(ConvTranspose2d(4, 4, 3, ConvTranspose2dOptions{}.padding_mode("reflect")),
                       doctest::Contains("Only \"zeros\" padding mode is supported"),
                       std::invalid_argument);
  // Per-call errors come from the kernels' shared checks, named after the op.
  Conv2d c(3, 6, 3);
  CHECK_THROWS_WITH_AS(
      c(Tensor::zeros({1, 4, 5, 5})),
      doctest::Contains(
          "expected input[1, 4, 5, 5] to have 3 channels, but got 4 channels instead"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      c(Tensor::zeros({1, 3, 5, 5}, Dtype::Float64)),
      doctest::Contains(
          "conv2d: Input type (float64) and weight type (float32) should be the same"),
      std::invalid_argument);
}

TEST_CASE("ConvTranspose2d module: output_size at call time") {
  ConvTranspose2d t(2, 3, 3, ConvTranspose2dOptions{}.stride(2).padding(1));
  Tensor x = Tensor::ones({1, 2, 4, 4});
  CHECK(t(x).shape() == Shape{1, 3, 7, 7});
  CHECK(t.forward(x, {8, 8}).shape() == Shape{1, 3, 8, 8});
  CHECK(t.forward(x, {1, 3, 8, 7}).shape() == Shape{1, 3, 8, 7});
  CHECK_THROWS_AS(t.forward(x, {9, 9}), std::invalid_argument);
}
