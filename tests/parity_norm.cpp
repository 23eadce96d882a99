// Batch, layer and group norm against libtorch on randomised sweeps of shapes and
// options: outputs, every gradient (and the second-order gradients through
// create_graph), running statistics after several training steps and evaluation
// outputs of the modules, in float64 and float32.
#include <doctest/doctest.h>

#include <functional>
#include <iostream>
#include <optional>
#include <tapegrad/tapegrad.hpp>

#include "parity_helpers.hpp"

using namespace tapegrad;
using namespace tapegrad::parity;

namespace {

namespace F = torch::nn::functional;

ParityTable& table() {
  static ParityTable t;
  return t;
}

struct PrintTable {
  std::string title;
  ~PrintTable() { table().print(std::cout, title); }
};

template <class T>
double tol() {
  return std::is_same_v<T, double> ? 1e-12 : 1e-5;
}

// Checks `got` against `ref`, files it in the table under `what`.
template <class T>
void expect_close(const std::string& what, const Tensor& got, const torch::Tensor& ref) {
  INFO(what << " " << dtype_label<T>());
  DOCTEST_REQUIRE(got.defined() == ref.defined());
  if (!got.defined()) return;
  const ErrorStats e = compare(got.cvalue<T>(), ref);
  table().add(what, dtype_label<T>(), e);
  DOCTEST_CHECK(e.same_shape);
  DOCTEST_CHECK(e.rel <= tol<T>());
}

// A random tensor in [lo, hi) on both sides (the same values).
template <class T>
std::pair<Tensor, torch::Tensor> pair_of(const Shape& s, Generator& gen, double lo, double hi,
                                         bool requires_grad) {
  Tensor u = Tensor::rand(s, gen, Dtype::Float64);
  Array<T> v = xt::cast<T>(lo + (hi - lo) * u.cvalue<double>());
  torch::Tensor t = to_torch(v);
  if (requires_grad) t.requires_grad_(true);
  return {Tensor::from(v, requires_grad), t};
}

// One normalisation call on both sides: inputs x, weight, bias (either may be
// absent); compares the output, the first-order gradients for a random upstream, and
// the gradients of ⟨first-order gradients, random v⟩ (double backward). libtorch 1.13's
// batch and group norm double backward throws without a weight ("Expected a proper
// Tensor but got None" / "shape '[0]' is invalid"), so those sweeps compare second
// order only with a weight; gradgradcheck covers ours without one (test_norm.cpp).
using TgNorm = std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>;
using ThNorm =
    std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&)>;

