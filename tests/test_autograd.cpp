// The autograd engine's semantics (core/tape.hpp): graph lifetime, in-place checks,
// recording during backward, graphs across threads, grad(), higher-order gradients.
// Values are checked against hand-computed derivatives; tests/parity_autograd.cpp
// checks the same behaviour against libtorch.
#include <doctest/doctest.h>

#include <cmath>
#include <tapegrad/tapegrad.hpp>
#include <thread>
#include <utility>

using namespace tapegrad;

namespace {

Tensor vec(std::initializer_list<double> v, bool requires_grad = false) {
  return Tensor::from(Array<double>(v), requires_grad);
}

std::vector<double> values(const Tensor& t) {
  const auto& a = t.cvalue<double>();
  return std::vector<double>(a.begin(), a.end());
}

}  // namespace

// ---- graph lifetime ----

TEST_CASE("autograd: two losses from the same leaves backward one after the other") {
  Tensor w = vec({1.0, 2.0, 3.0}, true);
  Tensor l1 = sum(w * w);
  Tensor l2 = sum(w * 3.0);
  l1.backward();  // frees l1's graph only
  l2.backward();
  CHECK(values(w.grad()) == std::vector<double>{5.0, 7.0, 9.0});  // 2w + 3
}

TEST_CASE("autograd: a second backward through a freed graph is an error naming the op") {
  Tensor w = vec({1.0, 2.0}, true);
  Tensor loss = sum(exp(w));
  loss.backward();
  CHECK_THROWS_WITH_AS(loss.backward(),
                       doctest::Contains("sum: Trying to backward through the graph a second time"),
                       std::invalid_argument);
  // A graph that shares an intermediate with a freed one: its own ops run, then the
  // shared part is found freed.
  Tensor h = w * 2.0;
  Tensor l1 = sum(h);
  Tensor l2 = sum(h * h);
  l1.backward();
  CHECK_THROWS_WITH_AS(l2.backward(),
                       doctest::Contains("mul: Trying to backward through the graph a second time"),
                       std::invalid_argument);
}

TEST_CASE("autograd: retain_graph keeps the graph for another pass") {
  Tensor w = vec({1.0, 2.0}, true);
  Tensor loss = sum(w * w * w);
  loss.backward(/*retain_graph=*/true);
  loss.backward();
  CHECK(values(w.grad()) == std::vector<double>{6.0, 24.0});  // 2 · 3w²
}

TEST_CASE("autograd: a graph nobody can reach is freed without backward") {
  Tape tape;
  Tape::Use use(tape);
  Tensor w = vec({1.0, 2.0}, true);
  const auto live = Tensor::live_nodes();
  {
    Tensor y = exp(w * 2.0) + 1.0;
    CHECK(tape.node_count() == 3);
  }
  CHECK(tape.node_count() == 0);
  CHECK(Tensor::live_nodes() == live);
}

TEST_CASE("autograd: 10,000 steps of training plus an unguarded evaluation keep memory flat") {
  // The user forgets NoGradGuard around the evaluation forward: its graph is dropped
  // with its output, so nothing accumulates.
  Tape tape;
  Tape::Use use(tape);
  Generator gen(0);
  Tensor w1 = Tensor::randn({8, 16}, gen, Dtype::Float32, true);
  Tensor w2 = Tensor::randn({16, 1}, gen, Dtype::Float32, true);
  Tensor x = Tensor::randn({32, 8}, gen), y = Tensor::randn({32, 1}, gen);
  Tensor x_eval = Tensor::randn({4096, 8}, gen);  // activations above the cache's 64 KiB
  optim::SGD opt({w1, w2}, {.lr = 1e-3});
  struct Snapshot {
    std::size_t nodes = 0, bytes = 0, memory = 0;
    std::int64_t live = 0;
  } at_100, at_end;
  double eval_sum = 0;
  for (int step = 1; step <= 10000; ++step) {
    opt.zero_grad();
    Tensor loss = mse_loss(matmul(tanh(matmul(x, w1)), w2), y);
    loss.backward();
    opt.step();
    Tensor eval = matmul(tanh(matmul(x_eval, w1)), w2);  // recorded: no guard
    eval_sum += eval.cvalue<float>()(0);
    if (step == 100 || step == 10000) {
      Snapshot& s = step == 100 ? at_100 : at_end;
      s.nodes = tape.node_count();
      s.bytes = tape.bytes();
      s.memory = memory::stats().in_use_bytes;
      s.live = Tensor::live_nodes();
    }
  }
  MESSAGE("while an unguarded evaluation is alive, step 100 / step 10,000: "
          << at_100.nodes << " / " << at_end.nodes << " tape nodes, " << at_100.bytes << " / "
          << at_end.bytes << " tape bytes, " << at_100.memory << " / " << at_end.memory
          << " bytes of tensor memory in use, " << at_100.live << " / " << at_end.live
          << " live tensor nodes");
  CHECK(std::isfinite(eval_sum));
  CHECK(at_100.nodes == 3);  // the evaluation's graph alone: matmul, tanh, matmul
  CHECK(at_end.nodes == at_100.nodes);
  CHECK(at_end.bytes == at_100.bytes);
  CHECK(at_end.memory == at_100.memory);
  CHECK(at_end.live == at_100.live);
  CHECK(tape.node_count() == 0);  // and nothing once it is gone
}

