// Classification: softmax/log_softmax, nll_loss, cross_entropy (class indices with
// weights, ignore_index and label smoothing; class probabilities), argmax and the
// comparisons, dropout, and the extra activations. Every differentiable op is
// gradchecked and gradgradchecked in float64; values are checked against hand
// computations; bad inputs by message.
#include <doctest/doctest.h>

#include <cmath>
#include <tapegrad/tapegrad.hpp>

using namespace tapegrad;

namespace {

using V = std::vector<Tensor>;

Tensor rnd(const Shape& s, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Generator gen(seed);
  Tensor t = Tensor::rand(s, gen, Dtype::Float64);
  return Tensor::from(Array<double>(t.cvalue<double>() * (hi - lo) + lo), true);
}

// A reduction of f's output with fixed random weights, so that a "none" output is
// checked with a non-uniform seed as well (gradcheck itself is per element anyway).
void check_both(const std::string& what, const TensorFunction& f, const V& in) {
  const GradcheckReport first = gradcheck(f, in);
  const GradcheckReport second = gradgradcheck(f, in);
  INFO(what);
  INFO(first.message);
  INFO(second.message);
  CHECK(first.passed);
  CHECK(first.checked > 0);
  CHECK(second.passed);
  CHECK(second.checked > 0);
}

std::vector<double> values(const Tensor& t) {
  const auto& a = t.cvalue<double>();
  return std::vector<double>(a.begin(), a.end());
}

const char* red_name(Reduction r) {
  return r == Reduction::None ? "none" : r == Reduction::Sum ? "sum" : "mean";
}

}  // namespace

TEST_CASE("classification: softmax and log_softmax over every dim") {
  const Tensor x = rnd({2, 3, 4}, 1, -2.0, 2.0);
  for (std::int64_t d : {0, 1, 2, -1, -3}) {
    check_both("softmax dim " + std::to_string(d), [d](const V& v) { return softmax(v[0], d); },
               {x});
    check_both("log_softmax dim " + std::to_string(d),
               [d](const V& v) { return log_softmax(v[0], d); }, {x});
  }
  const Tensor s = rnd({}, 2);
  check_both("softmax 0-d", [](const V& v) { return softmax(v[0], 0); }, {s});
  check_both("log_softmax 0-d", [](const V& v) { return log_softmax(v[0], -1); }, {s});
  // The backward ops themselves, in both their inputs.
  const Tensor g = rnd({3, 4}, 3), y = softmax(rnd({3, 4}, 4), 1).detach().requires_grad_();
  const Tensor ly = log_softmax(rnd({3, 4}, 5), 0).detach().requires_grad_();
  check_both("softmax_backward", [](const V& v) { return softmax_backward(v[0], v[1], 1); },
             {g, y});
  check_both("log_softmax_backward", [](const V& v) { return log_softmax_backward(v[0], v[1], 0); },
             {g, ly});
}

TEST_CASE("classification: softmax values are stable and sum to one") {
  // Large logits: a naive exp overflows; the max-subtracted form gives exact values.
  const Tensor x = Tensor::from(Array<double>({{1000.0, 1000.0 + std::log(3.0)}, {-5.0, -5.0}}));
  // The stored gap is ln 3 rounded at 1000's scale: expect the values for that gap.
  const double gap = (1000.0 + std::log(3.0)) - 1000.0;
  const auto p = values(softmax(x, 1));
  CHECK(p[0] == doctest::Approx(1.0 / (1.0 + std::exp(gap))).epsilon(1e-14));
  CHECK(p[1] == doctest::Approx(1.0 / (1.0 + std::exp(-gap))).epsilon(1e-14));
  CHECK(p[2] == 0.5);
  const auto lp = values(log_softmax(x, 1));
  CHECK(lp[0] == doctest::Approx(-std::log1p(std::exp(gap))).epsilon(1e-14));
  CHECK(lp[3] == doctest::Approx(std::log(0.5)).epsilon(1e-14));
  // A NaN spreads over its slice only.
  const Tensor n = Tensor::from(Array<double>({{NAN, 1.0}, {0.0, 0.0}}));
  const auto pn = values(softmax(n, 1));
  CHECK(std::isnan(pn[0]));
  CHECK(std::isnan(pn[1]));
  CHECK(pn[2] == 0.5);
}