template <class T>
void run(const std::string& name, const Shape& xs, const Shape& affine, bool has_w, bool has_b,
         Generator& gen, const TgNorm& tg, const ThNorm& th, bool second_order = true) {
  auto [x, tx] = pair_of<T>(xs, gen, -2.0, 3.0, true);
  Tensor w, b;
  torch::Tensor tw, tb;
  if (has_w) std::tie(w, tw) = pair_of<T>(affine, gen, 0.5, 1.5, true);
  if (has_b) std::tie(b, tb) = pair_of<T>(affine, gen, -1.0, 1.0, true);
  CAPTURE(shape_str(xs));
  Tape tape;
  Tape::Use use(tape);
  const Tensor y = tg(x, w, b);
  const torch::Tensor ty = th(tx, tw, tb);
  expect_close<T>(name + " forward", y, ty);

  // The upstream gradient requires grad for the double backward (its derivative is
  // the first-order map applied to v).
  auto [seed, tseed] = pair_of<T>(xs, gen, -1.0, 1.0, second_order);
  std::vector<Tensor> in{x};
  std::vector<torch::Tensor> tin{tx};
  if (has_w) in.push_back(w), tin.push_back(tw);
  if (has_b) in.push_back(b), tin.push_back(tb);
  GradOptions opt;
  opt.create_graph = second_order;
  const std::vector<Tensor> g = grad({y}, in, {seed}, opt);
  const std::vector<torch::Tensor> tg1 =
      torch::autograd::grad({ty}, tin, {tseed}, /*retain_graph=*/true, second_order);
  const char* names[] = {" grad input", " grad weight", " grad bias"};
  std::vector<const char*> labels{names[0]};
  if (has_w) labels.push_back(names[1]);
  if (has_b) labels.push_back(names[2]);
  for (std::size_t i = 0; i < in.size(); ++i) expect_close<T>(name + labels[i], g[i], tg1[i]);
  if (!second_order) return;

  // Double backward: d/d(x, w, seed) of Σ_i ⟨grad_i, v_i⟩ over all first-order
  // gradients.
  const std::size_t k = in.size();
  Tensor s;
  torch::Tensor ts;
  for (std::size_t i = 0; i < k; ++i) {
    auto [v, tv] = pair_of<T>(in[i].shape(), gen, -1.0, 1.0, false);
    const Tensor term = sum(mul(g[i], v));
    const torch::Tensor tterm = (tg1[i] * tv).sum();
    s = s.defined() ? add(s, term) : term;
    ts = ts.defined() ? ts + tterm : tterm;
  }
  std::vector<Tensor> in2(in.begin(), in.begin() + long(has_w ? 2 : 1));
  std::vector<torch::Tensor> tin2(tin.begin(), tin.begin() + long(has_w ? 2 : 1));
  in2.push_back(seed);
  tin2.push_back(tseed);
  std::vector<std::string> labels2(labels.begin(), labels.begin() + long(has_w ? 2 : 1));
  labels2.push_back(" grad_output");
  GradOptions opt2;
  opt2.allow_unused = true;
  const std::vector<Tensor> g2 = grad({s}, in2, {}, opt2);
  const std::vector<torch::Tensor> tg2 =
      torch::autograd::grad({ts}, tin2, {}, /*retain_graph=*/true, false, /*allow_unused=*/true);
  for (std::size_t i = 0; i < in2.size(); ++i) {
    const std::string what = name + " 2nd" + labels2[i];
    if (!tg2[i].defined()) {
      // libtorch: no dependence; ours must be undefined or zero.
      if (g2[i].defined()) expect_close<T>(what, g2[i], torch::zeros_like(tin2[i]));
      continue;
    }
    if (!g2[i].defined()) {  // ours: no dependence; libtorch's must be zero
      expect_close<T>(what, Tensor::zeros(in2[i].shape(), dtype_of<T>()), tg2[i]);
      continue;
    }
    expect_close<T>(what, g2[i], tg2[i]);
  }
}

std::optional<torch::Tensor> opt(const torch::Tensor& t) {
  return t.defined() ? std::optional<torch::Tensor>(t) : std::nullopt;
}

template <class T>
void batch_norm_sweep(std::uint64_t seed) {
  Generator gen(seed);
  const std::vector<Shape> shapes = {{5, 3},       {3, 4},       {4, 3, 7},
                                     {1, 2, 5},    {3, 2, 4, 5}, {1, 3, 2, 2},
                                     {6, 1, 3, 3}, {2, 5, 1, 2}, {8, 16, 6, 6}};
  int k = 0;
  for (const Shape& xs : shapes) {
    for (bool training : {true, false}) {
      const bool has_w = (k % 3) != 0, has_b = (k % 4) != 1;
      ++k;
      const std::size_t C = xs[1];
      const double momentum = 0.05 + 0.1 * double(k % 5);
      const double eps = k % 2 ? 1e-5 : 1e-3;
      auto [rm, trm] = pair_of<T>({C}, gen, -0.5, 0.5, false);
      auto [rv, trv] = pair_of<T>({C}, gen, 0.5, 2.0, false);
      const bool running = !training || (k % 3 != 2);
      CAPTURE(training);
      run<T>(
          training ? "batch_norm train" : "batch_norm eval", xs, {C}, has_w, has_b, gen,
          [&](const Tensor& x, const Tensor& w, const Tensor& b) {
            return batch_norm(x, running ? rm : Tensor(), running ? rv : Tensor(), w, b, training,
                              momentum, eps);
          },
          [&](const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
            return F::batch_norm(x, running ? trm : torch::Tensor(),
                                 running ? trv : torch::Tensor(),
                                 F::BatchNormFuncOptions()
                                     .weight(w)
                                     .bias(b)
                                     .training(training)
                                     .momentum(momentum)
                                     .eps(eps));
          },
          /*second_order=*/has_w);
      if (running) {
        expect_close<T>("batch_norm running_mean", rm, trm);
        expect_close<T>("batch_norm running_var", rv, trv);
      }
    }
  }
}

}  // namespace

