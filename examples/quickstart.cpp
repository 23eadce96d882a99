// Quickstart: fit a small MLP to a bump, y = exp(-|x|²), with Adam; save and reload it.
#include <cstdio>
#include <tapegrad/tapegrad.hpp>
using namespace tapegrad;
Sequential make_model(std::uint64_t seed) {  // 2 -> 32 -> 32 -> 1; the seed fixes the weights
  Generator gen(seed);
  return Sequential({std::make_shared<Linear>(2, 32, gen), std::make_shared<Tanh>(),
                     std::make_shared<Linear>(32, 32, gen), std::make_shared<Tanh>(),
                     std::make_shared<Linear>(32, 1, gen)});
}

int main() {
  Generator gen(0);
  Tensor x = Tensor::rand({256, 2}, gen) * 4.0 - 2.0;  // inputs in [-2, 2)²
  Tensor y = exp(-sum(x * x, {1}, /*keepdim=*/true));  // targets [256, 1]
  Sequential model = make_model(1);
  std::printf("%s\n", model.repr().c_str());
  optim::Adam adam(model.parameters(), {.lr = 5e-3});
  MSELoss mse;
  for (int step = 0; step <= 1000; ++step) {
    adam.zero_grad();
    Tensor loss = mse(model(x), y);
    loss.backward();  // runs the tape backwards, then frees every intermediate
    adam.step();
    if (step % 200 == 0) std::printf("step %4d  loss %.6f\n", step, loss.item());
  }
  save(model, "quickstart.npz");  // NumPy-readable, written atomically
  Sequential reloaded = make_model(2);
  load(reloaded, "quickstart.npz");  // strict: names, shapes and dtypes must match
  NoGradGuard no_grad;               // evaluation only: record nothing
  const bool same = reloaded(x).value<float>() == model(x).value<float>();
  std::printf("reloaded model gives the same output: %s\n", same ? "yes" : "no");
  return same ? 0 : 1;
}