TEST_CASE("classification: nll_loss values by hand") {
  const Tensor x = Tensor::from(Array<double>({{-1.0, -2.0, -3.0}, {-4.0, -5.0, -6.0}}));
  const Tensor w = Tensor::from(Array<double>({1.0, 2.0, 3.0}));
  const IndexTensor t{2, 1};
  CHECK(values(nll_loss(x, t, {}, -100, Reduction::None)) == std::vector<double>{3.0, 5.0});
  CHECK(nll_loss(x, t, {}, -100, Reduction::Sum).item() == 8.0);
  CHECK(nll_loss(x, t).item() == 4.0);
  // Weighted mean: (3·3 + 2·5) / (3 + 2).
  CHECK(nll_loss(x, t, w).item() == doctest::Approx(19.0 / 5.0).epsilon(1e-15));
  // Ignored targets count neither in the sum nor in the divisor.
  CHECK(nll_loss(x, IndexTensor{2, 7}, w, 7).item() == 3.0);
  CHECK(values(nll_loss(x, IndexTensor{-100, 0}, w, -100, Reduction::None)) ==
        std::vector<double>{0.0, 4.0});
  // All ignored: the mean is 0/0.
  CHECK(std::isnan(nll_loss(x, IndexTensor{-100, -100}).item()));
  CHECK(nll_loss(x, IndexTensor{-100, -100}, {}, -100, Reduction::Sum).item() == 0.0);
  // [C] input with a 0-d target.
  const Tensor x1 = Tensor::from(Array<double>({-0.5, -1.5}));
  CHECK(nll_loss(x1, IndexTensor(Shape{}, {1})).item() == 1.5);
  CHECK(nll_loss(x1, IndexTensor(Shape{}, {1}), {}, -100, Reduction::None).dim() == 0);
  // [N, C, d] input: out[n, d] = −x[n, t[n, d], d].
  const Tensor x3 = Tensor::from(Array<double>({{{1.0, 2.0}, {3.0, 4.0}}}));  // [1, 2, 2]
  CHECK(values(nll_loss(x3, IndexTensor({1, 2}, {1, 0}), {}, -100, Reduction::None)) ==
        std::vector<double>{-3.0, -2.0});
}

TEST_CASE("classification: nll_loss gradients in every shape, weighted and ignoring") {
  const Tensor w = rnd({4}, 10, 0.2, 2.0);
  struct Case {
    Shape in;
    IndexTensor t;
  };
  const std::vector<Case> cases = {
      {{4}, IndexTensor(Shape{}, {2})},
      {{3, 4}, IndexTensor{3, -100, 0}},
      {{2, 4, 3}, IndexTensor({2, 3}, {0, 1, -100, 3, 3, 2})},
      {{2, 4, 2, 2}, IndexTensor({2, 2, 2}, {0, 1, 2, 3, -100, 1, 1, 0})},
  };
  std::uint64_t seed = 20;
  for (const Case& c : cases)
    for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum})
      for (bool weighted : {false, true}) {
        const Tensor x = rnd(c.in, ++seed);
        const IndexTensor t = c.t;
        const Tensor ww = weighted ? w : Tensor();
        check_both(std::string("nll_loss ") + shape_str(c.in) + " " + red_name(r) +
                       (weighted ? " weighted" : ""),
                   [t, ww, r](const V& v) { return nll_loss(v[0], t, ww, -100, r); }, {x});
      }
  // nll_loss_backward by its grad (its only differentiable input).
  const IndexTensor t{1, 0, 3};
  check_both("nll_loss_backward",
             [t, w](const V& v) {
               return nll_loss_backward(v[0], {3, 4}, t, w, -100, Reduction::None);
             },
             {rnd({3}, 40)});
}

