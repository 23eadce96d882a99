// libFuzzer target: loading a checkpoint into a model. Arbitrary bytes go through
// parse_checkpoint and a strict then a non-strict load_state_dict into a small conv
// net; each step must succeed or throw IoError / std::invalid_argument, and a strict
// load that throws must leave the model unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <stdexcept>
#include <tapegrad/tapegrad.hpp>

namespace {

tapegrad::Sequential& model() {
  static auto* net = [] {
    tapegrad::Generator gen(0);
    auto* s = new tapegrad::Sequential(
        {std::make_shared<tapegrad::Conv2d>(1, 2, 3, gen), std::make_shared<tapegrad::ReLU>(),
         std::make_shared<tapegrad::Flatten>(), std::make_shared<tapegrad::Linear>(8, 3, gen)});
    return s;
  }();
  return *net;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tapegrad;
  NamedTensors loaded;
  try {
    loaded = parse_checkpoint(std::span<const std::uint8_t>(data, size), "fuzz.npz");
  } catch (const io::IoError&) {
    return 0;
  }
  Sequential& net = model();
  NamedTensors before;
  for (const auto& [k, t] : net.state_dict()) before.emplace_back(k, t.clone_detached());
  try {
    net.load_state_dict(loaded, /*strict=*/true);
  } catch (const std::invalid_argument&) {
    const NamedTensors after = net.state_dict();
    for (std::size_t i = 0; i < after.size(); ++i)
      if (!(after[i].second.cvalue<float>() == before[i].second.cvalue<float>())) std::abort();
  }
  try {
    (void)net.load_state_dict(loaded, /*strict=*/false);
  } catch (const std::invalid_argument&) {
  }
  // Whatever was loaded, the model still runs (or rejects its input cleanly).
  NoGradGuard no_grad;
  (void)net(Tensor::ones({1, 1, 4, 4}));
  // Restore for the next input.
  net.load_state_dict(before);
  return 0;
}
