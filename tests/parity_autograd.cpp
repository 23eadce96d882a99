// Autograd against libtorch's: second derivatives of conv2d and conv_transpose2d over
// randomised sweeps of every option, a WGAN-GP gradient penalty through a small conv
// critic, a Hessian-vector product of a conv net, and the graph-lifetime and in-place
// behaviours libtorch has. libtorch's logging header defines a glog-style CHECK, hence
// the DOCTEST_ spellings.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <tapegrad/tapegrad.hpp>
#include <vector>

#include "conv_specs.hpp"
#include "parity_helpers.hpp"

using namespace tapegrad;
using namespace tapegrad::parity;

namespace {

template <class T>
double tolerance() {
  return std::is_same_v<T, double> ? 1e-10 : 1e-4;
}

template <class T>
Tensor leaf(const Array<double>& a) {
  return Tensor::from(Array<T>(xt::cast<T>(a)), true);
}

template <class T>
torch::Tensor torch_leaf(const Array<double>& a) {
  return to_torch(Array<T>(xt::cast<T>(a))).requires_grad_(true);
}

void record(ParityTable& table, const std::string& quantity, const std::string& dtype,
            const ErrorStats& e, double tol, const std::string& text) {
  table.add(quantity, dtype, e);
  DOCTEST_CAPTURE(text);
  DOCTEST_CAPTURE(quantity);
  DOCTEST_CAPTURE(dtype);
  DOCTEST_CHECK(e.same_shape);
  DOCTEST_CHECK(e.rel <= tol);
}

// The second-order test of one convolution y = f(x, w, b): with the upstream gradient R,
// g = ∂⟨y, R⟩/∂(x, w, b) (create_graph), S = ⟨gx, Ax⟩ + ⟨gw, Aw⟩ + ⟨gb, Ab⟩, and the
// gradients of S with respect to x, w, b and R, on both sides.
template <class T, class Ours, class Theirs>
void second_order(const std::string& name, const std::string& text, const Shape& x_shape,
                  const Shape& w_shape, std::size_t bias_size, bool bias, std::uint64_t seed,
                  Ours ours, Theirs theirs, ParityTable& table) {
  std::mt19937_64 rng(seed);
  const Array<double> x = random_array(x_shape, rng), w = random_array(w_shape, rng),
                      b = random_array({bias_size}, rng);
  // libtorch first: its output shape gives R's.
  const torch::Tensor tx = torch_leaf<T>(x), tw = torch_leaf<T>(w), tb = torch_leaf<T>(b);
  const torch::Tensor ty = theirs(tx, tw, optional_tensor(bias, tb));
  const Shape y_shape(ty.sizes().begin(), ty.sizes().end());
  const Array<double> r = random_array(y_shape, rng), ax = random_array(x_shape, rng),
                      aw = random_array(w_shape, rng), ab = random_array({bias_size}, rng);
  const torch::Tensor tr = torch_leaf<T>(r);
  std::vector<torch::Tensor> t_in{tx, tw};
  if (bias) t_in.push_back(tb);
  const auto tg = torch::autograd::grad({ty}, t_in, {tr}, /*retain_graph=*/true,
                                        /*create_graph=*/true, /*allow_unused=*/true);
  auto dot = [](const torch::Tensor& g, const torch::Tensor& a) {
    return g.defined() ? (g * a).sum() : torch::zeros({}, a.options());
  };
  torch::Tensor ts = dot(tg[0], to_torch(Array<T>(xt::cast<T>(ax)))) +
                     dot(tg[1], to_torch(Array<T>(xt::cast<T>(aw))));
  if (bias) ts = ts + dot(tg[2], to_torch(Array<T>(xt::cast<T>(ab))));
  std::vector<torch::Tensor> t_wrt{tx, tw, tr};
  if (bias) t_wrt.push_back(tb);
  const auto td = torch::autograd::grad({ts}, t_wrt, {}, false, false, /*allow_unused=*/true);

  const Tensor ox = leaf<T>(x), ow = leaf<T>(w), ob = leaf<T>(b), orr = leaf<T>(r);
  const Tensor oy = ours(ox, ow, bias ? ob : Tensor());
  std::vector<Tensor> o_in{ox, ow};
  if (bias) o_in.push_back(ob);
  const std::vector<Tensor> og =
      grad({oy}, o_in, {orr}, {.retain_graph = true, .create_graph = true, .allow_unused = true});
  auto odot = [](const Tensor& g, const Array<double>& a) {
    return g.defined() ? sum(g * Tensor::from(Array<T>(xt::cast<T>(a))))
                       : Tensor::scalar(0.0, dtype_of<T>());
  };
  Tensor os = odot(og[0], ax) + odot(og[1], aw);
  if (bias) os = os + odot(og[2], ab);
  std::vector<Tensor> o_wrt{ox, ow, orr};
  if (bias) o_wrt.push_back(ob);
  std::vector<Tensor> od(o_wrt.size());
  if (os.requires_grad()) od = grad({os}, o_wrt, {}, {.allow_unused = true});

  const std::string dtype = dtype_label<T>();
  const char* names[] = {"d²/dx", "d²/dw", "d²/dR", "d²/db"};
  for (std::size_t i = 0; i < od.size(); ++i) {
    const Tensor got = od[i].defined() ? od[i] : Tensor::zeros_like(o_wrt[i]);
    const torch::Tensor ref = td[i].defined() ? td[i] : torch::zeros_like(t_wrt[i]);
    record(table, name + " " + names[i], dtype, compare(got.cvalue<T>(), ref), tolerance<T>(),
           text);
  }
}

template <class T>
void conv_case(const ConvSpec& s, std::uint64_t seed, ParityTable& table) {
  const Conv2dOptions opts = s.options();
  second_order<T>(
      "Conv2d", s.text(), s.input_shape(), s.weight_shape(), std::size_t(s.cout), s.bias, seed,
      [&](const Tensor& x, const Tensor& w, const Tensor& b) { return conv2d(x, w, b, opts); },
      [&](const torch::Tensor& x, const torch::Tensor& w, const c10::optional<torch::Tensor>& b) {
        return torch_conv(s, x, w, b);
      },
      table);
}

template <class T>
void transpose_case(const TransposeSpec& s, std::uint64_t seed, ParityTable& table) {
  const ConvTranspose2dOptions opts = s.options();
  second_order<T>(
      "ConvTranspose2d", s.text(), s.input_shape(), s.weight_shape(), std::size_t(s.cout), s.bias,
      seed,
      [&](const Tensor& x, const Tensor& w, const Tensor& b) {
        return conv_transpose2d(x, w, b, opts, s.output_size);
      },
      [&](const torch::Tensor& x, const torch::Tensor& w, const c10::optional<torch::Tensor>& b) {
        return torch_transpose(s, x, w, b);
      },
      table);
}

// Random sweeps run a fixed sample by default; TAPEGRAD_FULL_SWEEPS=1 runs 4 times more.
int sweep_size(int base) { return std::getenv("TAPEGRAD_FULL_SWEEPS") ? 4 * base : base; }

}  // namespace