TEST_CASE("classification: cross_entropy values by hand") {
  // Equal logits: log C, whatever the target.
  const Tensor x = Tensor::zeros({2, 4}, Dtype::Float64);
  CHECK(cross_entropy(x, IndexTensor{0, 3}).item() == doctest::Approx(std::log(4.0)));
  // Label smoothing ε with weights w, two samples, C = 2, logits [0, ln 3] (p = ¼, ¾):
  // nll_n = −w[t_n] log p[t_n]; smooth_n = −Σ_c w_c log p_c; mean divides both by
  // Σ w[t_n]; loss = (1 − ε)·nll + ε/C·smooth.
  const double l0 = std::log(0.25), l1 = std::log(0.75);
  const Tensor xs = Tensor::from(Array<double>({{0.0, std::log(3.0)}, {0.0, std::log(3.0)}}));
  const Tensor w = Tensor::from(Array<double>({2.0, 0.5}));
  const double eps = 0.2;
  const double nll = (-2.0 * l0 - 0.5 * l1) / 2.5;
  const double smooth = 2.0 * (-2.0 * l0 - 0.5 * l1) / 2.5;
  CHECK(cross_entropy(xs, IndexTensor{0, 1}, w, -100, Reduction::Mean, eps).item() ==
        doctest::Approx((1 - eps) * nll + eps / 2 * smooth).epsilon(1e-14));
  // With the second target ignored, it leaves both terms and the divisor.
  const double nll1 = -2.0 * l0 / 2.0, smooth1 = (-2.0 * l0 - 0.5 * l1) / 2.0;
  CHECK(cross_entropy(xs, IndexTensor{0, -1}, w, -1, Reduction::Mean, eps).item() ==
        doctest::Approx((1 - eps) * nll1 + eps / 2 * smooth1).epsilon(1e-14));
  const auto none = values(cross_entropy(xs, IndexTensor{0, -1}, w, -1, Reduction::None, eps));
  CHECK(none[0] == doctest::Approx((1 - eps) * -2.0 * l0 + eps / 2 * (-2.0 * l0 - 0.5 * l1)));
  CHECK(none[1] == 0.0);
  // Probability targets: −Σ t'_c log p_c with t' = (1 − ε)t + ε/C.
  const Tensor pt = Tensor::from(Array<double>({{0.3, 0.7}, {1.0, 0.0}}));
  const double t00 = 0.3 * 0.8 + 0.1, t01 = 0.7 * 0.8 + 0.1, t10 = 0.9, t11 = 0.1;
  CHECK(cross_entropy(xs, pt, {}, -100, Reduction::Sum, eps).item() ==
        doctest::Approx(-(t00 * l0 + t01 * l1 + t10 * l0 + t11 * l1)).epsilon(1e-14));
  CHECK(cross_entropy(xs, pt, w, -100, Reduction::Mean).item() ==
        doctest::Approx(-(2.0 * 0.3 * l0 + 0.5 * 0.7 * l1 + 2.0 * l0) / 2.0).epsilon(1e-14));
  // Every target ignored: the mean is NaN, yet the gradient is zero (PyTorch masks the
  // smoothing term's gradient rather than multiplying ∞ by 0).
  Tensor xi = xs.detach().requires_grad_();
  Tensor all_ignored = cross_entropy(xi, IndexTensor{-100, -100}, w, -100, Reduction::Mean, eps);
  CHECK(std::isnan(all_ignored.item()));
  all_ignored.backward();
  for (double v : values(xi.grad())) CHECK(v == 0.0);
  // ε ≤ 0 is no smoothing, as in PyTorch.
  CHECK(cross_entropy(xs, IndexTensor{0, 1}, {}, -100, Reduction::Sum, -0.5).item() ==
        cross_entropy(xs, IndexTensor{0, 1}, {}, -100, Reduction::Sum).item());
}

