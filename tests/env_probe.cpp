// Loads tapegrad (links it and runs one training step) and prints its environment, one
// variable per line, so a test can check that the library changed nothing at load.
#include <cstdio>
#include <tapegrad/tapegrad.hpp>

extern char** environ;

int main() {
  using namespace tapegrad;
  Tensor w = Tensor::ones({2, 2}, Dtype::Float32, true);
  Tensor x = Tensor::ones({3, 2});
  mean(matmul(x, w)).backward();
  if (!w.has_grad()) return 1;
  for (char** e = environ; *e != nullptr; ++e) std::printf("%s\n", *e);
  return 0;
}
