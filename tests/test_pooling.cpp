// Pooling and upsampling: hand-computed values and indices (ties, NaN, ceil_mode,
// divisors, adaptive windows, nearest/bilinear source positions), first and second
// derivatives by finite differences for every op and option, modules' printouts, and
// every rejected call by its message.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tapegrad/layers/pooling.hpp>
#include <tapegrad/layers/upsample.hpp>
#include <tapegrad/tapegrad.hpp>
#include <vector>

using namespace tapegrad;

namespace {

Tensor make(const Shape& s, std::vector<double> v, bool requires_grad = false) {
  Array<double> a = Array<double>::from_shape(s);
  REQUIRE(a.size() == v.size());
  std::copy(v.begin(), v.end(), a.data());
  return Tensor::from_array(std::move(a), requires_grad);
}

Tensor iota(const Shape& s, bool requires_grad = false) {
  std::size_t n = 1;
  for (auto e : s) n *= e;
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = double(i);
  return make(s, v, requires_grad);
}

std::vector<double> values(const Tensor& t) {
  const auto& a = t.value<double>();
  return std::vector<double>(a.begin(), a.end());
}

// Distinct values in [-1, 1] (no ties, so max pooling is differentiable at the point).
Tensor rnd(const Shape& s, std::uint64_t seed) {
  Generator gen(seed);
  Tensor t = Tensor::rand(s, gen, Dtype::Float64);
  return Tensor::from(Array<double>(t.value<double>() * 2.0 - 1.0), true);
}

int g_checks = 0;

void check_grads(const char* what, const TensorFunction& f, const std::vector<Tensor>& in) {
  const GradcheckReport first = gradcheck(f, in);
  const GradcheckReport second = gradgradcheck(f, in);
  DOCTEST_INFO(what);
  DOCTEST_INFO(first.message);
  DOCTEST_INFO(second.message);
  CHECK(first.passed);
  CHECK(second.passed);
  CHECK(second.checked > 0);
  g_checks += 2;
}

using V = std::vector<Tensor>;
using I = std::vector<std::int64_t>;

}  // namespace

TEST_CASE("pooling: max_pool2d values and flat indices") {
  const Tensor x = iota({1, 1, 4, 4});
  auto [y, idx] = max_pool2d_with_indices(x, {2});
  CHECK(y.shape() == Shape{1, 1, 2, 2});
  CHECK(values(y) == std::vector<double>{5, 7, 13, 15});
  CHECK(idx.values() == std::vector<std::int64_t>{5, 7, 13, 15});
  // Padding: windows of 3 with stride 2 over [-1, 4], padding never wins.
  auto [yp, ip] =
      max_pool2d_with_indices(make({1, 3, 3}, {-9, -8, -7, -6, -5, -4, -3, -2, -1}), {3}, {2}, {1});
  CHECK(yp.shape() == Shape{1, 2, 2});
  CHECK(values(yp) == std::vector<double>{-5, -4, -2, -1});
  CHECK(ip.values() == std::vector<std::int64_t>{4, 5, 7, 8});
  // Dilation 2 picks elements 0, 2 of each row/column of a 3×3 window.
  auto [yd, id] = max_pool2d_with_indices(iota({1, 1, 3, 3}), {2}, {1}, {0}, {2});
  CHECK(values(yd) == std::vector<double>{8});
  CHECK(id.values() == std::vector<std::int64_t>{8});
}