TEST_CASE("classification: cross_entropy gradients with weights, smoothing and ignore_index") {
  const Tensor w = rnd({3}, 50, 0.2, 2.0);
  struct Case {
    Shape in;
    IndexTensor t;
  };
  const std::vector<Case> cases = {
      {{3}, IndexTensor(Shape{}, {1})},
      {{4, 3}, IndexTensor{2, 5, 0, 1}},
      {{2, 3, 2, 2}, IndexTensor({2, 2, 2}, {0, 5, 2, 1, 1, 1, 5, 0})},
  };
  std::uint64_t seed = 60;
  for (const Case& c : cases)
    for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum})
      for (double eps : {0.0, 0.3})
        for (bool weighted : {false, true}) {
          const Tensor x = rnd(c.in, ++seed, -2.0, 2.0);
          const IndexTensor t = c.t;
          const Tensor ww = weighted ? w : Tensor();
          check_both(std::string("cross_entropy ") + shape_str(c.in) + " " + red_name(r) + " eps " +
                         std::to_string(eps) + (weighted ? " weighted" : ""),
                     [t, ww, r, eps](const V& v) { return cross_entropy(v[0], t, ww, 5, r, eps); },
                     {x});
        }
  // Probability targets: differentiable in the input and the target.
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum})
    for (double eps : {0.0, 0.25})
      for (bool weighted : {false, true}) {
        const Tensor x = rnd({2, 3, 2}, ++seed, -2.0, 2.0);
        const Tensor p = softmax(rnd({2, 3, 2}, ++seed), 1).detach().requires_grad_();
        const Tensor ww = weighted ? w : Tensor();
        check_both(std::string("cross_entropy probabilities ") + red_name(r) + " eps " +
                       std::to_string(eps) + (weighted ? " weighted" : ""),
                   [ww, r, eps](const V& v) { return cross_entropy(v[0], v[1], ww, -100, r, eps); },
                   {x, p});
      }
}

TEST_CASE("classification: argmax and comparisons") {
  const Tensor x = Tensor::from(
      Array<double>({{1.0, 3.0, 3.0, 0.0}, {NAN, 5.0, NAN, 9.0}, {-1.0, -2.0, -1.0, -3.0}}));
  CHECK(argmax(x, 1).values() == std::vector<std::int64_t>{1, 0, 0});
  CHECK(argmax(x, 1).shape() == Shape{3});
  CHECK(argmax(x, -1, true).shape() == Shape{3, 1});
  CHECK(argmax(x, 0).values() == std::vector<std::int64_t>{1, 1, 1, 1});
  const IndexTensor all = argmax(x);
  CHECK(all.dim() == 0);
  CHECK(all[0] == 4);
  CHECK(argmax(Tensor::from(Array<double>({{2.0, 7.0}, {7.0, 1.0}}))).values() ==
        std::vector<std::int64_t>{1});
  CHECK(argmax(Tensor::scalar(3.0, Dtype::Float64), 0).dim() == 0);

  const Tensor a = Tensor::from(Array<float>({{1.0f, 2.0f, NAN}}));
  Array<float> bv = Array<float>::from_shape({2, 1});  // broadcasts with a to [2, 3]
  bv(0, 0) = 2.0f;
  bv(1, 0) = NAN;
  const Tensor b = Tensor::from(bv);
  const auto cmp = [](const Tensor& t) {
    return std::vector<float>(t.cvalue<float>().begin(), t.cvalue<float>().end());
  };
  CHECK(eq(a, b).shape() == Shape{2, 3});
  CHECK(eq(a, b).dtype() == Dtype::Float32);
  CHECK(cmp(eq(a, b)) == std::vector<float>{0, 1, 0, 0, 0, 0});
  CHECK(cmp(ne(a, b)) == std::vector<float>{1, 0, 1, 1, 1, 1});
  CHECK(cmp(lt(a, b)) == std::vector<float>{1, 0, 0, 0, 0, 0});
  CHECK(cmp(le(a, b)) == std::vector<float>{1, 1, 0, 0, 0, 0});
  CHECK(cmp(gt(a, b)) == std::vector<float>{0, 0, 0, 0, 0, 0});
  CHECK(cmp(ge(a, b)) == std::vector<float>{0, 1, 0, 0, 0, 0});
  CHECK_FALSE(eq(a.detach().requires_grad_(), b).requires_grad());

  // Accuracy the PyTorch way.
  const Tensor logits = Tensor::from(Array<double>({{0.1, 0.9}, {0.8, 0.2}, {0.3, 0.7}}));
  CHECK(eq(argmax(logits, 1), IndexTensor{1, 1, 1}).sum() == 2);
  CHECK(eq(IndexTensor({2, 1}, {4, 5}), IndexTensor{4, 5}).values() ==
        std::vector<std::int64_t>{1, 0, 0, 1});
}