TEST_CASE("autograd: a chain of 200,000 ops is freed without exhausting the stack") {
  Tensor w = vec({1.0}, true);
  Tensor y = w;
  for (int i = 0; i < 200000; ++i) y = y + 1.0;
  CHECK(y.item() == 200001.0);
  y = Tensor();  // frees the whole chain, one entry at a time
  Tensor z = w;
  for (int i = 0; i < 200000; ++i) z = z * 1.0;
  z.backward();
  CHECK(w.grad().item() == 1.0);
}

// ---- in-place safety ----

TEST_CASE("autograd: writing into a saved tensor before backward is caught") {
  Tensor w = Tensor::ones({2, 3}, Dtype::Float32, true);
  Tensor x = Tensor::ones({4, 2});
  Tensor loss = sum(matmul(x, w));
  w.value<float>()(0) = 100;       // matmul's backward reads w for dL/dx... and x for dL/dw
  CHECK_NOTHROW(loss.backward());  // x does not require grad, so w was not saved
  Tensor xr = Tensor::ones({4, 2}, Dtype::Float32, true);
  Tensor loss2 = sum(matmul(xr, w));
  w.value<float>()(0) = 100;
  CHECK_THROWS_WITH_AS(loss2.backward(),
                       "matmul: one of the variables needed for gradient computation has been "
                       "modified by an inplace operation: [float32 tensor of shape [2, 3]] (input "
                       "1 of matmul) is at version 2; expected version 1 instead. Writes through "
                       "the non-const Tensor::value<T>() count as modifications; read through a "
                       "const handle or cvalue<T>() to avoid that.",
                       std::invalid_argument);
}

TEST_CASE("autograd: tensors a backward formula does not read may be modified") {
  Tensor w = vec({1.0, 2.0}, true);
  Tensor z = w + 1.0;  // add's gradient needs no values
  w.value<double>()(0) = 5.0;
  sum(z).backward();
  CHECK(values(w.grad()) == std::vector<double>{1.0, 1.0});
  // exp saves its output: modifying the output is caught.
  Tensor e = exp(vec({0.0}, true));
  Tensor l = sum(e);
  e.value<double>()(0) = 2.0;
  CHECK_THROWS_WITH_AS(l.backward(), doctest::Contains("(output 0 of exp) is at version 1"),
                       std::invalid_argument);
}

TEST_CASE("autograd: reading through a const handle is not a modification") {
  Tensor w = vec({1.0, 2.0}, true);
  Tensor loss = sum(w * w);
  const std::uint64_t v = w.version();
  const double first = std::as_const(w).value<double>()(0) + w.cvalue<double>()(1);
  CHECK(first == 3.0);
  CHECK(w.version() == v);
  loss.backward();
  CHECK(values(w.grad()) == std::vector<double>{2.0, 4.0});
}

