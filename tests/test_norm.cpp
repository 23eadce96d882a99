// Batch, layer and group norm: first and second derivatives against central finite
// differences (float64), running statistics against a hand-written reference, the
// modules' state, and the bad inputs with PyTorch's messages.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <tapegrad/tapegrad.hpp>
#include <vector>

using namespace tapegrad;

namespace {

using V = std::vector<Tensor>;

Tensor rnd(const Shape& s, std::uint64_t seed, double lo = -1.0, double hi = 1.0,
           bool requires_grad = true) {
  Generator g(seed);
  Tensor t = Tensor::rand(s, g, Dtype::Float64);
  t.value<double>() = lo + (hi - lo) * t.value<double>();
  if (requires_grad) t.requires_grad_();
  return t;
}

void expect_both(const std::function<Tensor(const V&)>& f, const V& inputs) {
  const GradcheckReport first = gradcheck(f, inputs);
  INFO("gradcheck: " << first.message);
  CHECK(first.passed);
  CHECK(first.checked > 0);
  const GradcheckReport second = gradgradcheck(f, inputs);
  INFO("gradgradcheck: " << second.message);
  CHECK(second.passed);
  CHECK(second.checked > 0);
}

Shape channel_shape(std::size_t c) { return {c}; }

// Reference batch statistics per channel of [N, C, *] (mean, biased and unbiased var).
struct RefStats {
  std::vector<double> mean, var, uvar;
};
RefStats ref_stats(const Tensor& x) {
  const auto& a = x.cvalue<double>();
  const Shape s = x.shape();
  const std::size_t N = s[0], C = s[1];
  std::size_t S = 1;
  for (std::size_t i = 2; i < s.size(); ++i) S *= s[i];
  RefStats r;
  for (std::size_t c = 0; c < C; ++c) {
    double sum = 0;
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t k = 0; k < S; ++k) sum += a.data()[(n * C + c) * S + k];
    const double m = sum / double(N * S);
    double q = 0;
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t k = 0; k < S; ++k) {
        const double d = a.data()[(n * C + c) * S + k] - m;
        q += d * d;
      }
    r.mean.push_back(m);
    r.var.push_back(q / double(N * S));
    r.uvar.push_back(q / double(N * S - 1));
  }
  return r;
}

template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no std::invalid_argument thrown)";
}

}  // namespace

TEST_CASE("norm: batch_norm training gradcheck and gradgradcheck") {
  struct Config {
    Shape shape;
    bool weight, bias, running;
  };
  const std::vector<Config> configs = {{{4, 3}, true, true, true},
                                       {{3, 2, 2}, true, false, false},
                                       {{2, 2, 2, 2}, false, false, true},
                                       {{2, 2, 3, 1}, false, true, false},
                                       {{3, 2, 1, 2}, true, true, false}};
  std::uint64_t seed = 10;
  for (const auto& cfg : configs) {
    CAPTURE(shape_str(cfg.shape));
    CAPTURE(cfg.weight);
    CAPTURE(cfg.bias);
    const std::size_t C = cfg.shape[1];
    V in{rnd(cfg.shape, seed++)};
    if (cfg.weight) in.push_back(rnd(channel_shape(C), seed++, 0.5, 1.5));
    if (cfg.bias) in.push_back(rnd(channel_shape(C), seed++));
    const bool w = cfg.weight, b = cfg.bias, running = cfg.running;
    expect_both(
        [=](const V& v) {
          // Fresh running statistics each call: their updates never feed the output.
          Tensor rm = running ? Tensor::zeros({C}, Dtype::Float64) : Tensor();
          Tensor rv = running ? Tensor::ones({C}, Dtype::Float64) : Tensor();
          return batch_norm(v[0], rm, rv, w ? v[1] : Tensor(), b ? v[w ? 2 : 1] : Tensor(), true,
                            0.1, 1e-5);
        },
        in);
  }
}