TEST_CASE("classification: dropout scaling, masks, eval, reproducibility and gradients") {
  Generator gen(7);
  const Tensor x = Tensor::ones({200, 50}, Dtype::Float64);
  const double p = 0.3;
  const Tensor y = dropout(x, p, true, gen);
  std::size_t zeros = 0;
  for (double v : y.cvalue<double>()) {
    if (v == 0.0)
      ++zeros;
    else
      CHECK(v == 1.0 / (1.0 - p));  // exactly 1/(1 − p), computed in the dtype
  }
  // 10,000 Bernoulli(0.3) draws: standard deviation ≈ 46; allow 5σ.
  CHECK(std::abs(static_cast<double>(zeros) - 3000.0) < 230.0);
  // Same seed, same mask; eval and p = 0 are the identity; p = 1 gives zeros.
  Generator g1(11), g2(11);
  CHECK(values(dropout(x, 0.5, true, g1)) == values(dropout(x, 0.5, true, g2)));
  CHECK(dropout(x, 0.5, false, gen).id() == x.id());
  CHECK(dropout(x, 0.0, true, gen).id() == x.id());
  for (double v : values(dropout(x, 1.0, true, gen))) CHECK(v == 0.0);

  // dropout2d zeroes whole [H, W] planes of [N, C, H, W] and of unbatched [C, H, W].
  for (const Shape& s : {Shape{8, 16, 3, 3}, Shape{64, 3, 3}}) {
    const Tensor t = Tensor::ones(s, Dtype::Float64);
    const auto v = values(dropout2d(t, 0.5, true, gen));
    std::size_t dropped = 0;
    for (std::size_t plane = 0; plane < v.size() / 9; ++plane) {
      const double first = v[plane * 9];
      CHECK((first == 0.0 || first == 2.0));
      for (std::size_t i = 1; i < 9; ++i) CHECK(v[plane * 9 + i] == first);
      dropped += first == 0.0;
    }
    CHECK(dropped > 20);  // of 128 (or 64) planes at p = 0.5: about half
    CHECK(dropped < v.size() / 9 - 20);
  }

  // The gradient is grad·mask/(1 − p): linear, so gradgradcheck too (the mask is
  // redrawn from the same seed on every evaluation).
  const Tensor a = rnd({4, 5}, 70);
  check_both("dropout",
             [](const V& v) {
               Generator g(3);
               return dropout(v[0], 0.4, true, g) * v[0];
             },
             {a});
  const Tensor b = rnd({2, 3, 2, 2}, 71);
  check_both("dropout2d",
             [](const V& v) {
               Generator g(5);
               return dropout2d(v[0], 0.5, true, g) * v[0];
             },
             {b});
  // The mask the gradient uses is the forward's.
  Generator g3(9);
  Tensor in = Tensor::ones({30}, Dtype::Float64, true);
  const Tensor out = dropout(in, 0.5, true, g3);
  sum(out).backward();
  CHECK(values(in.grad()) == values(out));
}

