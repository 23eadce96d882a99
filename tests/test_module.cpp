// Module, Sequential, Linear, activations, Flatten/Unflatten and loss modules:
// the registry (names, order, recursion), modes, state_dict loading and its
// errors, the printout, and Linear's values and gradients against hand
// computation and finite differences.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tapegrad/core/gradcheck.hpp>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/core/tape.hpp>
#include <tapegrad/layers/activation.hpp>
#include <tapegrad/layers/flatten.hpp>
#include <tapegrad/layers/linear.hpp>
#include <tapegrad/layers/loss.hpp>
#include <tapegrad/layers/module.hpp>
#include <tapegrad/layers/sequential.hpp>
#include <vector>
#include <xtensor/xview.hpp>

using namespace tapegrad;

namespace {

// A user-defined model: own parameter and buffer, a nested Sequential, a head.
struct Net : Module {
  explicit Net(Generator& gen)
      : encoder(register_module(
            "encoder", std::make_shared<Sequential>(std::initializer_list<std::shared_ptr<Module>>{
                           std::make_shared<Linear>(4, 8, gen), std::make_shared<ReLU>(),
                           std::make_shared<Linear>(8, 3, gen)}))),
        head(register_module("head", std::make_shared<Linear>(3, 2, gen))) {
    // Registered after the children on purpose: a module's own tensors still come
    // first in the names, as in PyTorch.
    scale = register_parameter("scale", Tensor::ones({2}));
    register_buffer("steps", Tensor::zeros({1}));
  }
  Tensor forward(const Tensor& x) override { return mul((*head)((*encoder)(x)), scale); }

  std::shared_ptr<Sequential> encoder;
  std::shared_ptr<Linear> head;
  Tensor scale;
};

std::vector<std::string> keys_of(const NamedTensors& named) {
  std::vector<std::string> keys;
  for (const auto& [k, t] : named) keys.push_back(k);
  return keys;
}

std::vector<std::string> keys_of(const std::vector<Module::NamedModule>& named) {
  std::vector<std::string> keys;
  for (const auto& [k, m] : named) keys.push_back(k);
  return keys;
}

Tensor tensor2d(std::initializer_list<std::initializer_list<double>> v) {
  return Tensor::from(tapegrad::Array<double>(v));
}
Tensor tensor1d(std::initializer_list<double> v) {
  return Tensor::from(tapegrad::Array<double>(v));
}

void check_close(const tapegrad::Array<double>& a, const tapegrad::Array<double>& b,
                 double tol = 1e-12) {
  REQUIRE(a.shape() == b.shape());
  for (std::size_t i = 0; i < a.size(); ++i)
    CHECK(a.flat(i) == doctest::Approx(b.flat(i)).epsilon(tol).scale(1.0));
}

// Sets a Linear's parameters to given values (through load_state_dict, as users would).
void set_linear(Linear& lin, const Tensor& w, const Tensor& b) {
  lin.to(Dtype::Float64);
  lin.load_state_dict({{"weight", w}, {"bias", b}});
}

}  // namespace

TEST_CASE("module: parameter names are dotted, own tensors first, children in registration order") {
  Generator gen(0);
  Net net(gen);
  const std::vector<std::string> expected = {
      "scale",          "encoder.0.weight", "encoder.0.bias", "encoder.2.weight",
      "encoder.2.bias", "head.weight",      "head.bias"};
  CHECK(keys_of(net.named_parameters()) == expected);
  CHECK(keys_of(net.named_parameters(/*recurse=*/false)) == std::vector<std::string>{"scale"});
  CHECK(keys_of(net.named_buffers()) == std::vector<std::string>{"steps"});
  // state_dict: each module's parameters then its buffers, then the children.
  CHECK(keys_of(net.state_dict()) ==
        std::vector<std::string>{"scale", "steps", "encoder.0.weight", "encoder.0.bias",
                                 "encoder.2.weight", "encoder.2.bias", "head.weight", "head.bias"});
  CHECK(keys_of(net.named_children()) == std::vector<std::string>{"encoder", "head"});
  CHECK(keys_of(net.named_modules()) ==
        std::vector<std::string>{"", "encoder", "encoder.0", "encoder.1", "encoder.2", "head"});
  CHECK(net.named_modules()[0].second.get() == &net);  // works for a model on the stack

  // parameters() are the very tensors the layers hold (handles share the node).
  const auto params = net.parameters();
  REQUIRE(params.size() == 7);
  CHECK(params[0].id() == net.scale.id());
  CHECK(params[5].id() == net.head->weight.id());
  for (const auto& p : params) CHECK(p.requires_grad());
  CHECK_FALSE(net.named_buffers()[0].second.requires_grad());
  // register_module returns the typed pointer.
  CHECK(net.encoder->size() == 3);
  CHECK(net.num_parameters() == 2 + (4 * 8 + 8) + (8 * 3 + 3) + (3 * 2 + 2));
}