TEST_CASE("norm: batch_norm eval gradcheck and gradgradcheck incl. batch size 1") {
  for (const Shape& shape : {Shape{1, 3}, Shape{3, 2, 2}, Shape{2, 2, 1, 2}}) {
    CAPTURE(shape_str(shape));
    const std::size_t C = shape[1];
    const Tensor rm = rnd({C}, 5, -0.5, 0.5, false);
    const Tensor rv = rnd({C}, 6, 0.5, 2.0, false);
    V in{rnd(shape, 1), rnd({C}, 2, 0.5, 1.5), rnd({C}, 3)};
    expect_both([=](const V& v) { return batch_norm(v[0], rm, rv, v[1], v[2], false, 0.1, 1e-3); },
                in);
    expect_both([=](const V& v) { return batch_norm(v[0], rm, rv, {}, {}, false); }, {in[0]});
    // The value: (x − rm)/√(rv + eps)·w + b.
    NoGradGuard ng;
    const Tensor y = batch_norm(in[0], rm, rv, in[1], in[2], false, 0.1, 1e-3);
    const auto& x = in[0].cvalue<double>();
    std::size_t S = in[0].numel() / (shape[0] * C);
    for (std::size_t i = 0; i < x.size(); ++i) {
      const std::size_t c = (i / S) % C;
      const double want = (x.data()[i] - rm.cvalue<double>()(c)) /
                              std::sqrt(rv.cvalue<double>()(c) + 1e-3) * in[1].cvalue<double>()(c) +
                          in[2].cvalue<double>()(c);
      CHECK(y.cvalue<double>().data()[i] == doctest::Approx(want).epsilon(1e-12));
    }
  }
}

TEST_CASE("norm: batch_norm_backward is a taped op with its own backward") {
  const Tensor x = rnd({3, 2, 2}, 40);
  const Tensor w = rnd({2}, 41, 0.5, 1.5);
  const Tensor g = rnd({3, 2, 2}, 42);
  RefStats st = ref_stats(x);
  Tensor mean = Tensor::zeros({2}, Dtype::Float64), invstd = Tensor::zeros({2}, Dtype::Float64);
  for (std::size_t c = 0; c < 2; ++c) {
    mean.value<double>()(c) = st.mean[c];
    invstd.value<double>()(c) = 1.0 / std::sqrt(st.var[c] + 1e-5);
  }
  // Its outputs equal the gradients that batch_norm's backward produces.
  const Tensor y = batch_norm(x, {}, {}, w, {}, true, 0.1, 1e-5);
  const V ref = grad({y}, {x, w}, {g});
  const NormGradients bg = batch_norm_backward(g, x, w, mean, invstd, true, 1e-5);
  for (std::size_t i = 0; i < x.numel(); ++i)
    CHECK(bg.input.cvalue<double>().data()[i] ==
          doctest::Approx(ref[0].cvalue<double>().data()[i]).epsilon(1e-12));
  for (std::size_t i = 0; i < 2; ++i)
    CHECK(bg.weight.cvalue<double>()(i) ==
          doctest::Approx(ref[1].cvalue<double>()(i)).epsilon(1e-12));
  CHECK(bg.input.grad_fn_name() == "batch_norm_backward");
  // Its derivatives, each output alone.
  for (int k = 0; k < 3; ++k) {
    CAPTURE(k);
    const GradcheckReport r = gradcheck(
        [=](const V& v) {
          RefStats s = ref_stats(v[1]);  // mean and invstd follow x (constants here)
          Tensor m = Tensor::zeros({2}, Dtype::Float64), is = Tensor::zeros({2}, Dtype::Float64);
          for (std::size_t c = 0; c < 2; ++c) {
            m.value<double>()(c) = s.mean[c];
            is.value<double>()(c) = 1.0 / std::sqrt(s.var[c] + 1e-5);
          }
          NormGradients o = batch_norm_backward(v[0], v[1], v[2], m, is, true, 1e-5);
          return k == 0 ? o.input : k == 1 ? o.weight : o.bias;
        },
        {g, x, w});
    INFO(r.message);
    CHECK(r.passed);
  }
}