TEST_CASE("classification: Dropout modules train, eval and share generators") {
  const Tensor x = Tensor::ones({10, 10});
  Dropout d(0.5, 42), d_same(0.5, 42);
  CHECK(d(x).cvalue<float>() == d_same(x).cvalue<float>());
  d.eval();
  CHECK(d(x).id() == x.id());
  auto shared = std::make_shared<Generator>(1);
  Dropout a(0.5, shared), b(0.5, shared);
  Generator ref(1);
  const Tensor ya = a(x), yb = b(x);
  CHECK(ya.cvalue<float>() == dropout(x, 0.5, true, ref).cvalue<float>());
  CHECK(yb.cvalue<float>() == dropout(x, 0.5, true, ref).cvalue<float>());
  Dropout2d d2(0.25, 3);
  CHECK(d2.repr() == "Dropout2d(p=0.25)");
  d2.eval();
  const Tensor img = Tensor::ones({2, 3, 4, 4});
  CHECK(d2(img).id() == img.id());
}

TEST_CASE("classification: activation gradients and second derivatives") {
  // Kinks (hardtanh's ends, elu's 0, softplus' threshold) are kept away from the
  // points, where finite differences would straddle them.
  Array<double> pts = {{-2.5, -1.3, -0.6, -0.2, 0.15, 0.7}, {1.4, 2.2, 3.1, 5.5, 6.8, -3.3}};
  const Tensor x = Tensor::from(pts, true);
  check_both("gelu none", [](const V& v) { return gelu(v[0]); }, {x});
  check_both("gelu tanh", [](const V& v) { return gelu(v[0], "tanh"); }, {x});
  check_both("silu", [](const V& v) { return silu(v[0]); }, {x});
  check_both("softplus", [](const V& v) { return softplus(v[0]); }, {x});
  check_both("softplus beta 2 threshold 5", [](const V& v) { return softplus(v[0], 2.0, 5.0); },
             {x});
  check_both("elu", [](const V& v) { return elu(v[0]); }, {x});
  check_both("elu alpha 0.7", [](const V& v) { return elu(v[0], 0.7); }, {x});
  check_both("hardtanh", [](const V& v) { return hardtanh(v[0]) * v[0]; }, {x});
  check_both("hardtanh -2 3", [](const V& v) { return hardtanh(v[0], -2.0, 3.0) * v[0]; }, {x});
  check_both("relu6", [](const V& v) { return relu6(v[0]) * v[0]; }, {x});
  // The backward ops in both inputs.
  const Tensor g = rnd({2, 6}, 80);
  check_both("gelu_backward", [](const V& v) { return gelu_backward(v[0], v[1]); }, {g, x});
  check_both("gelu_backward tanh", [](const V& v) { return gelu_backward(v[0], v[1], "tanh"); },
             {g, x});
  check_both("silu_backward", [](const V& v) { return silu_backward(v[0], v[1]); }, {g, x});
  check_both("softplus_backward",
             [](const V& v) { return softplus_backward(v[0], v[1], 2.0, 5.0); }, {g, x});
  check_both("elu_backward", [](const V& v) { return elu_backward(v[0], v[1], 1.3); }, {g, x});
}