TEST_CASE("parity: batch_norm functional sweep") {
  PrintTable print{"batch_norm vs libtorch (worst errors)"};
  batch_norm_sweep<double>(11);
  batch_norm_sweep<float>(12);
}

TEST_CASE("parity: layer_norm and group_norm sweeps") {
  PrintTable print{"layer_norm / group_norm vs libtorch (worst errors)"};
  auto sweep = [&]<class T>(std::uint64_t seed) {
    Generator gen(seed);
    struct L {
      Shape xs;
      std::vector<std::int64_t> ns;
    };
    const std::vector<L> ls = {
        {{4, 7}, {7}}, {{2, 3, 5}, {5}}, {{2, 3, 5}, {3, 5}}, {{3, 2, 2, 4}, {2, 4}},
        {{6}, {6}},    {{5, 64}, {64}},  {{1, 3}, {3}},       {{2, 3, 4}, {2, 3, 4}}};
    int k = 0;
    for (const auto& l : ls) {
      const bool aff = k++ % 3 != 2;
      const double eps = k % 2 ? 1e-5 : 1e-2;
      const auto ns = l.ns;
      run<T>(
          "layer_norm", l.xs, Shape(ns.begin(), ns.end()), aff, aff, gen,
          [&](const Tensor& x, const Tensor& w, const Tensor& b) {
            return layer_norm(x, ns, w, b, eps);
          },
          [&](const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
            return F::layer_norm(x, F::LayerNormFuncOptions(ns).weight(w).bias(b).eps(eps));
          });
    }
    struct Gc {
      Shape xs;
      std::int64_t g;
    };
    const std::vector<Gc> gs = {{{2, 6, 4}, 3},    {{2, 6, 4}, 1},    {{2, 6, 4}, 6},
                                {{3, 4, 3, 3}, 2}, {{1, 8, 2, 3}, 4}, {{4, 6}, 2},
                                {{2, 4, 1, 1}, 1}, {{2, 32, 5, 5}, 8}};
    k = 0;
    for (const auto& c : gs) {
      // libtorch 1.13's group_norm backward throws ("tensor does not have a device") for
      // a bias without a weight, so that combination is left out here.
      const bool has_w = k % 3 != 2, has_b = has_w && k % 4 != 1;
      ++k;
      const double eps = k % 2 ? 1e-5 : 1e-3;
      const std::int64_t G = c.g;
      run<T>(
          "group_norm", c.xs, {c.xs[1]}, has_w, has_b, gen,
          [&](const Tensor& x, const Tensor& w, const Tensor& b) {
            return group_norm(x, G, w, b, eps);
          },
          [&](const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
            return F::group_norm(x, F::GroupNormFuncOptions(G).weight(w).bias(b).eps(eps));
          },
          /*second_order=*/has_w);
    }
  };
  sweep.template operator()<double>(21);
  sweep.template operator()<float>(22);
}