TEST_CASE("autograd parity: second derivatives of conv2d vs libtorch, random sweep") {
  ParityTable table;
  std::mt19937_64 rng(2024);
  const int n = sweep_size(210);
  for (int i = 0; i < n; ++i) {
    const ConvSpec s = random_conv(rng);
    const std::uint64_t seed = rng();
    conv_case<double>(s, seed, table);
    conv_case<float>(s, seed, table);
  }
  for (const ConvSpec& s : fixed_conv_specs()) {
    if (s.n > 2 || s.cin > 8) continue;  // the large autoencoder layers: covered above in kind
    conv_case<double>(s, 7, table);
    conv_case<float>(s, 7, table);
  }
  std::printf("second derivatives of Conv2d, %d random configurations + fixed cases:\n%s\n", n,
              table.str().c_str());
}

TEST_CASE("autograd parity: second derivatives of conv_transpose2d vs libtorch, random sweep") {
  ParityTable table;
  std::mt19937_64 rng(2025);
  const int n = sweep_size(210);
  for (int i = 0; i < n; ++i) {
    const TransposeSpec s = random_transpose(rng);
    const std::uint64_t seed = rng();
    transpose_case<double>(s, seed, table);
    transpose_case<float>(s, seed, table);
  }
  for (const TransposeSpec& s : fixed_transpose_specs()) {
    if (s.n > 2 || s.cin > 8) continue;
    transpose_case<double>(s, 9, table);
    transpose_case<float>(s, 9, table);
  }
  std::printf(
      "second derivatives of ConvTranspose2d, %d random configurations + fixed cases:\n%s\n", n,
      table.str().c_str());
}