TEST_CASE("classification: activation values by hand") {
  const Tensor x = Tensor::from(Array<double>({-1.0, 0.0, 2.0, 30.0}));
  const auto ge = values(gelu(x));
  CHECK(ge[0] == doctest::Approx(-1.0 * 0.5 * std::erfc(1.0 / std::sqrt(2.0))).epsilon(1e-15));
  CHECK(ge[2] == doctest::Approx(2.0 * 0.5 * (1 + std::erf(2.0 / std::sqrt(2.0)))));
  const auto sp = values(softplus(x));
  CHECK(sp[1] == doctest::Approx(std::log(2.0)));
  CHECK(sp[3] == 30.0);  // above the threshold: x itself
  CHECK(values(elu(x, 2.0))[0] == doctest::Approx(2.0 * (std::exp(-1.0) - 1.0)));
  CHECK(values(hardtanh(x, -0.5, 1.5)) == std::vector<double>{-0.5, 0.0, 1.5, 1.5});
  CHECK(values(relu6(x)) == std::vector<double>{0.0, 0.0, 2.0, 6.0});
  CHECK(values(silu(x))[2] == doctest::Approx(2.0 / (1.0 + std::exp(-2.0))));
  // Modules call the same ops and print PyTorch's options.
  CHECK(GELU("tanh")(x).cvalue<double>() == gelu(x, "tanh").cvalue<double>());
  CHECK(Softplus(2.0, 10.0).repr() == "Softplus(beta=2, threshold=10)");
  CHECK(Softmax(1).repr() == "Softmax(dim=1)");
  CHECK(ReLU6()(x).cvalue<double>() == relu6(x).cvalue<double>());
}

TEST_CASE("classification: loss modules") {
  const Tensor x = rnd({4, 3}, 90);
  const IndexTensor t{0, 2, 1, 2};
  const Tensor w = rnd({3}, 91, 0.5, 1.5).detach();
  CrossEntropyLoss ce(w, 1, Reduction::Sum, 0.1);
  CHECK(ce(x, t).item() == cross_entropy(x, t, w, 1, Reduction::Sum, 0.1).item());
  CHECK(ce.repr() == "CrossEntropyLoss(reduction=sum, label_smoothing=0.1)");
  CHECK(ce.named_buffers().size() == 1);
  const Tensor probs = softmax(rnd({4, 3}, 92), 1).detach();
  CrossEntropyLoss ce_p;
  CHECK(ce_p(x, probs).item() == cross_entropy(x, probs).item());
  NLLLoss nll;
  const Tensor lp = log_softmax(x, 1);
  CHECK(nll(lp, t).item() == nll_loss(lp, t).item());
  CHECK(nll(lp, t).item() == CrossEntropyLoss()(x, t).item());
  CHECK_THROWS_WITH_AS(nll(lp, probs),
                       "NLLLoss: the target must hold class indices (an IndexTensor), not floats",
                       std::invalid_argument);
  // Training with it moves the loss down.
  Tensor logits = rnd({4, 3}, 93);
  const double before = cross_entropy(logits, t).item();
  cross_entropy(logits, t).backward();
  logits.value<double>() -= 0.5 * logits.grad().cvalue<double>();
  CHECK(cross_entropy(logits, t).item() < before);
}