TEST_CASE("pooling: max_pool2d ties and NaN as PyTorch's CPU kernel") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  // Ties: the first maximum in window order.
  auto [y, idx] = max_pool2d_with_indices(make({1, 1, 2, 2}, {3, 3, 3, 3}), {2});
  CHECK(idx.values() == std::vector<std::int64_t>{0});
  auto [y2, idx2] = max_pool2d_with_indices(make({1, 1, 2, 2}, {1, 3, 2, 3}), {2});
  CHECK(idx2.values() == std::vector<std::int64_t>{1});
  // NaN propagates; of two NaNs the later one is kept (`val > max || isnan(val)`).
  auto [yn, in] = max_pool2d_with_indices(make({1, 1, 2, 2}, {1, nan, nan, 5}), {2});
  CHECK(std::isnan(values(yn)[0]));
  CHECK(in.values() == std::vector<std::int64_t>{2});
  // All −inf: the value is −inf and the index the window's first element.
  auto [yi, ii] = max_pool2d_with_indices(make({1, 1, 2, 2}, {-inf, -inf, -inf, -inf}), {2});
  CHECK(values(yi)[0] == -inf);
  CHECK(ii.values() == std::vector<std::int64_t>{0});
  // The gradient goes to the index only, for ties too.
  Tensor t = make({1, 1, 2, 2}, {3, 3, 3, 3}, true);
  sum(max_pool2d(t, {2})).backward();
  CHECK(values(t.grad()) == std::vector<double>{1, 0, 0, 0});
  auto [ya, ia] = adaptive_max_pool2d_with_indices(make({1, 1, 2, 2}, {nan, 0, nan, 1}), {1, 1});
  CHECK(ia.values() == std::vector<std::int64_t>{2});
}

TEST_CASE("pooling: ceil_mode windows must start inside the input or the left padding") {
  CHECK(kernels::pooling_output_size(5, 2, 0, 2, 1, false) == 2);
  CHECK(kernels::pooling_output_size(5, 2, 0, 2, 1, true) == 3);
  // (5 + 2 − 3 + 2)/3 + 1 = 3, but window 2 would start at 6 − 1 = 5: past the input.
  CHECK(kernels::pooling_output_size(5, 3, 1, 3, 1, true) == 2);
  CHECK(kernels::pooling_output_size(4, 2, 1, 2, 1, true) == 3);
  // A ceil-mode window hanging over the end: max over what is left; avg divides by the
  // part inside input + right padding.
  const Tensor x = make({1, 1, 1, 5}, {1, 2, 3, 4, 5});
  CHECK(values(max_pool2d(x, {1, 2}, {1, 2}, {0}, {1}, true)) == std::vector<double>{2, 4, 5});
  CHECK(values(avg_pool2d(x, {1, 2}, {1, 2}, {0}, true)) == std::vector<double>{1.5, 3.5, 5});
  // W = 4, padding 1: windows start at −1, 1, 3; the last spans [3, 6), clipped to
  // W + 1 = 5 for count_include_pad's divisor (2) and to W = 4 for the elements (x[3]).
  const Tensor x4 = make({1, 1, 1, 4}, {1, 2, 3, 4});
  CHECK(values(avg_pool2d(x4, {1, 3}, {1, 2}, {0, 1}, true)) == std::vector<double>{1, 3, 2});
  CHECK(values(avg_pool2d(x4, {1, 3}, {1, 2}, {0, 1}, true, false)) ==
        std::vector<double>{1.5, 3, 4});
}

TEST_CASE("pooling: avg_pool2d divisors") {
  const Tensor ones = Tensor::ones({1, 1, 3, 3}, Dtype::Float64);
  const std::vector<double> with_pad = values(avg_pool2d(ones, {3}, {1}, {1}));
  CHECK(with_pad[0] == doctest::Approx(4.0 / 9));
  CHECK(with_pad[1] == doctest::Approx(6.0 / 9));
  CHECK(with_pad[4] == doctest::Approx(1.0));
  CHECK(values(avg_pool2d(ones, {3}, {1}, {1}, false, false)) == std::vector<double>(9, 1.0));
  const std::vector<double> over = values(avg_pool2d(ones, {3}, {1}, {1}, false, true, 2));
  CHECK(over[0] == 2.0);
  CHECK(over[4] == 4.5);
  // Unbatched input keeps its rank.
  CHECK(avg_pool2d(Tensor::ones({2, 4, 4}, Dtype::Float64), {2}).shape() == Shape{2, 2, 2});
}

TEST_CASE("pooling: adaptive windows floor(i*H/out) to ceil((i+1)*H/out)") {
  // H = 5 → 3 windows: [0, 2), [1, 4), [3, 5).
  const Tensor x = iota({1, 1, 5, 1});
  CHECK(values(adaptive_avg_pool2d(x, {3, std::nullopt})) == std::vector<double>{0.5, 2, 3.5});
  auto [y, idx] = adaptive_max_pool2d_with_indices(x, {3, 1});
  CHECK(values(y) == std::vector<double>{1, 3, 4});
  CHECK(idx.values() == std::vector<std::int64_t>{1, 3, 4});
  // Upsampling windows (out > in) repeat elements.
  CHECK(values(adaptive_avg_pool2d(iota({2, 1, 2}), {1, 4})) ==
        std::vector<double>{0, 0, 1, 1, 2, 2, 3, 3});
  CHECK(adaptive_avg_pool2d(iota({1, 2, 3, 3}), {0, 2}).shape() == Shape{1, 2, 0, 2});
}