namespace {

// A small conv critic with the same weights on both sides: Conv(1,4,3,s2,p1) → LeakyReLU
// → Conv(4,8,3,s2,p1) → LeakyReLU → Linear(8·2·2, 1).
struct Critic {
  Array<double> w1, b1, w2, b2, w3, b3;
  explicit Critic(std::mt19937_64& rng)
      : w1(random_array({4, 1, 3, 3}, rng)),
        b1(random_array({4}, rng)),
        w2(random_array({8, 4, 3, 3}, rng)),
        b2(random_array({8}, rng)),
        w3(random_array({1, 32}, rng)),
        b3(random_array({1}, rng)) {}
};

Tensor critic(const std::vector<Tensor>& p, const Tensor& x) {
  const auto o = Conv2dOptions{}.stride(2).padding(1);
  Tensor h = leaky_relu(conv2d(x, p[0], p[1], o), 0.2);
  h = leaky_relu(conv2d(h, p[2], p[3], o), 0.2);
  return matmul_t(flatten(h, 1), p[4], false, true) + p[5];
}

torch::Tensor torch_critic(const std::vector<torch::Tensor>& p, const torch::Tensor& x) {
  torch::Tensor h = torch::leaky_relu(torch::conv2d(x, p[0], p[1], 2, 1), 0.2);
  h = torch::leaky_relu(torch::conv2d(h, p[2], p[3], 2, 1), 0.2);
  return torch::linear(h.flatten(1), p[4], p[5]);
}

}  // namespace

TEST_CASE("autograd parity: WGAN-GP gradient penalty through a conv critic, 5 Adam steps") {
  std::mt19937_64 rng(11);
  const Critic c(rng);
  const Array<double> real = random_array({6, 1, 8, 8}, rng),
                      fake = random_array({6, 1, 8, 8}, rng);
  std::vector<Tensor> ours;
  std::vector<torch::Tensor> theirs;
  for (const Array<double>* a : {&c.w1, &c.b1, &c.w2, &c.b2, &c.w3, &c.b3}) {
    ours.push_back(Tensor::from(*a, true));
    theirs.push_back(to_torch(*a).requires_grad_(true));
  }
  optim::Adam adam(ours, {.lr = 1e-2});
  torch::optim::Adam tadam(theirs, torch::optim::AdamOptions(1e-2));
  const double lambda = 10.0;
  double worst = 0.0, gp_first = 0.0;
  for (int step = 0; step < 5; ++step) {
    const Array<double> eps = random_array({6, 1, 1, 1}, rng) * 0.5 + 0.5;
    // ours
    adam.zero_grad();
    Tensor r = Tensor::from(real), f = Tensor::from(fake), e = Tensor::from(eps);
    Tensor xhat = (e * r + (1.0 - e) * f).detach().requires_grad_(true);
    Tensor d_hat = critic(ours, xhat);
    Tensor g = grad({d_hat}, {xhat}, {Tensor::ones_like(d_hat)}, {.create_graph = true})[0];
    Tensor norm = sqrt(sum(g * g, {1, 2, 3}));
    Tensor gp = mean((norm - 1.0) * (norm - 1.0));
    Tensor loss = mean(critic(ours, f)) - mean(critic(ours, r)) + lambda * gp;
    loss.backward();
    adam.step();
    // libtorch
    tadam.zero_grad();
    torch::Tensor tr = to_torch(real), tf = to_torch(fake), te = to_torch(eps);
    torch::Tensor txhat = (te * tr + (1 - te) * tf).detach().requires_grad_(true);
    torch::Tensor td_hat = torch_critic(theirs, txhat);
    torch::Tensor tg = torch::autograd::grad({td_hat}, {txhat}, {torch::ones_like(td_hat)},
                                             /*retain_graph=*/true, /*create_graph=*/true)[0];
    torch::Tensor tnorm = tg.pow(2).sum({1, 2, 3}).sqrt();
    torch::Tensor tgp = (tnorm - 1).pow(2).mean();
    torch::Tensor tloss =
        torch_critic(theirs, tf).mean() - torch_critic(theirs, tr).mean() + lambda * tgp;
    tloss.backward();
    tadam.step();
    if (step == 0) gp_first = gp.item();
    DOCTEST_CHECK(gp.item() == doctest::Approx(tgp.item<double>()).epsilon(1e-12));
    DOCTEST_CHECK(loss.item() == doctest::Approx(tloss.item<double>()).epsilon(1e-12));
    for (std::size_t i = 0; i < ours.size(); ++i)
      worst = std::max(worst, compare(ours[i].cvalue<double>(), theirs[i].detach()).rel);
  }
  std::printf(
      "WGAN-GP, 5 Adam steps, float64: first penalty %.6f, worst parameter rel. error %.2e\n",
      gp_first, worst);
  DOCTEST_CHECK(worst <= 1e-10);
}