TEST_CASE("classification: bad inputs are refused by message") {
  const Tensor x = Tensor::zeros({3, 4});
  const Tensor w2 = Tensor::ones({2});
  Generator gen;
  struct Bad {
    std::function<void()> call;
    std::string message;
  };
  const std::vector<Bad> cases = {
      {[&] {
         nll_loss(x, IndexTensor{0, 10, 1});
       },
       "nll_loss: Target 10 is out of bounds."},
      {[&] {
         nll_loss(x, IndexTensor{0, -1, 1});
       },
       "nll_loss: Target -1 is out of bounds."},
      {[&] {
         nll_loss(x, IndexTensor{0, 1});
       },
       "nll_loss: Expected input batch_size (3) to match target batch_size (2)."},
      {[&] {
         nll_loss(x, IndexTensor{0, 1, 2}, w2);
       },
       "nll_loss: weight tensor should be defined either for all 4 classes or no classes but "
       "got weight tensor of shape: [2]"},
      {[&] { nll_loss(Tensor::scalar(1.0), IndexTensor(Shape{}, {0})); },
       "nll_loss: Expected 1 or more dimensions (got 0)"},
      {[&] {
         nll_loss(x, IndexTensor({3, 1}, {0, 1, 2}));
       },
       "nll_loss: 0D or 1D target tensor expected, multi-target not supported"},
      {[&] {
         nll_loss(Tensor::zeros({2, 4, 5}), IndexTensor({2, 4}, std::vector<std::int64_t>(8, 0)));
       },
       "nll_loss: Expected target size [2, 5], got [2, 4]"},
      {[&] {
         nll_loss(Tensor::zeros({2, 4, 5, 5}),
                  IndexTensor({2, 5}, std::vector<std::int64_t>(10, 0)));
       },
       "nll_loss: only batches of spatial targets supported (3D tensors) but got targets of "
       "dimension: 2"},
      {[&] {
         nll_loss(Tensor::zeros({2, 4, 5, 5}),
                  IndexTensor({2, 5, 4}, std::vector<std::int64_t>(40, 0)));
       },
       "nll_loss: input and target batch or spatial sizes don't match: target [2, 5, 4], input "
       "[2, 4, 5, 5]"},
      {[&] {
         nll_loss(x, IndexTensor{0, 1, 2}, Tensor::ones({4}, Dtype::Float64));
       },
       "nll_loss: expected both operands to have the same dtype, but got float32 and float64"},
      {[&] {
         cross_entropy(x, IndexTensor{0, 1, 9});
       },
       "cross_entropy: Target 9 is out of bounds."},
      {[&] {
         cross_entropy(x, IndexTensor{0, 1, 2}, {}, -100, Reduction::Mean, 1.5);
       },
       "cross_entropy: label_smoothing must be between 0.0 and 1.0. Got: 1.5"},
      {[&] {
         cross_entropy(x, Tensor::zeros({3, 4}), {}, 0);
       },
       "cross_entropy: ignore_index is not supported for floating point target"},
      {[&] {
         cross_entropy(x, Tensor::zeros({3, 5}));
       },
       "cross_entropy: Expected target of the input's shape [3, 4] for class probabilities, "
       "got [3, 5]"},
      {[&] {
         cross_entropy(x, Tensor::zeros({3, 4}), w2);
       },
       "cross_entropy: weight tensor should be defined either for all 4 classes or no classes "
       "but got weight tensor of shape: [2]"},
      {[&] { softmax(x, 2); },
       "softmax: dimension out of range (expected to be in range of [-2, 1], but got 2)"},
      {[&] { log_softmax(x, -3); },
       "log_softmax: dimension out of range (expected to be in range of [-2, 1], but got -3)"},
      {[&] { argmax(x, 2); },
       "argmax: dimension out of range (expected to be in range of [-2, 1], but got 2)"},
      {[&] {
         argmax(Tensor::zeros({2, 0}), 1);
       },
       "argmax: Expected reduction dim 1 to have non-zero size."},
      {[&] { argmax(Tensor::zeros({0})); },
       "argmax: Expected reduction dim to be specified for input.numel() == 0."},
      {[&] { eq(x, Tensor::zeros({3})); },
       "eq: The size of tensor a (4) must match the size of tensor b (3) at non-singleton "
       "dimension 1 (shapes [3, 4] and [3])"},
      {[&] { dropout(x, 1.5, true, gen); },
       "dropout: dropout probability has to be between 0 and 1, but got 1.5"},
      {[&] { dropout2d(x, -0.1, true, gen); },
       "dropout2d: dropout probability has to be between 0 and 1, but got -0.1"},
      {[&] { dropout2d(Tensor::zeros({3}), 0.5, true, gen); },
       "dropout2d: Feature dropout requires at least 2 dimensions in the input (got [3])"},
      {[&] { Dropout(1.5); },
       "Dropout: dropout probability has to be between 0 and 1, but got 1.5"},
      {[&] { gelu(x, "fast"); },
       "gelu: approximate argument must be either none or tanh. (got 'fast')"},
      {[&] { softmax_backward(Tensor::zeros({3}), x, 1); },
       "softmax_backward: grad of shape [3] does not match the output's shape [3, 4]"},
  };
  for (const Bad& b : cases) {
    INFO(b.message);
    CHECK_THROWS_WITH_AS(b.call(), b.message.c_str(), std::invalid_argument);
  }
}