TEST_CASE("module: registration rejects bad names, non-leaves, null modules and cycles") {
  Module m;
  m.register_parameter("w", Tensor::zeros({2}));
  CHECK_THROWS_WITH_AS(m.register_parameter("w", Tensor::zeros({2})),
                       doctest::Contains("\"w\" is already registered"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(m.register_buffer("w", Tensor::zeros({2})),
                       doctest::Contains("already registered"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(m.register_parameter("a.b", Tensor::zeros({2})),
                       doctest::Contains("must not contain '.'"), std::invalid_argument);
  CHECK_THROWS_AS(m.register_parameter("", Tensor::zeros({2})), std::invalid_argument);
  CHECK_THROWS_WITH_AS(m.register_parameter("u", Tensor()), doctest::Contains("undefined"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(m.register_module("child", std::shared_ptr<Linear>()),
                       doctest::Contains("null"), std::invalid_argument);

  Tensor leaf = Tensor::ones({2}, Dtype::Float32, true);
  Tensor not_leaf = mul(leaf, leaf);
  CHECK_THROWS_WITH_AS(m.register_parameter("p", not_leaf), doctest::Contains("leaves"),
                       std::invalid_argument);
  Tape::current().clear();

  auto outer = std::make_shared<Sequential>();
  auto inner = std::make_shared<Sequential>();
  outer->push_back(inner);
  CHECK_THROWS_WITH_AS(inner->push_back(outer), doctest::Contains("its own descendant"),
                       std::invalid_argument);
  CHECK_THROWS_AS(outer->push_back(outer), std::invalid_argument);
  CHECK_THROWS_WITH_AS(m.forward(Tensor::zeros({1})), doctest::Contains("not implemented"),
                       std::logic_error);
}

TEST_CASE("module: train() and eval() reach every descendant") {
  Generator gen(0);
  Net net(gen);
  auto all_training = [&](bool expected) {
    for (auto& named : net.named_modules()) {
      CAPTURE(named.first);  // not a structured binding: CAPTURE is a lambda
      CHECK(named.second->is_training() == expected);
    }
  };
  all_training(true);
  net.eval();
  all_training(false);
  net.train();
  all_training(true);
  net.encoder->eval();  // a subtree alone
  CHECK(net.is_training());
  CHECK_FALSE(net.encoder->at<Linear>(0)->is_training());
  CHECK(net.head->is_training());
}

TEST_CASE("module: zero_grad drops every parameter's gradient; num_parameters counts elements") {
  Generator gen(1);
  Net net(gen);
  Tensor x = Tensor::rand({5, 4}, gen);
  sum(net(x)).backward();
  for (const auto& named : net.named_parameters()) {
    CAPTURE(named.first);
    CHECK(named.second.has_grad());
  }
  net.zero_grad();
  for (const auto& p : net.parameters()) CHECK_FALSE(p.has_grad());

  Linear lin(4, 8, gen);
  CHECK(lin.num_parameters() == 40);
  Linear nobias(4, 8, gen, /*bias=*/false);
  CHECK(nobias.num_parameters() == 32);
  CHECK_FALSE(nobias.bias.defined());
  CHECK(keys_of(nobias.named_parameters()) == std::vector<std::string>{"weight"});
  lin.bias.requires_grad_(false);
  CHECK(lin.num_parameters(/*trainable_only=*/true) == 32);
}

TEST_CASE("module: repr prints one line per layer with its options, nested with indentation") {
  Generator gen(0);
  Net net(gen);
  const std::string expected =
      "Net(\n"
      "  (encoder): Sequential(\n"
      "    (0): Linear(in_features=4, out_features=8, bias=true)\n"
      "    (1): ReLU()\n"
      "    (2): Linear(in_features=8, out_features=3, bias=true)\n"
      "  )\n"
      "  (head): Linear(in_features=3, out_features=2, bias=true)\n"
      ")";
  CHECK(net.repr() == expected);
  std::ostringstream os;
  os << net;
  CHECK(os.str() == expected);

  Sequential misc({std::make_shared<Flatten>(),
                   std::make_shared<Unflatten>(1, std::vector<std::int64_t>{2, 5}),
                   std::make_shared<LeakyReLU>(0.2), std::make_shared<Sigmoid>(),
                   std::make_shared<Tanh>(), std::make_shared<Linear>(3, 1, gen, false)});
  CHECK(misc.repr() ==
        "Sequential(\n"
        "  (0): Flatten(start_dim=1, end_dim=-1)\n"
        "  (1): Unflatten(dim=1, unflattened_size=(2, 5))\n"
        "  (2): LeakyReLU(negative_slope=0.2)\n"
        "  (3): Sigmoid()\n"
        "  (4): Tanh()\n"
        "  (5): Linear(in_features=3, out_features=1, bias=false)\n"
        ")");
  CHECK(MSELoss().repr() == "MSELoss()");
  CHECK(MSELoss("sum").repr() == "MSELoss(reduction=sum)");
  CHECK(BCEWithLogitsLoss(Reduction::None).repr() == "BCEWithLogitsLoss(reduction=none)");
  CHECK(Sequential().repr() == "Sequential()");
}

TEST_CASE("sequential: children named 0, 1, ...; indexing, typed access, push_back, forward") {
  Generator gen(2);
  Sequential seq({std::make_shared<Linear>(4, 8, gen), std::make_shared<ReLU>()});
  seq.push_back(std::make_shared<Linear>(8, 3, gen));
  CHECK(seq.size() == 3);
  CHECK(keys_of(seq.named_children()) == std::vector<std::string>{"0", "1", "2"});
  CHECK(keys_of(seq.state_dict()) ==
        std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  CHECK(seq[1]->name() == "ReLU");
  CHECK(seq.at<Linear>(2)->out_features() == 3);
  CHECK_THROWS_WITH_AS(seq[3],
                       doctest::Contains("index 3 is out of range for a Sequential of size 3"),
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(seq.at<Linear>(1), doctest::Contains("is a ReLU"), std::invalid_argument);
  CHECK_THROWS_AS(seq.push_back(nullptr), std::invalid_argument);

  std::size_t visited = 0;
  for (const auto& m : seq) visited += m ? 1 : 0;
  CHECK(visited == 3);

  // forward chains the modules.
  Tensor x = Tensor::rand({5, 4}, gen);
  Tensor expected = (*seq.at<Linear>(2))(relu((*seq.at<Linear>(0))(x)));
  CHECK(seq(x).value<float>() == expected.value<float>());
  // An empty Sequential is the identity.
  CHECK(Sequential()(x).value<float>() == x.value<float>());
}

TEST_CASE("module: strict load_state_dict names the key and both shapes, and changes nothing") {
  Generator gen(3);
  Sequential src({std::make_shared<Linear>(4, 8, gen), std::make_shared<ReLU>(),
                  std::make_shared<Linear>(8, 3, gen)});
  Sequential dst({std::make_shared<Linear>(4, 8, gen), std::make_shared<ReLU>(),
                  std::make_shared<Linear>(8, 3, gen)});
  const tapegrad::Array<float> before = dst.at<Linear>(0)->weight.value<float>();
  bool loaded = false;

  SUBCASE("matching dicts load in place, so handles held elsewhere see the values") {
    Tensor held = dst.at<Linear>(2)->bias;  // e.g. what an optimizer holds
    LoadReport r = dst.load_state_dict(src.state_dict());
    CHECK(r.ok());
    CHECK(r.str().empty());
    CHECK(held.value<float>() == src.at<Linear>(2)->bias.value<float>());
    CHECK(held.id() == dst.at<Linear>(2)->bias.id());
    Tensor x = Tensor::rand({2, 4}, gen);
    CHECK(dst(x).value<float>() == src(x).value<float>());
    loaded = true;
  }
  SUBCASE("missing key") {
    NamedTensors sd = src.state_dict();
    sd.erase(sd.begin() + 1);  // "0.bias"
    CHECK_THROWS_WITH_AS(dst.load_state_dict(sd), doctest::Contains("missing key(s): \"0.bias\""),
                         std::invalid_argument);
  }
  SUBCASE("unexpected key") {
    NamedTensors sd = src.state_dict();
    sd.emplace_back("3.weight", Tensor::zeros({1}));
    CHECK_THROWS_WITH_AS(dst.load_state_dict(sd),
                         doctest::Contains("unexpected key(s): \"3.weight\""),
                         std::invalid_argument);
  }
  SUBCASE("shape mismatch names the key and both shapes") {
    NamedTensors sd = src.state_dict();
    sd[0].second = Tensor::zeros({8, 5});
    CHECK_THROWS_WITH_AS(dst.load_state_dict(sd),
                         doctest::Contains("size mismatch for \"0.weight\": the source has shape "
                                           "[8, 5], the module has shape [8, 4]"),
                         std::invalid_argument);
  }
  SUBCASE("dtype mismatch") {
    NamedTensors sd = src.state_dict();
    sd[2].second = Tensor::zeros({3, 8}, Dtype::Float64);
    CHECK_THROWS_WITH_AS(
        dst.load_state_dict(sd),
        doctest::Contains(
            "dtype mismatch for \"2.weight\": the source has float64, the module has float32"),
        std::invalid_argument);
  }
  SUBCASE("a repeated key is an error even when not strict") {
    NamedTensors sd = src.state_dict();
    sd.push_back(sd[0]);
    CHECK_THROWS_WITH_AS(dst.load_state_dict(sd, false), doctest::Contains("more than once"),
                         std::invalid_argument);
  }
  SUBCASE("every problem is listed at once, with the module's name") {
    NamedTensors sd = src.state_dict();
    sd.erase(sd.begin() + 1);
    sd[0].second = Tensor::zeros({1, 1});
    sd.emplace_back("extra", Tensor::zeros({1}));
    try {
      dst.load_state_dict(sd);
      FAIL("expected an exception");
    } catch (const std::invalid_argument& e) {
      const std::string msg = e.what();
      CHECK(msg.find("Sequential::load_state_dict") != std::string::npos);
      CHECK(msg.find("\"0.bias\"") != std::string::npos);
      CHECK(msg.find("\"extra\"") != std::string::npos);
      CHECK(msg.find("[1, 1]") != std::string::npos);
    }
  }
  // All or nothing: when a strict load fails, nothing was copied.
  if (!loaded) CHECK(dst.at<Linear>(0)->weight.value<float>() == before);
}

TEST_CASE("module: non-strict load_state_dict loads what matches and reports the rest") {
  Generator gen(4);
  Sequential src({std::make_shared<Linear>(4, 8, gen), std::make_shared<ReLU>(),
                  std::make_shared<Linear>(8, 3, gen)});
  Sequential dst({std::make_shared<Linear>(4, 8, gen), std::make_shared<ReLU>(),
                  std::make_shared<Linear>(8, 2, gen)});  // new head: a fine-tuning setup
  NamedTensors sd = src.state_dict();
  sd.erase(sd.begin() + 1);  // drop "0.bias"
  sd.emplace_back("extra.weight", Tensor::zeros({1}));
  const tapegrad::Array<float> old_bias = dst.at<Linear>(0)->bias.value<float>();
  const tapegrad::Array<float> old_head = dst.at<Linear>(2)->weight.value<float>();

  LoadReport r = dst.load_state_dict(sd, /*strict=*/false);
  CHECK_FALSE(r.ok());
  CHECK(r.missing_keys == std::vector<std::string>{"0.bias"});
  CHECK(r.unexpected_keys == std::vector<std::string>{"extra.weight"});
  CHECK(r.skipped_keys == std::vector<std::string>{"2.weight", "2.bias"});
  REQUIRE(r.skipped_reasons.size() == 2);
  CHECK(r.skipped_reasons[0].find("[3, 8]") != std::string::npos);
  CHECK(r.skipped_reasons[0].find("[2, 8]") != std::string::npos);
  CHECK(r.str().find("missing key(s): \"0.bias\"") != std::string::npos);
  // Matching entries were loaded, the others left as they were.
  CHECK(dst.at<Linear>(0)->weight.value<float>() == src.at<Linear>(0)->weight.value<float>());
  CHECK(dst.at<Linear>(0)->bias.value<float>() == old_bias);
  CHECK(dst.at<Linear>(2)->weight.value<float>() == old_head);
}

TEST_CASE("module: to(Float64) converts parameters in place, keeping values and handles") {
  Generator gen(5);
  auto lin = std::make_shared<Linear>(3, 2, gen);
  Sequential seq({lin});
  const tapegrad::Array<float> w32 = lin->weight.value<float>();
  Tensor held = seq.parameters()[0];
  seq.to(Dtype::Float64);
  CHECK(lin->weight.dtype() == Dtype::Float64);
  CHECK(held.dtype() == Dtype::Float64);
  CHECK(lin->bias.dtype() == Dtype::Float64);
  CHECK(lin->weight.requires_grad());
  for (std::size_t i = 0; i < w32.size(); ++i)
    CHECK(lin->weight.value<double>().flat(i) == double(w32.flat(i)));
  // The converted model runs in float64 and rejects float32 input clearly.
  CHECK(seq(Tensor::ones({1, 3}, Dtype::Float64)).dtype() == Dtype::Float64);
  CHECK_THROWS_WITH_AS(seq(Tensor::ones({1, 3})),
                       doctest::Contains("Linear: input is float32 but the weight is float64"),
                       std::invalid_argument);
}

TEST_CASE("module: a tensor shared by two modules is one parameter but two state_dict keys") {
  Generator gen(6);
  auto a = std::make_shared<Linear>(3, 3, gen);
  Sequential seq({a, std::make_shared<Tanh>(), a});  // the same layer twice (weight tying)
  CHECK(keys_of(seq.named_parameters()) == std::vector<std::string>{"0.weight", "0.bias"});
  CHECK(seq.num_parameters() == 12);
  CHECK(keys_of(seq.state_dict()) ==
        std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  CHECK(seq.load_state_dict(seq.state_dict()).ok());
}

TEST_CASE("linear: forward and backward against hand computation") {
  Linear lin(3, 2, /*bias=*/true, /*seed=*/0);
  set_linear(lin, tensor2d({{1, 2, 3}, {4, 5, 6}}), tensor1d({0.5, -1}));
  Tensor x = tensor2d({{1, 0, -1}, {2, 1, 0}});
  x.requires_grad_();
  Tensor y = lin(x);
  // y = x Wᵀ + b
  check_close(y.value<double>(), tapegrad::Array<double>{{-1.5, -3.0}, {4.5, 12.0}});
  // L = Σ y ⊙ G  =>  dL/dW = Gᵀ x, dL/db = Σ_rows G, dL/dx = G W.
  Tensor g = tensor2d({{1, 2}, {3, -1}});
  sum(mul(y, g)).backward();
  check_close(lin.weight.grad().value<double>(), tapegrad::Array<double>{{7, 3, -1}, {0, -1, -2}});
  check_close(lin.bias.grad().value<double>(), tapegrad::Array<double>{4, 1});
  check_close(x.grad().value<double>(), tapegrad::Array<double>{{9, 12, 15}, {-1, 1, 3}});
}

TEST_CASE("linear: an unbatched [in] input gives [out], equal to the batched row") {
  Generator gen(7);
  Linear lin(3, 2, gen);
  Tensor x = Tensor::rand({4, 3}, gen);
  Tensor row = Tensor::from(tapegrad::Array<float>(xt::view(x.value<float>(), 1, xt::all())));
  const Tensor single = lin(row);
  REQUIRE(single.shape() == Shape{2});
  const auto batched = lin(x).value<float>();
  for (std::size_t j = 0; j < 2; ++j)
    CHECK(batched(1, j) == doctest::Approx(single.value<float>()(j)));
}

TEST_CASE("linear: accepts [..., in] inputs and names the shapes when they do not fit") {
  Generator gen(7);
  Linear lin(3, 2, gen);
  CHECK(lin(Tensor::ones({4, 5, 3})).shape() == Shape{4, 5, 2});
  CHECK_THROWS_WITH_AS(
      lin(Tensor::ones({2, 5})),
      doctest::Contains("expected an input of shape [..., 3] (in_features=3), got [2, 5]"),
      std::invalid_argument);
  CHECK_THROWS_AS(lin(Tensor::scalar(1.0)), std::invalid_argument);
}

TEST_CASE("linear: PyTorch's default init bounds, and a seed reproduces the layer") {
  Generator gen(8);
  Linear lin(50, 40, gen);
  const double bound = 1.0 / std::sqrt(50.0);
  double max_w = 0, max_b = 0;
  for (float v : lin.weight.value<float>()) max_w = std::max(max_w, std::abs(double(v)));
  for (float v : lin.bias.value<float>()) max_b = std::max(max_b, std::abs(double(v)));
  CHECK(max_w <= bound);
  CHECK(max_w > 0.98 * bound);
  CHECK(max_b <= bound);
  CHECK(max_b > 0.7 * bound);  // 40 draws: the largest is almost surely above 0.7·bound

  Generator g1(9), g2(9);
  Linear a(5, 4, g1), b(5, 4, g2);
  CHECK(a.weight.value<float>() == b.weight.value<float>());
  CHECK(a.bias.value<float>() == b.bias.value<float>());
  Linear c(5, 4, /*bias=*/true, /*seed=*/9);
  CHECK(c.weight.value<float>() == a.weight.value<float>());
  // One shared generator: two layers of the same shape start differently.
  Generator shared(10);
  Linear d(5, 4, shared), e(5, 4, shared);
  CHECK(d.weight.value<float>() != e.weight.value<float>());
  // float64 layers draw the same numbers (before rounding to float).
  Generator g3(9);
  Linear f64(5, 4, g3, true, Dtype::Float64);
  for (std::size_t i = 0; i < 20; ++i)
    CHECK(float(f64.weight.value<double>().flat(i)) == a.weight.value<float>().flat(i));
}

TEST_CASE("module: gradcheck of a small MLP through every parameter and the input") {
  Generator gen(11);
  Sequential mlp({std::make_shared<Linear>(3, 4, gen), std::make_shared<Tanh>(),
                  std::make_shared<Linear>(4, 4, gen), std::make_shared<LeakyReLU>(0.1),
                  std::make_shared<Linear>(4, 2, gen), std::make_shared<Sigmoid>()});
  mlp.to(Dtype::Float64);
  Tensor x = Tensor::randn({5, 3}, gen, Dtype::Float64, /*requires_grad=*/true);
  std::vector<Tensor> inputs{x};
  for (const auto& p : mlp.parameters()) inputs.push_back(p);
  GradcheckReport r = gradcheck([&](const std::vector<Tensor>& in) { return mlp(in[0]); }, inputs);
  CHECK_MESSAGE(r.passed, r.message);
  CHECK(r.checked > 0);

  // The losses too: MSE and BCE-with-logits of the MLP's output.
  Tensor target = Tensor::rand({5, 2}, gen, Dtype::Float64);
  MSELoss mse;
  BCEWithLogitsLoss bce_logits("sum");
  r = gradcheck([&](const std::vector<Tensor>& in) { return mse(mlp(in[0]), target); }, inputs);
  CHECK_MESSAGE(r.passed, r.message);
  r = gradcheck([&](const std::vector<Tensor>& in) { return bce_logits(mlp(in[0]), target); },
                inputs);
  CHECK_MESSAGE(r.passed, r.message);
}

TEST_CASE("activations: modules equal their ops") {
  Generator gen(12);
  Tensor x = Tensor::randn({4, 3}, gen, Dtype::Float64);
  CHECK(ReLU()(x).value<double>() == relu(x).value<double>());
  CHECK(LeakyReLU(0.2)(x).value<double>() == leaky_relu(x, 0.2).value<double>());
  CHECK(LeakyReLU()(x).value<double>() == leaky_relu(x, 0.01).value<double>());
  CHECK(Sigmoid()(x).value<double>() == sigmoid(x).value<double>());
  CHECK(Tanh()(x).value<double>() == tanh(x).value<double>());
  CHECK(ReLU().num_parameters() == 0);
}

TEST_CASE("flatten/unflatten: shapes, round trip, gradient flow and errors") {
  Generator gen(13);
  Tensor x = Tensor::randn({2, 3, 4, 5}, gen, Dtype::Float64, true);
  Flatten flat;
  Tensor y = flat(x);
  CHECK(y.shape() == Shape{2, 60});
  CHECK(Flatten(0, 1)(x).shape() == Shape{6, 4, 5});
  CHECK(Flatten(-2, -1)(x).shape() == Shape{2, 3, 20});

  Unflatten unflat(1, {3, 4, 5});
  Tensor z = unflat(y);
  CHECK(z.shape() == Shape{2, 3, 4, 5});
  CHECK(z.value<double>() == x.value<double>());
  CHECK(Unflatten(-1, {-1, 5})(y).shape() == Shape{2, 12, 5});
  sum(mul(z, z)).backward();
  check_close(x.grad().value<double>(), tapegrad::Array<double>(2.0 * x.value<double>()));

  CHECK_THROWS_WITH_AS(
      Unflatten(1, {7, 4})(Tensor::zeros({2, 60})),
      doctest::Contains("sizes [7, 4] don't multiply up to the size of dim 1 (60)"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(Unflatten(3, {2})(Tensor::zeros({2, 60})), doctest::Contains("out of range"),
                       std::invalid_argument);
  CHECK_THROWS_AS(Unflatten(1, {-1, -1}), std::invalid_argument);
  CHECK_THROWS_AS(Unflatten(1, {}), std::invalid_argument);
  CHECK_THROWS_AS(Unflatten(1, {0, 3}), std::invalid_argument);
}

TEST_CASE("losses: modules wrap the core functions with their reduction") {
  Tensor input = tensor2d({{0.5, 2.0}, {-1.0, 0.0}});
  Tensor target = tensor2d({{1.0, 0.0}, {0.0, 0.5}});
  // squared errors 0.25, 4, 1, 0.25
  CHECK(MSELoss()(input, target).item() == doctest::Approx(5.5 / 4));
  CHECK(MSELoss("sum")(input, target).item() == doctest::Approx(5.5));
  CHECK(MSELoss(Reduction::None)(input, target).shape() == Shape{2, 2});

  Tensor p = tensor2d({{0.2, 0.9}, {0.5, 0.7}});
  Tensor t = tensor2d({{0.0, 1.0}, {1.0, 0.0}});
  const double bce = -(std::log(0.8) + std::log(0.9) + std::log(0.5) + std::log(0.3)) / 4;
  CHECK(BCELoss()(p, t).item() == doctest::Approx(bce).epsilon(1e-12));
  // BCEWithLogits(x) = BCE(sigmoid(x)).
  Tensor logits = tensor2d({{-3.0, 0.5}, {2.0, -0.25}});
  CHECK(BCEWithLogitsLoss()(logits, t).item() ==
        doctest::Approx(BCELoss()(sigmoid(logits), t).item()).epsilon(1e-12));
  CHECK(BCEWithLogitsLoss("sum")(logits, t).item() ==
        doctest::Approx(4 * BCEWithLogitsLoss()(logits, t).item()).epsilon(1e-12));
  CHECK_THROWS_AS(MSELoss("average"), std::invalid_argument);

  // Through the base class a loss still explains itself.
  MSELoss mse;
  Module& as_module = mse;
  CHECK_THROWS_WITH_AS(as_module(input), doctest::Contains("MSELoss: a loss takes two inputs"),
                       std::logic_error);
}
