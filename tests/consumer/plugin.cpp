// A plugin (a shared library loaded at run time) that trains with tapegrad: a small
// convolution fitted by gradient descent, backward through conv2d included.
#include <cmath>
#include <tapegrad/tapegrad.hpp>

extern "C" __attribute__((visibility("default"))) double tapegrad_plugin_train(int steps) {
  using namespace tapegrad;
  Generator gen(3);
  Tensor x = Tensor::randn({4, 1, 6, 6}, gen, Dtype::Float64);
  Tensor target_w = Tensor::randn({2, 1, 3, 3}, gen, Dtype::Float64);
  Tensor target;
  {
    NoGradGuard no_grad;
    target = conv2d(x, target_w);
  }
  Tensor w = Tensor::zeros({2, 1, 3, 3}, Dtype::Float64, true);
  double loss_value = 0;
  for (int step = 0; step < steps; ++step) {
    Tensor loss = mse_loss(conv2d(x, w), target);
    loss.backward();
    w.value<double>() -= 0.5 * w.grad().value<double>();
    w.zero_grad();
    loss_value = loss.item();
  }
  return loss_value;
}