namespace {

// Several training steps of our module and libtorch's, then evaluation: running
// statistics, num_batches_tracked, outputs and parameter gradients at every step.
template <class T, class Ours, class Theirs>
void module_steps(const std::string& name, std::optional<double> momentum, bool affine, bool track,
                  const std::vector<Shape>& batches, std::uint64_t seed) {
  Generator gen(seed);
  const std::size_t C = batches[0][1];
  Ours ours(C, 1e-5, momentum, affine, track, dtype_of<T>());
  auto opts = torch::nn::BatchNormOptions(std::int64_t(C))
                  .eps(1e-5)
                  .affine(affine)
                  .track_running_stats(track);
  opts.momentum(momentum ? c10::optional<double>(*momentum) : c10::nullopt);
  Theirs theirs(opts);
  theirs->to(torch_dtype<T>());
  if (affine) {  // non-trivial affine parameters, the same on both sides
    auto [w, tw] = pair_of<T>({C}, gen, 0.5, 1.5, false);
    auto [b, tb] = pair_of<T>({C}, gen, -1.0, 1.0, false);
    ours.load_state_dict({{"weight", w}, {"bias", b}}, false);
    torch::NoGradGuard ng;
    theirs->weight.copy_(tw);
    theirs->bias.copy_(tb);
  }
  const std::string label = name + (momentum ? "" : " momentum=None") + (track ? "" : " untracked");
  for (const Shape& xs : batches) {
    auto [x, tx] = pair_of<T>(xs, gen, -1.0, 4.0, true);
    const Tensor y = ours(x);
    const torch::Tensor ty = theirs->forward(tx);
    expect_close<T>(label + " train output", y, ty);
    auto [s, ts] = pair_of<T>(xs, gen, -1.0, 1.0, false);
    y.backward(s);
    ty.backward(ts);
    expect_close<T>(label + " train grad input", x.grad(), tx.grad());
    if (affine) {
      expect_close<T>(label + " grad weight", ours.weight.grad(), theirs->weight.grad());
      expect_close<T>(label + " grad bias", ours.bias.grad(), theirs->bias.grad());
    }
    if (track) {
      expect_close<T>(label + " running_mean", ours.running_mean, theirs->running_mean);
      expect_close<T>(label + " running_var", ours.running_var, theirs->running_var);
      DOCTEST_CHECK(ours.num_batches_tracked.item() ==
                    double(theirs->num_batches_tracked.template item<std::int64_t>()));
    }
  }
  ours.eval();
  theirs->eval();
  for (std::size_t n : {std::size_t(1), std::size_t(3)}) {
    Shape xs = batches[0];
    xs[0] = n;
    std::size_t per_channel = n;
    for (std::size_t i = 2; i < xs.size(); ++i) per_channel *= xs[i];
    if (!track && per_channel == 1) continue;  // batch statistics of one value: an error
    auto [x, tx] = pair_of<T>(xs, gen, -1.0, 4.0, true);
    const Tensor y = ours(x);
    const torch::Tensor ty = theirs->forward(tx);
    expect_close<T>(label + " eval output", y, ty);
    auto [s, ts] = pair_of<T>(xs, gen, -1.0, 1.0, false);
    y.backward(s);
    ty.backward(ts);
    expect_close<T>(label + " eval grad input", x.grad(), tx.grad());
  }
}

}  // namespace

TEST_CASE("parity: BatchNorm1d and BatchNorm2d modules over training steps and eval") {
  PrintTable print{"BatchNorm modules vs libtorch (worst errors)"};
  auto all = [&]<class T>() {
    std::uint64_t seed = std::is_same_v<T, double> ? 100 : 200;
    for (std::optional<double> m :
         {std::optional<double>(0.1), std::optional<double>(0.3), std::optional<double>()}) {
      for (bool affine : {true, false}) {
        for (bool track : {true, false}) {
          module_steps<T, BatchNorm2d, torch::nn::BatchNorm2d>(
              "BatchNorm2d", m, affine, track,
              {{4, 3, 5, 5}, {2, 3, 5, 5}, {6, 3, 4, 4}, {3, 3, 2, 2}}, seed++);
          module_steps<T, BatchNorm1d, torch::nn::BatchNorm1d>("BatchNorm1d", m, affine, track,
                                                               {{8, 5}, {3, 5}, {16, 5}}, seed++);
          module_steps<T, BatchNorm1d, torch::nn::BatchNorm1d>(
              "BatchNorm1d [N, C, L]", m, affine, track, {{4, 3, 7}, {2, 3, 9}, {5, 3, 1}}, seed++);
        }
      }
    }
  };
  all.template operator()<double>();
  all.template operator()<float>();
}