TEST_CASE("pooling: max_unpool2d writes values at their indices") {
  const Tensor x = iota({1, 2, 4, 4});
  auto [y, idx] = max_pool2d_with_indices(x, {2});
  const Tensor u = max_unpool2d(y, idx, {2});
  CHECK(u.shape() == x.shape());
  std::vector<double> want(32, 0.0);
  for (std::int64_t p = 0; p < 2; ++p)
    for (std::int64_t i : {5, 7, 13, 15}) want[p * 16 + i] = double(p * 16 + i);
  CHECK(values(u) == want);
  // output_size within a stride of the default (5 instead of 4), and {N, C, H, W} form.
  CHECK(max_unpool2d(y, idx, {2}, {}, {0}, I{5, 5}).shape() == Shape{1, 2, 5, 5});
  CHECK(max_unpool2d(y, idx, {2}, {}, {0}, I{1, 2, 5, 4}).shape() == Shape{1, 2, 5, 4});
  // Repeated indices: the last write wins; the gradient gathers for each input.
  Tensor v = make({1, 1, 1, 2}, {1, 2}, true);
  const Tensor w = max_unpool2d(v, IndexTensor({1, 1, 1, 2}, {0, 0}), {1, 2});
  CHECK(values(w) == std::vector<double>{2, 0, 0, 0});  // default width (2 − 1)·2 + 2
  sum(w * make({1, 1, 1, 4}, {3, 4, 5, 6})).backward();
  CHECK(values(v.grad()) == std::vector<double>{3, 3});
}

TEST_CASE("pooling: interpolate nearest and bilinear source positions") {
  using O = InterpolateOptions;
  const Tensor x = iota({1, 1, 1, 3});
  O n;
  n.size = I{1, 5};  // scale 3/5: floor(0.6·o) = 0 0 1 1 2
  CHECK(values(interpolate(x, n)) == std::vector<double>{0, 0, 1, 1, 2});
  O f;
  f.scale_factor = std::vector<double>{1, 1.5};  // 4 outputs, scale 1/1.5: 0 0 1 2
  CHECK(values(interpolate(x, f)) == std::vector<double>{0, 0, 1, 2});
  f.recompute_scale_factor = true;  // scale 3/4: 0 0 1 2
  CHECK(values(interpolate(x, f)) == std::vector<double>{0, 0, 1, 2});
  O b;
  b.size = I{1, 5};
  b.mode = InterpolateMode::Bilinear;
  b.align_corners = true;  // positions 0, .5, 1, 1.5, 2
  CHECK(values(interpolate(x, b)) == std::vector<double>{0, 0.5, 1, 1.5, 2});
  b.align_corners = false;  // positions max(0.6(o + .5) − .5, 0) = 0, .4, 1, 1.6, 2.2→edge
  const std::vector<double> v = values(interpolate(x, b));
  const std::vector<double> want{0, 0.4, 1, 1.6, 2};
  for (std::size_t i = 0; i < 5; ++i) CHECK(v[i] == doctest::Approx(want[i]).epsilon(1e-12));
}

