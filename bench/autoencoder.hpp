#pragma once
// The MNIST convolutional autoencoder of the example, built twice: with tapegrad and
// (unless TAPEGRAD_BENCH_NO_TORCH) with libtorch holding the same initial parameters,
// so the two training steps compute the same thing.
//   encoder: Conv2d(1,16,3,s2,p1) → ReLU → Conv2d(16,32,3,s2,p1) → ReLU → Conv2d(32,64,7)
//   decoder: ConvTranspose2d(64,32,7) → ReLU → ConvTranspose2d(32,16,3,s2,p1,op1) → ReLU
//            → ConvTranspose2d(16,1,3,s2,p1,op1) → Sigmoid
// Shapes: [N,1,28,28] → [N,16,14,14] → [N,32,7,7] → [N,64,1,1] → [N,32,7,7] → [N,16,14,14]
// → [N,1,28,28].
#include <cstdint>
#include <cstring>
#include <memory>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/layers/activation.hpp>
#include <tapegrad/layers/conv.hpp>
#include <tapegrad/layers/sequential.hpp>
#include <tapegrad/optim/adam.hpp>
#include <vector>

#ifndef TAPEGRAD_BENCH_NO_TORCH
#include <torch/torch.h>
#endif

namespace tapegrad::bench {

/// Forward MACs of the autoencoder per image (conv layers only: 45.36 M for 64 images).
inline double autoencoder_macs_per_image() {
  const double c1 = 16.0 * 14 * 14 * 1 * 9;  // Conv2d(1,16,3,s2,p1) on 28×28
  const double c2 = 32.0 * 7 * 7 * 16 * 9;   // Conv2d(16,32,3,s2,p1) on 14×14
  const double c3 = 64.0 * 1 * 1 * 32 * 49;  // Conv2d(32,64,7) on 7×7
  const double d1 = 64.0 * 1 * 1 * 32 * 49;  // ConvTranspose2d(64,32,7): 1×1 in
  const double d2 = 32.0 * 7 * 7 * 16 * 9;   // ConvTranspose2d(32,16,3,s2,p1,op1): 7×7 in
  const double d3 = 16.0 * 14 * 14 * 1 * 9;  // ConvTranspose2d(16,1,3,s2,p1,op1): 14×14 in
  return c1 + c2 + c3 + d1 + d2 + d3;
}

inline std::shared_ptr<Sequential> make_tapegrad_autoencoder(std::uint64_t seed) {
  Generator gen(seed);
  using kernels::Conv2dOptions;
  using kernels::ConvTranspose2dOptions;
  auto net = std::make_shared<Sequential>();
  net->push_back(std::make_shared<Conv2d>(1, 16, 3, gen, Conv2dOptions{}.stride(2).padding(1)));
  net->push_back(std::make_shared<ReLU>());
  net->push_back(std::make_shared<Conv2d>(16, 32, 3, gen, Conv2dOptions{}.stride(2).padding(1)));
  net->push_back(std::make_shared<ReLU>());
  net->push_back(std::make_shared<Conv2d>(32, 64, 7, gen));
  net->push_back(std::make_shared<ConvTranspose2d>(64, 32, 7, gen));
  net->push_back(std::make_shared<ReLU>());
  net->push_back(std::make_shared<ConvTranspose2d>(
      32, 16, 3, gen, ConvTranspose2dOptions{}.stride(2).padding(1).output_padding(1)));
  net->push_back(std::make_shared<ReLU>());
  net->push_back(std::make_shared<ConvTranspose2d>(
      16, 1, 3, gen, ConvTranspose2dOptions{}.stride(2).padding(1).output_padding(1)));
  net->push_back(std::make_shared<Sigmoid>());
  return net;
}

/// One tapegrad training step: forward, MSE against the input, backward, Adam step,
/// zero_grad (gradients set to none). Returns the loss tensor (0-d).
inline Tensor tapegrad_train_step(Sequential& net, optim::Adam& opt, const Tensor& x) {
  Tensor loss = mse_loss(net(x), x);
  loss.backward();
  opt.step();
  opt.zero_grad();
  return loss;
}

#ifndef TAPEGRAD_BENCH_NO_TORCH

/// A torch tensor holding a copy of a float32 tapegrad tensor.
inline torch::Tensor to_torch(const Tensor& t) {
  const auto& v = t.value<float>();
  const std::vector<std::int64_t> shape(v.shape().begin(), v.shape().end());
  torch::Tensor r = torch::empty(shape, torch::kFloat);
  if (v.size() > 0) std::memcpy(r.data_ptr<float>(), v.data(), v.size() * sizeof(float));
  return r;
}

/// The same network in libtorch, with `source`'s parameters copied in (same order:
/// weight, bias of each conv layer).
inline torch::nn::Sequential make_torch_autoencoder(const Sequential& source) {
  namespace nn = torch::nn;
  nn::Sequential net(
      nn::Conv2d(nn::Conv2dOptions(1, 16, 3).stride(2).padding(1)), nn::ReLU(),
      nn::Conv2d(nn::Conv2dOptions(16, 32, 3).stride(2).padding(1)), nn::ReLU(),
      nn::Conv2d(nn::Conv2dOptions(32, 64, 7)),
      nn::ConvTranspose2d(nn::ConvTranspose2dOptions(64, 32, 7)), nn::ReLU(),
      nn::ConvTranspose2d(
          nn::ConvTranspose2dOptions(32, 16, 3).stride(2).padding(1).output_padding(1)),
      nn::ReLU(),
      nn::ConvTranspose2d(
          nn::ConvTranspose2dOptions(16, 1, 3).stride(2).padding(1).output_padding(1)),
      nn::Sigmoid());
  const auto src = source.parameters();
  auto dst = net->parameters();
  if (src.size() != dst.size()) throw std::logic_error("autoencoder: parameter lists differ");
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < src.size(); ++i) dst[i].copy_(to_torch(src[i]));
  return net;
}

/// The same training step in libtorch; zero_grad sets the gradients to none (as
/// tapegrad does, and as PyTorch ≥ 2.0 does by default), which is the faster option.
inline torch::Tensor torch_train_step(torch::nn::Sequential& net, torch::optim::Adam& opt,
                                      const torch::Tensor& x) {
  torch::Tensor loss = torch::mse_loss(net->forward(x), x);
  loss.backward();
  opt.step();
  for (auto& p : net->parameters()) p.mutable_grad().reset();
  return loss;
}

#endif

}  // namespace tapegrad::bench