TEST_CASE("norm: layer_norm gradcheck and gradgradcheck") {
  struct Config {
    Shape shape;
    std::vector<std::int64_t> ns;
    bool affine;
  };
  const std::vector<Config> configs = {{{3, 4}, {4}, true},
                                       {{2, 3, 4}, {3, 4}, true},
                                       {{2, 5}, {5}, false},
                                       {{4}, {4}, true},
                                       {{2, 2, 3}, {2, 2, 3}, false}};
  std::uint64_t seed = 100;
  for (const auto& cfg : configs) {
    CAPTURE(shape_str(cfg.shape));
    const Shape ns(cfg.ns.begin(), cfg.ns.end());
    V in{rnd(cfg.shape, seed++)};
    if (cfg.affine) {
      in.push_back(rnd(ns, seed++, 0.5, 1.5));
      in.push_back(rnd(ns, seed++));
    }
    const auto nsv = cfg.ns;
    const bool affine = cfg.affine;
    expect_both(
        [=](const V& v) {
          return layer_norm(v[0], nsv, affine ? v[1] : Tensor(), affine ? v[2] : Tensor(), 1e-5);
        },
        in);
  }
}

TEST_CASE("norm: group_norm gradcheck and gradgradcheck") {
  struct Config {
    Shape shape;
    std::int64_t groups;
    bool affine;
  };
  const std::vector<Config> configs = {{{2, 6, 3}, 3, true},
                                       {{2, 4, 2, 2}, 2, true},
                                       {{3, 4}, 1, false},
                                       {{2, 3, 3}, 3, true},
                                       {{1, 4, 3}, 2, false}};
  std::uint64_t seed = 200;
  for (const auto& cfg : configs) {
    CAPTURE(shape_str(cfg.shape));
    CAPTURE(cfg.groups);
    const std::size_t C = cfg.shape[1];
    V in{rnd(cfg.shape, seed++)};
    if (cfg.affine) {
      in.push_back(rnd({C}, seed++, 0.5, 1.5));
      in.push_back(rnd({C}, seed++));
    }
    const std::int64_t G = cfg.groups;
    const bool affine = cfg.affine;
    expect_both(
        [=](const V& v) {
          return group_norm(v[0], G, affine ? v[1] : Tensor(), affine ? v[2] : Tensor(), 1e-5);
        },
        in);
  }
}

TEST_CASE("norm: running statistics over several steps with momentum 0.1 and None") {
  for (std::optional<double> momentum : {std::optional<double>(0.1), std::optional<double>()}) {
    CAPTURE(momentum.has_value());
    BatchNorm2d bn(3, 1e-5, momentum);
    bn.to(Dtype::Float64);
    std::vector<double> rm(3, 0.0), rv(3, 1.0);
    for (int step = 1; step <= 4; ++step) {
      const Tensor x = rnd({2 + std::size_t(step), 3, 2, 3}, 300 + step, -2.0, 3.0, false);
      bn(x);
      const RefStats s = ref_stats(x);
      const double f = momentum ? *momentum : 1.0 / step;
      for (std::size_t c = 0; c < 3; ++c) {
        rm[c] = (1 - f) * rm[c] + f * s.mean[c];
        rv[c] = (1 - f) * rv[c] + f * s.uvar[c];
        CHECK(bn.running_mean.cvalue<double>()(c) == doctest::Approx(rm[c]).epsilon(1e-12));
        CHECK(bn.running_var.cvalue<double>()(c) == doctest::Approx(rv[c]).epsilon(1e-12));
      }
      CHECK(bn.num_batches_tracked.item() == double(step));
    }
    // Evaluation uses them and changes nothing.
    bn.eval();
    const Tensor x = rnd({1, 3, 2, 2}, 399, -1, 1, false);
    const Tensor y = bn(x);
    CHECK(bn.num_batches_tracked.item() == 4.0);
    CHECK(y.cvalue<double>()(0, 1, 1, 0) ==
          doctest::Approx((x.cvalue<double>()(0, 1, 1, 0) - rm[1]) / std::sqrt(rv[1] + 1e-5))
              .epsilon(1e-12));
    if (!momentum) {
      // Cumulative average: after 4 steps the running mean is the mean of the 4 means.
      double sum = 0;
      for (int step = 1; step <= 4; ++step)
        sum +=
            ref_stats(rnd({2 + std::size_t(step), 3, 2, 3}, 300 + step, -2.0, 3.0, false)).mean[0];
      CHECK(bn.running_mean.cvalue<double>()(0) == doctest::Approx(sum / 4).epsilon(1e-12));
    }
  }
}