TEST_CASE("pooling: gradcheck and gradgradcheck of max pooling and unpooling") {
  const Tensor x = rnd({2, 2, 5, 5}, 1);
  check_grads("max_pool2d 2", [](const V& v) { return max_pool2d(v[0], {2}); }, {x});
  check_grads("max_pool2d 3 s2 p1 ceil",
              [](const V& v) { return max_pool2d(v[0], {3}, {2}, {1}, {1}, true); }, {x});
  check_grads("max_pool2d (2,3) s(1,2) p(1,0) d(2,1)",
              [](const V& v) {
                return max_pool2d(v[0], {2, 3}, {1, 2}, {1, 0}, {2, 1});
              },
              {x});
  check_grads("max_pool2d unbatched", [](const V& v) { return max_pool2d(v[0], {2}, {1}); },
              {rnd({2, 4, 3}, 2)});
  check_grads("adaptive_max_pool2d (3, 2)",
              [](const V& v) {
                return adaptive_max_pool2d(v[0], {3, 2});
              },
              {x});
  check_grads("adaptive_max_pool2d (7, None)",
              [](const V& v) {
                return adaptive_max_pool2d(v[0], {7, std::nullopt});
              },
              {rnd({1, 2, 5, 3}, 3)});
  const Tensor small = rnd({1, 2, 3, 3}, 4);
  // Not a structured binding: clang 14 cannot capture one in a lambda.
  const IndexTensor idx = max_pool2d_with_indices(rnd({1, 2, 6, 6}, 5), {2}).second;
  check_grads("max_unpool2d", [idx](const V& v) { return max_unpool2d(v[0], idx, {2}); }, {small});
  check_grads("max_unpool2d output_size",
              [idx](const V& v) {
                return max_unpool2d(v[0], idx, {2}, {2}, {0}, I{7, 7});
              },
              {small});
}

TEST_CASE("pooling: gradcheck and gradgradcheck of average pooling") {
  const Tensor x = rnd({2, 2, 5, 5}, 6);
  check_grads("avg_pool2d 2", [](const V& v) { return avg_pool2d(v[0], {2}); }, {x});
  check_grads("avg_pool2d 3 s2 p1 ceil include_pad",
              [](const V& v) { return avg_pool2d(v[0], {3}, {2}, {1}, true, true); }, {x});
  check_grads("avg_pool2d 3 s2 p1 ceil exclude_pad",
              [](const V& v) { return avg_pool2d(v[0], {3}, {2}, {1}, true, false); }, {x});
  check_grads("avg_pool2d (2,3) s(1,2) p(1,0) divisor 5",
              [](const V& v) {
                return avg_pool2d(v[0], {2, 3}, {1, 2}, {1, 0}, false, true, 5);
              },
              {x});
  check_grads("avg_pool2d unbatched", [](const V& v) { return avg_pool2d(v[0], {2}, {1}); },
              {rnd({2, 4, 3}, 7)});
  check_grads("adaptive_avg_pool2d (3, 4)",
              [](const V& v) {
                return adaptive_avg_pool2d(v[0], {3, 4});
              },
              {x});
  check_grads("adaptive_avg_pool2d (None, 8) unbatched",
              [](const V& v) {
                return adaptive_avg_pool2d(v[0], {std::nullopt, 8});
              },
              {rnd({2, 3, 5}, 8)});
}

TEST_CASE("pooling: gradcheck and gradgradcheck of interpolate") {
  const Tensor x = rnd({1, 2, 3, 4}, 9);
  for (InterpolateMode mode : {InterpolateMode::Nearest, InterpolateMode::Bilinear})
    for (int variant = 0; variant < 4; ++variant) {
      InterpolateOptions o;
      o.mode = mode;
      if (variant == 0) o.size = I{5, 7};
      if (variant == 1) o.size = I{2, 3};  // downsampling
      if (variant == 2) o.scale_factor = std::vector<double>{1.7, 2.0};
      if (variant == 3) {
        o.scale_factor = std::vector<double>{2.5};
        o.recompute_scale_factor = true;
      }
      if (mode == InterpolateMode::Bilinear) o.align_corners = variant % 2 == 0;
      check_grads(mode == InterpolateMode::Nearest ? "nearest" : "bilinear",
                  [o](const V& v) { return interpolate(v[0], o); }, {x});
    }
  MESSAGE("gradcheck + gradgradcheck runs so far: " << g_checks);
}