TEST_CASE("autograd: optimizer steps after backward stay legal") {
  Tensor w = vec({1.0, -1.0}, true);
  optim::SGD opt({w}, {.lr = 0.1});
  for (int i = 0; i < 3; ++i) {
    opt.zero_grad();
    Tensor loss = sum(w * w);
    loss.backward();
    opt.step();  // bumps w's version after its graph is gone
  }
  CHECK(values(w)[0] == doctest::Approx(0.512));  // 0.8³: each step scales w by 1 − 0.1·2
  CHECK(values(w)[1] == doctest::Approx(-0.512));
  // Stepping between forward and backward is the in-place error PyTorch gives too.
  Tensor loss = sum(w * w);
  opt.step();
  CHECK_THROWS_WITH_AS(loss.backward(), doctest::Contains("modified by an inplace operation"),
                       std::invalid_argument);
}

// ---- recording during backward ----

TEST_CASE("autograd: a closure may record ops; without create_graph nothing is recorded") {
  Tape tape;
  Tape::Use use(tape);
  Tensor w = vec({1.0, 2.0, 3.0}, true);
  bool grad_mode_in_closure = true;
  std::size_t nodes_in_closure = 0;
  // y = w³ with a backward written with ops: 3 w² g.
  auto cube = [&](const Tensor& x) {
    Tensor out =
        Tensor::from(Array<double>(x.cvalue<double>() * x.cvalue<double>() * x.cvalue<double>()));
    return record("cube", out, {x}, [&](const GradContext& ctx) {
      grad_mode_in_closure = grad_enabled();
      const Tensor& in = ctx.input(0);
      ctx.accumulate(0, mul(ctx.grad_output(), mul(in, in) * 3.0));
      nodes_in_closure = tape.node_count();
    });
  };
  Tensor loss = sum(cube(w));
  const std::size_t before = tape.node_count();
  loss.backward(/*retain_graph=*/true);
  CHECK_FALSE(grad_mode_in_closure);
  CHECK(nodes_in_closure == before);  // the ops in the closure were not recorded
  CHECK(values(w.grad()) == std::vector<double>{3.0, 12.0, 27.0});
  // With create_graph the closure records, and the gradient is differentiable again.
  const std::vector<Tensor> g = grad({loss}, {w}, {}, {.create_graph = true});
  CHECK(grad_mode_in_closure);
  REQUIRE(g[0].requires_grad());
  const std::vector<Tensor> h = grad({sum(g[0])}, {w});
  CHECK(values(h[0]) == std::vector<double>{6.0, 12.0, 18.0});  // d(3w²)/dw = 6w
}

TEST_CASE("autograd: a backward written on raw arrays refuses a second derivative") {
  Tensor w = vec({1.0, 2.0}, true);
  Tensor out = Tensor::from(Array<double>(2.0 * w.cvalue<double>()));
  out = record("double_it", out, {w}, [](const GradContext& ctx) {
    ctx.accumulate<double>(0, Array<double>(2.0 * ctx.grad_output<double>()));
  });
  const std::vector<Tensor> g = grad({sum(out * out)}, {w}, {}, {.create_graph = true});
  CHECK(values(g[0]) == std::vector<double>{8.0, 16.0});  // 8w
  CHECK_THROWS_WITH_AS(grad({sum(g[0])}, {w}),
                       doctest::Contains("double_it: trying to differentiate twice"),
                       std::invalid_argument);
}

// ---- threads ----

TEST_CASE("autograd: a graph recorded partly on another thread backwards through all of it") {
  Tensor w = vec({1.0, 2.0, 3.0}, true);
  Tensor h;
  std::thread worker([&] { h = w * w; });  // recorded on the worker's tape
  worker.join();
  Tensor loss = sum(h);  // recorded on this thread's
  loss.backward();
  CHECK(values(w.grad()) == std::vector<double>{2.0, 4.0, 6.0});
}

TEST_CASE("autograd: independent graphs backward on several threads at once") {
  std::vector<std::thread> threads;
  std::vector<double> results(4);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t, &results] {
      Tensor w = vec({double(t)}, true);
      for (int i = 0; i < 200; ++i) {
        w.zero_grad();
        sum(w * w * w).backward();
      }
      results[std::size_t(t)] = w.grad().item();
    });
  for (auto& th : threads) th.join();
  CHECK(results == std::vector<double>{0.0, 3.0, 12.0, 27.0});
}

// ---- grad() ----

