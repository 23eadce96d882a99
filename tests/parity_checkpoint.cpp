// Checkpoints between libtorch and tapegrad: a torch model's state_dict, written
// through tapegrad's npz writer under PyTorch's own names, loads into the
// equivalent tapegrad model (bit-identical parameters, same outputs); and a
// tapegrad checkpoint loads back into the torch model.
#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <tapegrad/core/checkpoint.hpp>
#include <tapegrad/core/io/npz.hpp>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/layers/activation.hpp>
#include <tapegrad/layers/linear.hpp>
#include <tapegrad/layers/sequential.hpp>

#include "parity_helpers.hpp"

using namespace tapegrad;
namespace fs = std::filesystem;

namespace {

// A torch model with nested names: encoder.0.weight, ..., head.bias.
struct TorchNetImpl : torch::nn::Module {
  TorchNetImpl() {
    encoder = register_module(
        "encoder",
        torch::nn::Sequential(torch::nn::Linear(4, 8), torch::nn::ReLU(), torch::nn::Linear(8, 3)));
    head = register_module("head", torch::nn::Linear(3, 2));
  }
  torch::Tensor forward(const torch::Tensor& x) { return head->forward(encoder->forward(x)); }
  torch::nn::Sequential encoder{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(TorchNet);

// The same architecture in tapegrad, initialised from another seed.
struct Net : Module {
  explicit Net(Generator& gen)
      : encoder(register_module(
            "encoder", std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<Module>>{
                           std::make_shared<Linear>(4, 8, gen), std::make_shared<ReLU>(),
                           std::make_shared<Linear>(8, 3, gen)}))),
        head(register_module("head", std::make_shared<Linear>(3, 2, gen))) {}
  Tensor forward(const Tensor& x) override { return (*head)((*encoder)(x)); }
  std::shared_ptr<Sequential> encoder;
  std::shared_ptr<Linear> head;
};

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::path(TAPEGRAD_BINARY_DIR) / "parity_checkpoint" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

template <class T>
void torch_to_tapegrad() {
  const fs::path dir = fresh_dir(parity::dtype_label<T>());
  torch::manual_seed(0);
  TorchNet ref;
  ref->to(parity::torch_dtype<T>());

  // Export: PyTorch's state_dict names and values, through tapegrad's npz writer.
  io::NpzDict dict;
  for (const auto& p : ref->named_parameters())
    dict.insert(p.key(), io::NpzArray(tapegrad::Array<T>(parity::to_xt<T>(p.value()))));
  io::save_npz(dir / "torch_model.npz", dict);

  Generator gen(1);
  Net net(gen);
  net.to(dtype_of<T>());
  LoadReport report = load(net, dir / "torch_model.npz");  // strict: all names must agree
  CHECK(report.ok());
  for (const auto& p : ref->named_parameters()) {
    CAPTURE(p.key());
    CHECK(lookup(net.state_dict(), p.key()).value<T>() == parity::to_xt<T>(p.value()));
  }

  torch::Tensor x_ref = torch::randn({10, 4}, parity::torch_dtype<T>());
  Tensor y = net(Tensor::from(parity::to_xt<T>(x_ref)));
  torch::NoGradGuard no_grad;
  const parity::ErrorStats s = parity::compare(y.value<T>(), ref->forward(x_ref));
  REQUIRE(s.same_shape);
  // Same parameters; only the GEMM's summation order may differ between the libraries.
  CHECK(s.rel <= (std::is_same_v<T, double> ? 1e-14 : 1e-6));
}

}  // namespace

TEST_CASE("parity: a libtorch state_dict exported to npz loads into the tapegrad model") {
  torch_to_tapegrad<double>();
  torch_to_tapegrad<float>();
}

TEST_CASE("parity: a tapegrad checkpoint loads into the libtorch model") {
  const fs::path dir = fresh_dir("to_torch");
  Generator gen(2);
  Net net(gen);
  net.to(Dtype::Float64);
  save(net, dir / "tapegrad_model.npz");

  torch::manual_seed(3);
  TorchNet ref;
  ref->to(torch::kDouble);
  const NamedTensors ck = load_checkpoint(dir / "tapegrad_model.npz");
  {
    torch::NoGradGuard no_grad;
    auto params = ref->named_parameters();
    REQUIRE(params.size() == ck.size());
    for (const auto& [key, t] : ck) {
      CAPTURE(key);
      REQUIRE(params.contains(key));
      params[key].copy_(parity::to_torch(t.value<double>()));
    }
  }
  torch::Tensor x_ref = torch::randn({6, 4}, torch::kDouble);
  Tensor y = net(Tensor::from(parity::to_xt<double>(x_ref)));
  torch::NoGradGuard no_grad;
  const parity::ErrorStats s = parity::compare(y.value<double>(), ref->forward(x_ref));
  REQUIRE(s.same_shape);
  CHECK(s.rel <= 1e-14);
}
