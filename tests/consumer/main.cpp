// Trains y = 3x - 1 with the installed package, through the umbrella header only.
#include <cmath>
#include <cstdio>
#include <tapegrad/tapegrad.hpp>

int main() {
  using namespace tapegrad;
  Generator gen(0);
  Tensor x = Tensor::randn({64, 1}, gen, Dtype::Float64);
  Tensor y = x * 3.0 - 1.0;
  Tensor w = Tensor::zeros({1, 1}, Dtype::Float64, true);
  Tensor b = Tensor::zeros({1}, Dtype::Float64, true);
  for (int step = 0; step < 200; ++step) {
    Tensor loss = mse_loss(matmul(x, w) + b, y);
    loss.backward();
    w.value<double>() -= 0.1 * w.grad().value<double>();
    b.value<double>() -= 0.1 * b.grad().value<double>();
    w.zero_grad();
    b.zero_grad();
  }
  const double wv = w.item(), bv = b.item();
  std::printf("w=%.6f b=%.6f (want 3, -1), gemm %s\n", wv, bv, blas::backend().c_str());
  return std::fabs(wv - 3.0) < 1e-6 && std::fabs(bv + 1.0) < 1e-6 ? 0 : 1;
}