TEST_CASE("parity: BatchNorm on an empty batch as libtorch 1.13") {
  BatchNorm2d ours(3, 1e-5, std::nullopt);
  torch::nn::BatchNorm2d theirs(torch::nn::BatchNormOptions(3).momentum(c10::nullopt));
  // Non-trivial running statistics first, the same on both sides.
  Generator gen(5);
  auto [x, tx] = pair_of<float>({4, 3, 2, 2}, gen, -1.0, 3.0, false);
  ours(x);
  theirs->forward(tx);
  const Tensor e = Tensor::zeros({0, 3, 2, 2}, Dtype::Float32, true);
  const torch::Tensor te = torch::zeros({0, 3, 2, 2}).requires_grad_(true);
  const Tensor y = ours(e);
  const torch::Tensor ty = theirs->forward(te);
  DOCTEST_CHECK(y.shape() == Shape{0, 3, 2, 2});
  DOCTEST_CHECK(ty.sizes().vec() == std::vector<std::int64_t>{0, 3, 2, 2});
  expect_close<float>("empty batch running_mean", ours.running_mean, theirs->running_mean);
  expect_close<float>("empty batch running_var", ours.running_var, theirs->running_var);
  DOCTEST_CHECK(ours.num_batches_tracked.item() ==
                double(theirs->num_batches_tracked.item<std::int64_t>()));
  sum(y).backward();
  ty.sum().backward();
  expect_close<float>("empty batch grad weight", ours.weight.grad(), theirs->weight.grad());
  expect_close<float>("empty batch grad bias", ours.bias.grad(), theirs->bias.grad());
  // Evaluation on an empty batch.
  ours.eval();
  theirs->eval();
  DOCTEST_CHECK(ours(e).shape() == Shape{0, 3, 2, 2});
  DOCTEST_CHECK(theirs->forward(te).numel() == 0);
}

TEST_CASE("parity: LayerNorm and GroupNorm modules") {
  PrintTable print{"LayerNorm / GroupNorm modules vs libtorch (worst errors)"};
  auto both = [&]<class T>(std::uint64_t seed) {
    Generator gen(seed);
    LayerNorm ln({3, 4}, 1e-5, true, dtype_of<T>());
    torch::nn::LayerNorm tln(torch::nn::LayerNormOptions({3, 4}).eps(1e-5));
    tln->to(torch_dtype<T>());
    auto [x, tx] = pair_of<T>({2, 5, 3, 4}, gen, -1.0, 2.0, true);
    expect_close<T>("LayerNorm output", ln(x), tln->forward(tx));
    GroupNorm gn(3, 6, 1e-5, true, dtype_of<T>());
    torch::nn::GroupNorm tgn(torch::nn::GroupNormOptions(3, 6).eps(1e-5));
    tgn->to(torch_dtype<T>());
    auto [z, tz] = pair_of<T>({2, 6, 3, 3}, gen, -1.0, 2.0, true);
    const Tensor y = gn(z);
    const torch::Tensor ty = tgn->forward(tz);
    expect_close<T>("GroupNorm output", y, ty);
    // A random upstream: with y·y the input gradient is pure cancellation noise.
    auto [s, ts] = pair_of<T>({2, 6, 3, 3}, gen, -1.0, 1.0, false);
    y.backward(s);
    ty.backward(ts);
    expect_close<T>("GroupNorm grad weight", gn.weight.grad(), tgn->weight.grad());
    expect_close<T>("GroupNorm grad input", z.grad(), tz.grad());
    // The state_dict names agree with libtorch's.
    std::vector<std::string> ours, theirs;
    for (const auto& [n, t] : gn.state_dict()) ours.push_back(n);
    for (const auto& item : tgn->named_parameters()) theirs.push_back(item.key());
    DOCTEST_CHECK(ours == theirs);
  };
  both.template operator()<double>(31);
  both.template operator()<float>(32);
  // BatchNorm's state_dict names and order, buffers included.
  BatchNorm2d bn(3);
  torch::nn::BatchNorm2d tbn(3);
  std::vector<std::string> ours, theirs;
  for (const auto& [n, t] : bn.state_dict()) ours.push_back(n);
  for (const auto& item : tbn->named_parameters()) theirs.push_back(item.key());
  for (const auto& item : tbn->named_buffers()) theirs.push_back(item.key());
  DOCTEST_CHECK(ours == theirs);
}