TEST_CASE("autograd parity: Hessian-vector product of a conv net's loss") {
  std::mt19937_64 rng(12);
  const Critic c(rng);
  const Array<double> x = random_array({3, 1, 8, 8}, rng), target = random_array({3, 1}, rng);
  std::vector<Tensor> ours;
  std::vector<torch::Tensor> theirs;
  std::vector<Tensor> v;
  std::vector<torch::Tensor> tv;
  for (const Array<double>* a : {&c.w1, &c.b1, &c.w2, &c.b2, &c.w3, &c.b3}) {
    ours.push_back(Tensor::from(*a, true));
    theirs.push_back(to_torch(*a).requires_grad_(true));
    const Array<double> d = random_array(Shape(a->shape().begin(), a->shape().end()), rng);
    v.push_back(Tensor::from(d));
    tv.push_back(to_torch(d));
  }
  // Hv = ∂/∂θ ⟨∂L/∂θ, v⟩ with L = mse(tanh(critic(x) / 4), target): the second
  // derivatives run through the convolutions, the leaky ReLUs and tanh (scaled so that
  // it does not saturate and the Hessian keeps the scale of its terms).
  Tensor loss = mse_loss(tanh(critic(ours, Tensor::from(x)) * 0.25), Tensor::from(target));
  std::vector<Tensor> g = grad({loss}, ours, {}, {.create_graph = true});
  Tensor gv = Tensor::scalar(0.0, Dtype::Float64);
  for (std::size_t i = 0; i < g.size(); ++i) gv = gv + sum(g[i] * v[i]);
  const std::vector<Tensor> hv = grad({gv}, ours);

  torch::Tensor tloss =
      torch::mse_loss(torch::tanh(torch_critic(theirs, to_torch(x)) * 0.25), to_torch(target));
  auto tg = torch::autograd::grad({tloss}, theirs, {}, true, true);
  torch::Tensor tgv = torch::zeros({}, torch::kFloat64);
  for (std::size_t i = 0; i < tg.size(); ++i) tgv = tgv + (tg[i] * tv[i]).sum();
  const auto thv = torch::autograd::grad({tgv}, theirs);
  double worst = 0.0;
  for (std::size_t i = 0; i < hv.size(); ++i) {
    const ErrorStats e = compare(hv[i].cvalue<double>(), thv[i]);
    std::printf("  Hv[%zu]: max-abs %.2e, scale %.2e, rel %.2e\n", i, e.max_abs, e.ref_scale,
                e.rel);
    worst = std::max(worst, e.rel);
  }
  std::printf("Hessian-vector product of a conv net, float64: worst rel. error %.2e\n", worst);
  DOCTEST_CHECK(worst <= 1e-10);
}

TEST_CASE("autograd parity: independent graphs and in-place errors behave as in libtorch") {
  // Two losses from the same leaves: both libraries accept the second backward.
  Tensor w = Tensor::from(Array<double>{1.0, 2.0}, true);
  torch::Tensor tw = torch::tensor({1.0, 2.0}, torch::kFloat64).requires_grad_(true);
  Tensor l1 = sum(w * w), l2 = sum(w * 3.0);
  torch::Tensor tl1 = (tw * tw).sum(), tl2 = (tw * 3.0).sum();
  l1.backward();
  l2.backward();
  tl1.backward();
  tl2.backward();
  DOCTEST_CHECK(compare(w.grad().cvalue<double>(), tw.grad()).rel == 0.0);
  // A second backward through the same graph: both refuse.
  DOCTEST_CHECK_THROWS_AS(l1.backward(), std::invalid_argument);
  DOCTEST_CHECK_THROWS(tl1.backward());
  // Modifying a saved tensor between forward and backward: both refuse.
  Tensor lm = sum(w * w);
  w.value<double>()(0) = 3.0;
  torch::Tensor tlm = (tw * tw).sum();
  {
    torch::NoGradGuard no_grad;
    tw.index_put_({0}, 3.0);
  }
  DOCTEST_CHECK_THROWS_WITH_AS(lm.backward(), doctest::Contains("modified by an inplace operation"),
                               std::invalid_argument);
  DOCTEST_CHECK_THROWS_WITH(tlm.backward(), doctest::Contains("modified by an inplace operation"));
}