TEST_CASE("norm: track_running_stats=false and the empty batch") {
  BatchNorm1d bn(2, 1e-5, 0.1, false, false);
  CHECK(bn.state_dict().empty());
  bn.eval();
  const Tensor x = Tensor::from(xt::xarray<float>{{1, 2}, {3, 6}});
  const Tensor y = bn(x);  // batch statistics even in eval
  CHECK(y.cvalue<float>()(0, 0) == doctest::Approx(-1.0 / std::sqrt(1.0 + 1e-5)));
  CHECK(y.cvalue<float>()(1, 1) == doctest::Approx(2.0 / std::sqrt(4.0 + 1e-5)));

  // Empty batch (PyTorch 1.13): empty output, running statistics untouched, the counter
  // still counts, zero gradients for weight and bias.
  BatchNorm2d b2(3);
  const Tensor e = Tensor::zeros({0, 3, 2, 2}, Dtype::Float32, true);
  const Tensor out = b2(e);
  CHECK(out.shape() == Shape{0, 3, 2, 2});
  CHECK(b2.running_mean.cvalue<float>()(0) == 0.0f);
  CHECK(b2.running_var.cvalue<float>()(0) == 1.0f);
  CHECK(b2.num_batches_tracked.item() == 1.0);
  sum(out).backward();
  CHECK(b2.weight.grad().cvalue<float>()(1) == 0.0f);
  CHECK(b2.bias.grad().cvalue<float>()(2) == 0.0f);
}

TEST_CASE("norm: state_dict names dtypes and checkpoints") {
  BatchNorm2d bn(3);
  std::vector<std::string> names;
  for (const auto& [n, t] : bn.state_dict()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"weight", "bias", "running_mean", "running_var",
                                          "num_batches_tracked"});
  CHECK(bn.parameters().size() == 2);
  CHECK(bn.num_batches_tracked.dtype() == Dtype::Float64);
  bn.to(Dtype::Float64);
  bn.to(Dtype::Float32);
  CHECK(bn.running_mean.dtype() == Dtype::Float32);
  CHECK(bn.num_batches_tracked.dtype() == Dtype::Float64);  // to() leaves the counter exact
  // A count beyond float32's integers survives to() and a checkpoint round trip.
  bn.num_batches_tracked.mutable_value<double>()() = 16777217.0;
  bn.to(Dtype::Float64);
  bn.to(Dtype::Float32);
  CHECK(bn.num_batches_tracked.item() == 16777217.0);
  Generator g(7);
  bn(Tensor::randn({4, 3, 2, 2}, g));
  const auto path = std::filesystem::temp_directory_path() / "tapegrad_test_norm_bn.npz";
  save(bn, path);
  BatchNorm2d back(3);
  CHECK(load(back, path).ok());
  CHECK(back.num_batches_tracked.item() == 16777218.0);
  CHECK(back.running_var.cvalue<float>()(2) == bn.running_var.cvalue<float>()(2));
  std::filesystem::remove(path);

  LayerNorm ln({2, 3});
  CHECK(ln.state_dict().size() == 2);
  CHECK(ln.weight.shape() == Shape{2, 3});
  CHECK(LayerNorm({4}, 1e-5, false).state_dict().empty());
  GroupNorm gn(2, 6);
  names.clear();
  for (const auto& [n, t] : gn.state_dict()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"weight", "bias"});
  CHECK(BatchNorm1d(4, 1e-5, std::nullopt).repr() ==
        "BatchNorm1d(4, eps=1e-05, momentum=None, affine=true, track_running_stats=true)");
}