TEST_CASE("pooling: modules and their printouts") {
  MaxPool2d mp({2});
  CHECK(mp.repr() == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  MaxPool2d mp2({3, 2}, {1}, {1, 0}, {1}, true, true);
  CHECK(mp2.repr() ==
        "MaxPool2d(kernel_size=(3, 2), stride=1, padding=(1, 0), dilation=1, ceil_mode=True)");
  const Tensor x = iota({1, 1, 4, 4});
  auto [y, idx] = mp.forward_with_indices(x);
  CHECK(values(mp(x)) == values(y));
  MaxUnpool2d un({2});
  CHECK(un.repr() == "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))");
  CHECK(un.forward(y, idx).shape() == x.shape());
  AvgPool2d ap({3}, {2}, {1}, true, false, 3);
  CHECK(ap.repr() == "AvgPool2d(kernel_size=3, stride=2, padding=1)");
  CHECK(values(ap(x)) == values(avg_pool2d(x, {3}, {2}, {1}, true, false, 3)));
  AdaptiveAvgPool2d aa({std::nullopt, 7});
  CHECK(aa.repr() == "AdaptiveAvgPool2d(output_size=(None, 7))");
  CHECK(aa(x).shape() == Shape{1, 1, 4, 7});
  AdaptiveMaxPool2d am({3}, true);
  CHECK(am.repr() == "AdaptiveMaxPool2d(output_size=3)");
  CHECK(am(x).shape() == Shape{1, 1, 3, 3});
  CHECK(am.forward_with_indices(x).second.shape() == Shape{1, 1, 3, 3});
  Upsample up(std::nullopt, std::vector<double>{2});
  CHECK(up.repr() == "Upsample(scale_factor=2.0, mode='nearest')");
  CHECK(up(x).shape() == Shape{1, 1, 8, 8});
  Upsample ub(I{5, 6}, std::nullopt, InterpolateMode::Bilinear, true);
  CHECK(ub.repr() == "Upsample(size=(5, 6), mode='bilinear')");
  CHECK(Upsample(std::nullopt, std::vector<double>{1.5, 2}).repr() ==
        "Upsample(scale_factor=(1.5, 2.0), mode='nearest')");
}

TEST_CASE("pooling: bad inputs are rejected with PyTorch's messages") {
  const Tensor x = Tensor::ones({1, 2, 5, 5}, Dtype::Float64);
  using doctest::Contains;
  CHECK_THROWS_WITH_AS(max_pool2d(x, {3}, {1}, {2}),
                       "max_pool2d: pad should be at most half of kernel size, but got pad=2 "
                       "and kernel_size=3",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2d(x, {2}, {0}), "max_pool2d: stride should not be zero",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2d(x, {2}, {-1}),
                       "max_pool2d: stride should be greater than zero, but got dH: -1 dW: -1",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2d(x, {0}), "max_pool2d: stride should not be zero",
                       std::invalid_argument);  // the stride defaults to the kernel
  CHECK_THROWS_WITH_AS(max_pool2d(x, {0}, {1}),
                       "max_pool2d: kernel size should be greater than zero, but got kH: 0 kW: 0",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2d(x, {2}, {}, {0}, {0}),
                       "max_pool2d: dilation should be greater than zero, but got dilationH: 0 "
                       "dilationW: 0",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2d(x, {2}, {}, {-1}),
                       "max_pool2d: pad must be non-negative, but got pad: -1",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2d(x, {6}),
                       "max_pool2d: Given input size: (2x5x5). Calculated output size: (2x0x0). "
                       "Output size is too small",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      max_pool2d(x, {1, 2, 3}),
      "max_pool2d: kernel_size must either be a single int, or a tuple of two ints",
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2d(x, {2}, {1, 1, 1}),
                       Contains("stride must either be omitted, a single int, or a tuple of two"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2d(x, {2}, {}, {}),
                       Contains("padding must either be a single int, or a tuple of two ints"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2d(x, {2}, {}, {0}, {}),
                       Contains("dilation must be either a single int, or a tuple of two ints"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2d(Tensor::ones({5, 5}), {2}),
                       "max_pool2d: non-empty 3D or 4D (batch mode) tensor expected for input, "
                       "but got [5, 5]",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2d(Tensor::ones({1, 0, 5, 5}), {2}),
                       "max_pool2d: Expected 3D or 4D (batch mode) tensor with optional 0 dim "
                       "batch size for input, but got:[1, 0, 5, 5]",
                       std::invalid_argument);
  CHECK(max_pool2d(Tensor::ones({0, 2, 5, 5}), {2}).shape() == Shape{0, 2, 2, 2});
  CHECK_THROWS_WITH_AS(avg_pool2d(x, {2}, {}, {0}, false, true, 0),
                       "avg_pool2d: divisor must be not zero", std::invalid_argument);
  CHECK_THROWS_WITH_AS(avg_pool2d(x, {3}, {1}, {2}),
                       "avg_pool2d: pad should be at most half of kernel size, but got pad=2 "
                       "and kernel_size=3",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(adaptive_avg_pool2d(Tensor::ones({1, 2, 0, 5}), {2, 2}),
                       "adaptive_avg_pool2d: Expected input to have non-zero size for non-batch "
                       "dimensions, but input has sizes [1, 2, 0, 5] with dimension 2 being empty",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(adaptive_max_pool2d(Tensor::ones({5}), {2, 2}),
                       "adaptive_max_pool2d: Expected 3D or 4D tensor, but got [5]",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(adaptive_avg_pool2d(x, {2}), Contains("output_size must be 2"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(adaptive_avg_pool2d(x, {-1, 2}),
                       Contains("output_size must be non-negative"), std::invalid_argument);
  auto [y, idx] = max_pool2d_with_indices(x, {2});
  CHECK_THROWS_WITH_AS(max_unpool2d(y, idx, {2}, {}, {0}, I{7, 4}),
                       "max_unpool2d: invalid output_size \"[7, 4]\" (dim 0 must be between 2 "
                       "and 6)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_unpool2d(y, idx, {2}, {}, {0}, I{4}),
                       "max_unpool2d: output_size should be a sequence containing 2 or 4 "
                       "elements, but it has a length of '1'",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_unpool2d(y, IndexTensor::full({1, 2, 2, 2}, 16), {2}),
                       "max_unpool2d: Found an invalid max index: 16 (output volumes are of size "
                       "4x4)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_unpool2d(y, IndexTensor::full({1, 2, 2, 1}, 0), {2}),
                       "max_unpool2d: Expected shape of indices to be same as that of the input "
                       "tensor ([1, 2, 2, 2]) but got indices tensor with shape: [1, 2, 2, 1]",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_unpool2d(Tensor::ones({2, 2}), IndexTensor::full({2, 2}, 0), {2}),
                       "max_unpool2d: Input to max_unpooling2d should be a 3d or 4d Tensor, but "
                       "got a tensor with 2 dimensions.",
                       std::invalid_argument);
  InterpolateOptions o;
  CHECK_THROWS_WITH_AS(interpolate(x, o),
                       "interpolate: either size or scale_factor should be defined",
                       std::invalid_argument);
  o.size = I{3, 3};
  o.scale_factor = std::vector<double>{2};
  CHECK_THROWS_WITH_AS(interpolate(x, o),
                       "interpolate: only one of size or scale_factor should be defined",
                       std::invalid_argument);
  o.scale_factor.reset();
  o.align_corners = true;
  CHECK_THROWS_WITH_AS(interpolate(x, o),
                       "interpolate: align_corners option can only be set with the interpolating "
                       "modes: linear | bilinear | bicubic | trilinear",
                       std::invalid_argument);
  o.mode = InterpolateMode::Bilinear;
  CHECK_THROWS_WITH_AS(interpolate(Tensor::ones({2, 5, 5}), o),
                       "interpolate: Got 3D input, but bilinear mode needs 4D input",
                       std::invalid_argument);
  o.size = I{0, 3};
  CHECK_THROWS_WITH_AS(interpolate(x, o),
                       "interpolate: Input and output sizes should be greater than 0, but got "
                       "input (H: 5, W: 5) output (H: 0, W: 3)",
                       std::invalid_argument);
  o.size = I{1, 2, 3};
  CHECK_THROWS_WITH_AS(interpolate(x, o),
                       Contains("Input and output must have the same number of spatial "
                                "dimensions, but got input with spatial dimensions of [5, 5] and "
                                "output size of [1, 2, 3]"),
                       std::invalid_argument);
  o.size.reset();
  o.scale_factor = std::vector<double>{1, 2, 3};
  CHECK_THROWS_WITH_AS(interpolate(x, o),
                       "interpolate: scale_factor shape must match input shape. Input is 2D, "
                       "scale_factor size is [1, 2, 3]",
                       std::invalid_argument);
}