TEST_CASE("autograd: grad returns gradients without touching .grad") {
  Tensor a = vec({1.0, 2.0}, true), b = vec({3.0, 4.0}, true);
  Tensor h = a * b;
  Tensor loss = sum(h * a);
  const std::vector<Tensor> g = grad({loss}, {a, b, h}, {}, {.retain_graph = true});
  CHECK(values(g[0]) == std::vector<double>{6.0, 16.0});  // 2ab
  CHECK(values(g[1]) == std::vector<double>{1.0, 4.0});   // a²
  CHECK(values(g[2]) == std::vector<double>{1.0, 2.0});   // a (a non-leaf input)
  CHECK_FALSE(a.has_grad());
  CHECK_FALSE(b.has_grad());
  // grad_outputs weight the outputs; several outputs sum.
  const std::vector<Tensor> g2 = grad({h, a}, {a}, {vec({1.0, 10.0}), vec({100.0, 1000.0})});
  CHECK(values(g2[0]) == std::vector<double>{103.0, 1040.0});
}

TEST_CASE("autograd: grad's errors name the problem") {
  Tensor a = vec({1.0}, true), b = vec({2.0}, true), c = vec({3.0});
  Tensor y = a * 2.0;
  CHECK_THROWS_WITH_AS(grad({y}, {b}, {}, {.retain_graph = true}),
                       doctest::Contains("appears to not have been used in the graph"),
                       std::invalid_argument);
  const std::vector<Tensor> g = grad({y}, {a, b}, {}, {.retain_graph = true, .allow_unused = true});
  CHECK(g[0].item() == 2.0);
  CHECK_FALSE(g[1].defined());
  CHECK_THROWS_WITH_AS(grad({y}, {c}), doctest::Contains("does not require grad"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(grad({y * vec({1.0, 1.0})}, {a}),
                       doctest::Contains("grad can be implicitly created only for scalar outputs"),
                       std::invalid_argument);
}

// ---- higher order ----

TEST_CASE("autograd: second and third derivatives of x³ by hand") {
  Tensor x = vec({2.0}, true);
  Tensor y = x * x * x;
  const Tensor d1 = grad({y}, {x}, {}, {.create_graph = true})[0];
  const Tensor d2 = grad({d1}, {x}, {}, {.create_graph = true})[0];
  const Tensor d3 = grad({d2}, {x})[0];
  CHECK(d1.item() == 12.0);  // 3x²
  CHECK(d2.item() == 12.0);  // 6x
  CHECK(d3.item() == 6.0);
}

TEST_CASE("autograd: backward(create_graph) leaves a differentiable .grad") {
  Tensor x = vec({1.0, 3.0}, true);
  sum(x * x * x).backward(/*retain_graph=*/false, /*create_graph=*/true);
  Tensor g = x.grad();  // 3x², recorded
  REQUIRE(g.requires_grad());
  x.zero_grad();  // break the x -> .grad -> graph -> x cycle before reusing x
  const Tensor h = grad({sum(g)}, {x})[0];
  CHECK(values(h) == std::vector<double>{6.0, 18.0});
}

namespace {

void check_gradgrad(const char* what, const TensorFunction& f, const std::vector<Tensor>& in) {
  const GradcheckReport first = gradcheck(f, in);
  const GradcheckReport second = gradgradcheck(f, in);
  DOCTEST_INFO(what);
  DOCTEST_INFO(first.message);
  DOCTEST_INFO(second.message);
  CHECK(first.passed);
  CHECK(second.passed);
  CHECK(second.checked > 0);
}

Tensor rnd(const Shape& s, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Generator gen(seed);
  Tensor t = Tensor::rand(s, gen, Dtype::Float64);
  return Tensor::from(Array<double>(t.cvalue<double>() * (hi - lo) + lo), true);
}

}  // namespace

TEST_CASE("gradgradcheck: element-wise ops, broadcasting, reductions and shape ops") {
  const Tensor a = rnd({2, 3}, 1), b = rnd({3}, 2), p = rnd({2, 3}, 3, 0.5, 2.0);
  check_gradgrad("add", [](const auto& v) { return add(v[0], v[1]); }, {a, b});
  check_gradgrad("sub", [](const auto& v) { return sub(v[0], v[1]); }, {a, b});
  check_gradgrad("mul", [](const auto& v) { return mul(v[0], v[1]); }, {a, b});
  check_gradgrad("div", [](const auto& v) { return div(v[0], v[1]); }, {a, p});
  check_gradgrad("neg", [](const auto& v) { return neg(v[0]); }, {a});
  check_gradgrad("exp", [](const auto& v) { return exp(v[0]); }, {a});
  check_gradgrad("log", [](const auto& v) { return log(v[0]); }, {p});
  check_gradgrad("sqrt", [](const auto& v) { return sqrt(v[0]); }, {p});
  check_gradgrad("pow 3", [](const auto& v) { return pow(v[0], 3.0); }, {a});
  check_gradgrad("pow -1.5", [](const auto& v) { return pow(v[0], -1.5); }, {p});
  check_gradgrad("abs", [](const auto& v) { return abs(v[0]); }, {a});
  check_gradgrad("clamp", [](const auto& v) { return clamp(v[0], -0.5, 0.4); }, {a});
  check_gradgrad("sum dims", [](const auto& v) { return sum(v[0] * v[0], {1}, true); }, {a});
  check_gradgrad("mean", [](const auto& v) { return mean(v[0] * v[0]); }, {a});
  check_gradgrad("reshape/permute",
                 [](const auto& v) {
                   return permute(reshape(v[0] * v[0], {3, 2}), {1, 0});
                 },
                 {a});
  check_gradgrad("transpose/flatten",
                 [](const auto& v) { return flatten(transpose(v[0] * v[0], 0, 1)); }, {a});
  check_gradgrad("expand/sum_to",
                 [](const auto& v) {
                   return sum_to(expand(v[0] * v[0], {4, 3}), {1, 3});
                 },
                 {b});
  check_gradgrad("unsqueeze/squeeze",
                 [](const auto& v) { return squeeze(unsqueeze(v[0] * v[0], 1), 1); }, {a});
}

TEST_CASE("gradgradcheck: activations") {
  const Tensor a = rnd({2, 3}, 4);
  check_gradgrad("relu", [](const auto& v) { return relu(v[0]) * v[0]; }, {a});
  check_gradgrad("leaky_relu", [](const auto& v) { return leaky_relu(v[0], 0.2) * v[0]; }, {a});
  check_gradgrad("sigmoid", [](const auto& v) { return sigmoid(v[0]); }, {a});
  check_gradgrad("tanh", [](const auto& v) { return tanh(v[0]); }, {a});
}

TEST_CASE("gradgradcheck: matmul in every form") {
  check_gradgrad("2-d", [](const auto& v) { return matmul(v[0], v[1]); },
                 {rnd({2, 3}, 5), rnd({3, 4}, 6)});
  check_gradgrad("batched, broadcast", [](const auto& v) { return matmul(v[0], v[1]); },
                 {rnd({2, 1, 2, 3}, 7), rnd({3, 3, 2}, 8)});
  check_gradgrad("vector @ matrix", [](const auto& v) { return matmul(v[0], v[1]); },
                 {rnd({3}, 9), rnd({3, 2}, 10)});
  check_gradgrad("matrix @ vector", [](const auto& v) { return matmul(v[0], v[1]); },
                 {rnd({2, 3}, 11), rnd({3}, 12)});
  check_gradgrad("transposed", [](const auto& v) { return matmul_t(v[0], v[1], true, true); },
                 {rnd({3, 2}, 13), rnd({4, 3}, 14)});
}

TEST_CASE("gradgradcheck: losses with every reduction") {
  const Tensor x = rnd({2, 3}, 15), t = rnd({2, 3}, 16);
  const Tensor p = rnd({2, 3}, 17, 0.1, 0.9), q = rnd({2, 3}, 18, 0.0, 1.0);
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    check_gradgrad("mse", [r](const auto& v) { return mse_loss(v[0], v[1], r); }, {x, t});
    check_gradgrad("bce", [r](const auto& v) { return binary_cross_entropy(v[0], v[1], r); },
                   {p, q});
    check_gradgrad("bce with logits",
                   [r](const auto& v) { return binary_cross_entropy_with_logits(v[0], v[1], r); },
                   {x, q});
  }
}

TEST_CASE("gradgradcheck: pad in every mode, cropping included") {
  const Tensor x = rnd({2, 3, 4}, 19);
  for (PaddingMode m :
       {PaddingMode::Zeros, PaddingMode::Reflect, PaddingMode::Replicate, PaddingMode::Circular})
    check_gradgrad(kernels::padding_mode_name(m),
                   [m](const auto& v) {
                     return pad(v[0] * v[0], {2, 1, 1, 2}, m);
                   },
                   {x});
  check_gradgrad("crop", [](const auto& v) { return pad(v[0] * v[0], {-1, 2, 0, -1}); }, {x});
}

TEST_CASE("gradgradcheck: conv2d with every option") {
  struct Case {
    const char* what;
    Shape x, w;
    Conv2dOptions opts;
    bool bias;
  };
  const std::vector<Case> cases = {
      {"plain", {2, 2, 5, 5}, {3, 2, 3, 3}, Conv2dOptions{}, true},
      {"stride 2, padding 1",
       {1, 2, 6, 5},
       {2, 2, 3, 2},
       Conv2dOptions{}.stride(2).padding(1),
       true},
      {"dilation 2, groups 2",
       {1, 4, 6, 6},
       {4, 2, 2, 2},
       Conv2dOptions{}.dilation(2).groups(2),
       false},
      {"depthwise", {1, 3, 5, 5}, {6, 1, 3, 3}, Conv2dOptions{}.groups(3).padding(1), true},
      {"same, even kernel", {1, 2, 5, 4}, {2, 2, 2, 3}, Conv2dOptions{}.padding("same"), true},
      {"reflect",
       {1, 1, 5, 5},
       {2, 1, 3, 3},
       Conv2dOptions{}.padding(2).padding_mode("reflect"),
       true},
      {"circular, stride 2",
       {1, 2, 5, 6},
       {2, 2, 3, 3},
       Conv2dOptions{}.padding({1, 2}).stride(2).padding_mode("circular"),
       false},
      {"replicate",
       {1, 1, 4, 4},
       {1, 1, 3, 2},
       Conv2dOptions{}.padding(1).padding_mode("replicate"),
       true},
      {"unbatched", {2, 4, 4}, {2, 2, 3, 3}, Conv2dOptions{}.padding(1), true},
  };
  for (const Case& c : cases) {
    std::vector<Tensor> in{rnd(c.x, 20), rnd(c.w, 21)};
    if (c.bias) in.push_back(rnd({c.w[0]}, 22));
    const Conv2dOptions opts = c.opts;
    check_gradgrad(
        c.what,
        [opts](const auto& v) { return conv2d(v[0], v[1], v.size() > 2 ? v[2] : Tensor(), opts); },
        in);
  }
}

TEST_CASE("gradgradcheck: conv_transpose2d with every option") {
  struct Case {
    const char* what;
    Shape x, w;
    ConvTranspose2dOptions opts;
    std::optional<std::vector<std::int64_t>> output_size;
    bool bias;
  };
  const std::vector<Case> cases = {
      {"plain", {2, 2, 3, 3}, {2, 3, 3, 3}, ConvTranspose2dOptions{}, {}, true},
      {"stride 2, padding 1, output_padding 1",
       {1, 2, 3, 3},
       {2, 2, 3, 3},
       ConvTranspose2dOptions{}.stride(2).padding(1).output_padding(1),
       {},
       true},
      {"dilation 2, groups 2",
       {1, 4, 3, 3},
       {4, 1, 2, 2},
       ConvTranspose2dOptions{}.dilation(2).groups(2),
       {},
       false},
      {"output_size",
       {1, 1, 3, 3},
       {1, 2, 3, 3},
       ConvTranspose2dOptions{}.stride(3).padding(1),
       std::vector<std::int64_t>{8, 9},
       true},
      {"unbatched", {2, 3, 2}, {2, 2, 2, 3}, ConvTranspose2dOptions{}.stride({2, 1}), {}, true},
  };
  for (const Case& c : cases) {
    std::vector<Tensor> in{rnd(c.x, 23), rnd(c.w, 24)};
    if (c.bias) in.push_back(rnd({c.w[1] * std::size_t(c.opts.groups())}, 25));
    const ConvTranspose2dOptions opts = c.opts;
    const auto output_size = c.output_size;
    check_gradgrad(
        c.what,
        [opts, output_size](const auto& v) {
          return conv_transpose2d(v[0], v[1], v.size() > 2 ? v[2] : Tensor(), opts, output_size);
        },
        in);
  }
}
