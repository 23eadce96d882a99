// Gradients through a small network of four convolution layers with ReLU and an MSE
// loss, against libtorch: every weight and bias gradient and the input gradient.
#include <doctest/doctest.h>

#include <iostream>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/core/tape.hpp>
#include <tapegrad/layers/conv.hpp>

#include "parity_helpers.hpp"

using namespace tapegrad;
using namespace tapegrad::parity;

namespace {

template <class T>
void four_layer_case(ParityTable& table) {
  torch::manual_seed(0);
  namespace nn = torch::nn;
  nn::Sequential ref(
      nn::Conv2d(nn::Conv2dOptions(3, 8, 3).padding(1)), nn::ReLU(),
      nn::Conv2d(nn::Conv2dOptions(8, 8, 3).stride(2).padding(1).groups(2)), nn::ReLU(),
      nn::Conv2d(nn::Conv2dOptions(8, 16, {3, 2}).dilation(2)), nn::ReLU(),
      nn::ConvTranspose2d(nn::ConvTranspose2dOptions(16, 4, 3).stride(2).output_padding(1)));
  ref->to(torch_dtype<T>());
  const Dtype dt = dtype_of<T>();
  Conv2d c1(3, 8, 3, Conv2dOptions{}.padding(1), true, 0, dt);
  Conv2d c2(8, 8, 3, Conv2dOptions{}.stride(2).padding(1).groups(2), true, 0, dt);
  Conv2d c3(8, 16, {3, 2}, Conv2dOptions{}.dilation(2), true, 0, dt);
  ConvTranspose2d c4(16, 4, 3, ConvTranspose2dOptions{}.stride(2).output_padding(1), true, 0, dt);
  std::vector<Module*> mine = {&c1, &c2, &c3, &c4};
  // Copy libtorch's initial parameters into ours, in order.
  auto tparams = ref->parameters();
  std::vector<Tensor> params;
  for (Module* m : mine)
    for (auto& p : m->parameters()) params.push_back(p);
  REQUIRE(params.size() == tparams.size());
  for (std::size_t i = 0; i < params.size(); ++i) params[i].value<T>() = to_xt<T>(tparams[i]);

  torch::Tensor tx = torch::randn({2, 3, 12, 11}, torch::TensorOptions().dtype(torch_dtype<T>()))
                         .requires_grad_(true);
  Tensor x = Tensor::from(to_xt<T>(tx), true);
  torch::Tensor ty = ref->forward(tx);
  torch::Tensor ttarget = torch::rand_like(ty);
  torch::mse_loss(ty, ttarget).backward();

  Tape tape;
  Tape::Use use(tape);
  Tensor y = c4(relu(c3(relu(c2(relu(c1(x)))))));
  Tensor loss = mse_loss(y, Tensor::from(to_xt<T>(ttarget)));
  loss.backward();

  const double tol = std::is_same_v<T, double> ? 1e-10 : 1e-4;
  ErrorStats e = compare(y.value<T>(), ty);
  table.add("4-layer output", dtype_label<T>(), e);
  DOCTEST_CHECK(e.rel <= tol);
  e = compare(x.grad().value<T>(), tx.grad());
  table.add("4-layer dL/dx", dtype_label<T>(), e);
  DOCTEST_CHECK(e.rel <= tol);
  for (std::size_t i = 0; i < params.size(); ++i) {
    e = compare(params[i].grad().value<T>(), tparams[i].grad());
    table.add("4-layer dL/dparams", dtype_label<T>(), e);
    INFO("parameter " << i);
    DOCTEST_CHECK(e.rel <= tol);
  }
}

}  // namespace

TEST_CASE("parity: gradients through four conv layers with ReLU and MSE") {
  ParityTable table;
  four_layer_case<double>(table);
  four_layer_case<float>(table);
  table.print(std::cout, "four-layer conv network vs libtorch");
}

TEST_CASE("parity: Conv2d/ConvTranspose2d default init matches PyTorch's distribution bounds") {
  // Same shapes as torch::nn modules: every tapegrad value lies within PyTorch's bound,
  // and the bound is attained to within sampling (both use U(±1/√fan_in)).
  namespace nn = torch::nn;
  nn::ConvTranspose2d tref(nn::ConvTranspose2dOptions(64, 32, 7));
  Conv2d ours_c(32, 64, 7);
  ConvTranspose2d ours_t(64, 32, 7);
  nn::Conv2d cref(nn::Conv2dOptions(32, 64, 7));
  auto maxabs = [](const torch::Tensor& t) { return t.abs().max().item<double>(); };
  auto maxabs_t = [](const Tensor& t) {
    double m = 0;
    for (float v : t.value<float>()) m = std::max(m, double(std::fabs(v)));
    return m;
  };
  DOCTEST_CHECK(maxabs_t(ours_c.weight) <= maxabs(cref->weight) * 1.01);
  DOCTEST_CHECK(maxabs_t(ours_c.weight) >= maxabs(cref->weight) * 0.99);
  DOCTEST_CHECK(maxabs_t(ours_t.weight) <= maxabs(tref->weight) * 1.01);
  DOCTEST_CHECK(maxabs_t(ours_t.weight) >= maxabs(tref->weight) * 0.99);
  DOCTEST_CHECK(maxabs_t(ours_t.bias) <= 1.0 / std::sqrt(32.0 * 49));
}