TEST_CASE("norm: bad inputs by message") {
  const Tensor x3 = Tensor::ones({2, 3, 4});
  CHECK(message_of([&] {
          BatchNorm1d(3)(Tensor::ones({2, 3, 4, 4}));
        }) == "BatchNorm1d: expected 2D or 3D input (got 4D input)");
  CHECK(message_of([&] { BatchNorm2d(3)(x3); }) == "BatchNorm2d: expected 4D input (got 3D input)");
  CHECK(message_of([&] {
          BatchNorm1d(3)(Tensor::ones({1, 3}));
        }) ==
        "batch_norm: Expected more than 1 value per channel when training, got input size [1, 3]");
  CHECK(message_of([&] {
          BatchNorm2d(3)(Tensor::ones({1, 3, 1, 1}));
        }).find("got input size [1, 3, 1, 1]") != std::string::npos);
  {
    BatchNorm1d bn(3);
    bn.eval();
    CHECK(bn(Tensor::ones({1, 3})).shape() == Shape{1, 3});  // eval with one sample works
  }
  CHECK(message_of([&] { batch_norm(x3, Tensor::zeros({4}), Tensor::ones({3})); }) ==
        "batch_norm: running_mean should contain 3 elements not 4");
  CHECK(message_of([&] { batch_norm(x3, Tensor::zeros({3}), Tensor::ones({2})); }) ==
        "batch_norm: running_var should contain 3 elements not 2");
  CHECK(message_of([&] { batch_norm(x3, {}, {}, Tensor::ones({2}), {}, true); }) ==
        "batch_norm: weight should contain 3 elements not 2");
  CHECK(message_of([&] { batch_norm(x3, {}, {}); }) ==
        "batch_norm: running_mean must be defined in evaluation mode");
  CHECK(message_of([&] {
          batch_norm(x3, Tensor::zeros({3}), Tensor::ones({3}), Tensor::ones({3}, Dtype::Float64));
        }).find("expected weight to have dtype float32") != std::string::npos);

  CHECK(message_of([&] {
          group_norm(Tensor::ones({2, 6, 4}), 4);
        }) ==
        "group_norm: Expected number of channels in input to be divisible by num_groups, but "
        "got input of shape [2, 6, 4] and num_groups=4");
  CHECK(message_of([&] {
          group_norm(Tensor::ones({2, 6, 4}), 3, Tensor::ones({4}));
        }) ==
        "group_norm: Expected weight to be a vector of size equal to the number of channels in "
        "input, but got weight of shape [4] and input of shape [2, 6, 4]");
  CHECK(message_of([&] { group_norm(Tensor::ones({6}), 3); }) ==
        "group_norm: Expected at least 2 dimensions for input tensor but received 1");
  CHECK(message_of([&] { GroupNorm(4, 6); }).find("num_channels must be divisible by num_groups") !=
        std::string::npos);

  CHECK(message_of([&] { layer_norm(x3, {3}); }) ==
        "layer_norm: Given normalized_shape=[3], expected input with shape [*, 3], but got "
        "input of size[2, 3, 4]");
  CHECK(message_of([&] { layer_norm(x3, {}); }) ==
        "layer_norm: Expected normalized_shape to be at least 1-dimensional, i.e., containing at "
        "least one element, but got normalized_shape = []");
  CHECK(message_of([&] { layer_norm(x3, {4}, Tensor::ones({3})); }) ==
        "layer_norm: Expected weight to be of same shape as normalized_shape, but got weight of "
        "shape [3] and normalized_shape = [4]");
  CHECK(message_of([&] {
          LayerNorm({3, 4})(Tensor::ones({2, 4, 3}));
        }).find("expected input with shape [*, 3, 4]") != std::string::npos);
}