namespace {

std::string torch_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  }
  return "(libtorch did not throw)";
}

std::string our_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(tapegrad did not throw)";
}

}  // namespace

TEST_CASE("parity: bad inputs carry libtorch's messages") {
  struct Pair {
    std::function<void()> ours, theirs;
  };
  const std::vector<Pair> pairs = {
      {[] {
         batch_norm(Tensor::ones({1, 3}), {}, {}, {}, {}, true);
       },
       [] {
         F::batch_norm(torch::ones({1, 3}), {}, {}, F::BatchNormFuncOptions().training(true));
       }},
      {[] {
         batch_norm(Tensor::ones({2, 3, 4}), Tensor::zeros({4}), Tensor::ones({3}));
       },
       [] {
         F::batch_norm(torch::ones({2, 3, 4}), torch::zeros({4}), torch::ones({3}));
       }},
      {[] {
         group_norm(Tensor::ones({2, 6, 4}), 4);
       },
       [] {
         F::group_norm(torch::ones({2, 6, 4}), F::GroupNormFuncOptions(4));
       }},
      {[] {
         group_norm(Tensor::ones({2, 6, 4}), 3, Tensor::ones({4}));
       },
       [] {
         F::group_norm(torch::ones({2, 6, 4}), F::GroupNormFuncOptions(3).weight(torch::ones({4})));
       }},
      {[] {
         layer_norm(Tensor::ones({2, 3, 4}), {3});
       },
       [] {
         F::layer_norm(torch::ones({2, 3, 4}), F::LayerNormFuncOptions({3}));
       }},
      {[] {
         layer_norm(Tensor::ones({2, 3, 4}), {4}, Tensor::ones({3}));
       },
       [] {
         F::layer_norm(torch::ones({2, 3, 4}),
                       F::LayerNormFuncOptions({4}).weight(torch::ones({3})));
       }},
      {[] {
         BatchNorm1d(3)(Tensor::ones({2, 3, 4, 4}));
       },
       [] {
         torch::nn::BatchNorm1d(3)->forward(torch::ones({2, 3, 4, 4}));
       }},
      {[] {
         BatchNorm2d(3)(Tensor::ones({2, 3, 4}));
       },
       [] {
         torch::nn::BatchNorm2d(3)->forward(torch::ones({2, 3, 4}));
       }},
  };
  for (const auto& p : pairs) {
    const std::string theirs = torch_message(p.theirs);
    const std::string ours = our_message(p.ours);
    INFO("libtorch: " << theirs);
    INFO("tapegrad: " << ours);
    // libtorch's first line (its message proper) appears in ours after the op's name.
    const std::string first = theirs.substr(0, theirs.find('\n'));
    DOCTEST_CHECK(!first.empty());
    DOCTEST_CHECK(ours.find(first) != std::string::npos);
  }
}
