// Classification ops against libtorch on randomised sweeps: softmax, log_softmax,
// nll_loss and cross_entropy (every reduction, class weights, ignore_index on random,
// all and no targets, label smoothing, probability targets), argmax, and the extra
// activations; forward and the gradient of every input for a random upstream
// gradient, in float64 and float32. Dropout draws from a different generator than
// libtorch's, so it is compared by its scaling, its mask shapes and statistics.
#include <doctest/doctest.h>

#include <functional>
#include <iostream>
#include <tapegrad/tapegrad.hpp>

#include "parity_helpers.hpp"

using namespace tapegrad;
using namespace tapegrad::parity;
namespace F = torch::nn::functional;

namespace {

using TgFn = std::function<Tensor(const std::vector<Tensor>&)>;
using TorchFn = std::function<torch::Tensor(const std::vector<torch::Tensor>&)>;
using V = std::vector<Tensor>;
using TV = std::vector<torch::Tensor>;

ParityTable& table() {
  static ParityTable t;
  return t;
}

// One table per test case, printed with MESSAGE when the case ends.
struct PrintTable {
  std::string title;
  explicit PrintTable(std::string t) : title(std::move(t)) { table() = ParityTable{}; }
  ~PrintTable() { MESSAGE(title << "\n\n" << table().str()); }
};

template <class T>
double tolerance() {
  return std::is_same_v<T, double> ? 1e-12 : 1e-5;
}

// NaN where the reference has NaN, close elsewhere.
template <class T>
void check_close(const std::string& what, const tapegrad::Array<T>& got, const torch::Tensor& ref) {
  const torch::Tensor r = ref.detach().to(torch::kDouble).contiguous();
  const torch::Tensor nan = r.isnan();
  DOCTEST_REQUIRE(static_cast<std::size_t>(r.numel()) == got.size());
  torch::Tensor finite_ref = r.masked_fill(nan, 0.0);
  tapegrad::Array<T> finite_got = got;
  const bool* pn = nan.data_ptr<bool>();
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO(what << " element " << i);
    DOCTEST_CHECK(std::isnan(static_cast<double>(got.data()[i])) == pn[i]);
    if (pn[i]) finite_got.data()[i] = T(0);
  }
  const ErrorStats s = compare(finite_got, finite_ref);
  table().add(what, dtype_label<T>(), s);
  INFO(what << " " << dtype_label<T>() << " rel " << s.rel);
  DOCTEST_CHECK(s.same_shape);
  DOCTEST_CHECK(s.rel <= tolerance<T>());
}

// Random float inputs (uniform in [lo, hi)), the same on both sides; forward and every
// input's gradient for a random upstream gradient.
struct InputSpec {
  Shape shape;
  double lo = -1.0, hi = 1.0;
  bool softmax_rows = false;  // make it a probability distribution over dim 1 (or 0)
};

template <class T>
void run_case(const std::string& name, const std::vector<InputSpec>& specs, const TgFn& tg,
              const TorchFn& th, std::uint64_t seed) {
  Generator gen(seed);
  std::vector<Tensor> xs;
  std::vector<torch::Tensor> ts;
  for (const auto& s : specs) {
    Tensor u = Tensor::rand(s.shape, gen, Dtype::Float64);
    tapegrad::Array<T> v = xt::cast<T>(s.lo + (s.hi - s.lo) * u.value<double>());
    if (s.softmax_rows) {
      torch::Tensor p = torch::softmax(to_torch(v), s.shape.size() == 1 ? 0 : 1);
      v = to_xt<T>(p);
    }
    xs.push_back(Tensor::from(v, true));
    ts.push_back(to_torch(v).requires_grad_(true));
  }
  Tape tape;
  Tape::Use use(tape);
  Tensor y = tg(xs);
  torch::Tensor ty = th(ts);
  check_close(name + " forward", y.cvalue<T>(), ty);
  const Tensor seed_t = Tensor::randn(y.shape(), gen, dtype_of<T>());
  y.backward(seed_t);
  ty.backward(to_torch(seed_t.cvalue<T>()));
  for (std::size_t i = 0; i < xs.size(); ++i) {
    INFO(name << " input " << i);
    DOCTEST_REQUIRE(xs[i].has_grad() == ts[i].grad().defined());
    if (xs[i].has_grad()) check_close(name + " grad", xs[i].grad().cvalue<T>(), ts[i].grad());
  }
}

void both(const std::string& name, const std::vector<InputSpec>& specs, const TgFn& tg,
          const TorchFn& th, std::uint64_t seed) {
  run_case<double>(name, specs, tg, th, seed);
  run_case<float>(name, specs, tg, th, seed + 7777);
}

torch::Tensor to_torch_index(const IndexTensor& t) {
  std::vector<std::int64_t> shape(t.shape().begin(), t.shape().end());
  return torch::tensor(t.values(), torch::kLong).reshape(shape);
}

const char* red_name(Reduction r) {
  return r == Reduction::None ? "none" : r == Reduction::Sum ? "sum" : "mean";
}

// A random classification problem: input shape [N, C, d...] (or [C]), targets in
// [0, C) with some replaced by ignore_index.
struct Problem {
  Shape input;
  IndexTensor target;
  std::int64_t ignore_index = -100;
  std::size_t classes = 0;
};

Problem random_problem(std::mt19937_64& rng, int ignore_mode) {
  Problem p;
  std::uniform_int_distribution<int> pick(0, 99);
  const std::size_t c = 1 + static_cast<std::size_t>(pick(rng) % 6);
  const int layout = pick(rng) % 4;  // [C], [N, C], [N, C, d], [N, C, d1, d2]
  Shape tshape;
  if (layout == 0) {
    p.input = {c};
  } else {
    const std::size_t n = 1 + static_cast<std::size_t>(pick(rng) % 5);
    p.input = {n, c};
    tshape = {n};
    for (int k = 1; k < layout; ++k) {
      const std::size_t d = 1 + static_cast<std::size_t>(pick(rng) % 3);
      p.input.push_back(d);
      tshape.push_back(d);
    }
  }
  p.classes = c;
  // ignore_index: PyTorch's default or one of the classes.
  p.ignore_index = pick(rng) % 2 == 0 ? -100 : static_cast<std::int64_t>(pick(rng) % c);
  std::vector<std::int64_t> t(checked_numel("t", tshape));
  for (auto& v : t) {
    v = static_cast<std::int64_t>(pick(rng) % c);
    if (ignore_mode == 1 && pick(rng) % 3 == 0) v = p.ignore_index;  // some ignored
    if (ignore_mode == 2) v = p.ignore_index;                        // all ignored
  }
  if (ignore_mode == 0 && p.ignore_index >= 0) p.ignore_index = -100;  // none ignored
  p.target = IndexTensor(tshape, std::move(t));
  return p;
}

}  // namespace

TEST_CASE("parity: softmax and log_softmax over random shapes and dims") {
  PrintTable print("softmax / log_softmax vs libtorch (worst errors)");
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<int> pick(0, 99);
  for (int trial = 0; trial < 12; ++trial) {
    Shape s;
    const int rank = pick(rng) % 4;  // 0-d included
    for (int k = 0; k < rank; ++k) s.push_back(1 + static_cast<std::size_t>(pick(rng) % 5));
    const std::int64_t r = std::max(rank, 1);
    const std::int64_t dim = static_cast<std::int64_t>(pick(rng) % (2 * r)) - r;
    const double scale = trial % 3 == 0 ? 30.0 : 3.0;  // large logits too
    both(
        "softmax", {{s, -scale, scale}}, [dim](const V& v) { return softmax(v[0], dim); },
        [dim](const TV& v) { return F::softmax(v[0], F::SoftmaxFuncOptions(dim)); }, 100 + trial);
    both(
        "log_softmax", {{s, -scale, scale}}, [dim](const V& v) { return log_softmax(v[0], dim); },
        [dim](const TV& v) { return F::log_softmax(v[0], F::LogSoftmaxFuncOptions(dim)); },
        200 + trial);
  }
}

namespace {

template <class Opt>
Opt with_reduction(Opt o, Reduction r) {
  if (r == Reduction::None) return o.reduction(torch::kNone);
  if (r == Reduction::Sum) return o.reduction(torch::kSum);
  return o.reduction(torch::kMean);
}

}  // namespace

TEST_CASE("parity: nll_loss and cross_entropy on random problems") {
  PrintTable print("nll_loss / cross_entropy vs libtorch (worst errors)");
  std::mt19937_64 rng(2);
  std::uint64_t seed = 1000;
  for (int trial = 0; trial < 24; ++trial) {
    const int ignore_mode = trial % 8 == 7 ? 2 : trial % 2;  // none, some, every target
    const Problem p = random_problem(rng, ignore_mode);
    const IndexTensor t = p.target;
    const torch::Tensor tt = to_torch_index(t);
    const std::int64_t ii = p.ignore_index;
    for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum})
      for (bool weighted : {false, true}) {
        const std::string tag = std::string(red_name(r)) + (weighted ? " weighted" : "");
        // The weight rides along as an input without gradient: generate it on both
        // sides from the same numbers.
        Generator wg(seed);
        const Tensor w64 = Tensor::rand({p.classes}, wg, Dtype::Float64);
        const auto weight_for = [weighted, w64](const Tensor& like) {
          if (!weighted) return Tensor();
          return like.dtype() == Dtype::Float64
                     ? Tensor::from(Array<double>(0.2 + 2.0 * w64.cvalue<double>()))
                     : Tensor::from(
                           Array<float>(xt::cast<float>(0.2 + 2.0 * w64.cvalue<double>())));
        };
        const auto torch_weight = [weighted, w64](const torch::Tensor& like) {
          if (!weighted) return torch::Tensor();
          return to_torch(Array<double>(0.2 + 2.0 * w64.cvalue<double>())).to(like.scalar_type());
        };
        both(
            "nll_loss " + tag, {{p.input, -3.0, 0.0}},
            [=](const V& v) { return nll_loss(v[0], t, weight_for(v[0]), ii, r); },
            [=](const TV& v) {
              // ATen's nll_loss_nd, which Python's F.nll_loss calls: the C++ frontend's
              // wrapper refuses the unbatched [C] input that PyTorch accepts.
              const std::int64_t red = r == Reduction::None  ? at::Reduction::None
                                       : r == Reduction::Sum ? at::Reduction::Sum
                                                             : at::Reduction::Mean;
              return torch::nll_loss_nd(v[0], tt, torch_weight(v[0]), red, ii);
            },
            ++seed);
        for (double eps : {0.0, 0.1, 0.7}) {
          both(
              "cross_entropy " + tag + (eps > 0 ? " smoothed" : ""), {{p.input, -4.0, 4.0}},
              [=](const V& v) { return cross_entropy(v[0], t, weight_for(v[0]), ii, r, eps); },
              [=](const TV& v) {
                return F::cross_entropy(v[0], tt,
                                        with_reduction(F::CrossEntropyFuncOptions(), r)
                                            .weight(torch_weight(v[0]))
                                            .ignore_index(ii)
                                            .label_smoothing(eps));
              },
              ++seed);
        }
        if (ignore_mode == 0) {  // probability targets (no ignore_index there)
          for (double eps : {0.0, 0.2})
            both(
                "cross_entropy probabilities " + tag,
                {{p.input, -4.0, 4.0}, {p.input, -2.0, 2.0, true}},
                [=](const V& v) {
                  return cross_entropy(v[0], v[1], weight_for(v[0]), -100, r, eps);
                },
                [=](const TV& v) {
                  return F::cross_entropy(v[0], v[1],
                                          with_reduction(F::CrossEntropyFuncOptions(), r)
                                              .weight(torch_weight(v[0]))
                                              .label_smoothing(eps));
                },
                ++seed);
        }
      }
  }
}

TEST_CASE("parity: extra activations on random shapes and options") {
  PrintTable print("activations vs libtorch (worst errors)");
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<int> pick(0, 99);
  for (int trial = 0; trial < 6; ++trial) {
    Shape s;
    const int rank = pick(rng) % 4;
    for (int k = 0; k < rank; ++k) s.push_back(1 + static_cast<std::size_t>(pick(rng) % 6));
    const std::uint64_t sd = 300 + 20 * trial;
    both(
        "gelu", {{s, -6.0, 6.0}}, [](const V& v) { return gelu(v[0]); },
        [](const TV& v) { return F::gelu(v[0]); }, sd);
    both(
        "gelu tanh", {{s, -6.0, 6.0}}, [](const V& v) { return gelu(v[0], "tanh"); },
        [](const TV& v) { return F::gelu(v[0], F::GELUFuncOptions().approximate("tanh")); },
        sd + 1);
    both(
        "silu", {{s, -8.0, 8.0}}, [](const V& v) { return silu(v[0]); },
        [](const TV& v) { return F::silu(v[0]); }, sd + 2);
    const double beta = trial % 2 ? 1.0 : 2.5, threshold = trial % 3 ? 20.0 : 3.0;
    both(
        "softplus", {{s, -8.0, 25.0}}, [=](const V& v) { return softplus(v[0], beta, threshold); },
        [=](const TV& v) {
          return F::softplus(v[0], F::SoftplusFuncOptions().beta(beta).threshold(threshold));
        },
        sd + 3);
    const double alpha = trial % 2 ? 1.0 : 0.3;
    both(
        "elu", {{s, -4.0, 4.0}}, [=](const V& v) { return elu(v[0], alpha); },
        [=](const TV& v) { return F::elu(v[0], F::ELUFuncOptions().alpha(alpha)); }, sd + 4);
    const double lo = trial % 2 ? -1.0 : -0.5, hi = trial % 2 ? 1.0 : 2.0;
    both(
        "hardtanh", {{s, -3.0, 3.0}}, [=](const V& v) { return hardtanh(v[0], lo, hi); },
        [=](const TV& v) {
          return F::hardtanh(v[0], F::HardtanhFuncOptions().min_val(lo).max_val(hi));
        },
        sd + 5);
    both(
        "relu6", {{s, -3.0, 9.0}}, [](const V& v) { return relu6(v[0]); },
        [](const TV& v) { return F::relu6(v[0]); }, sd + 6);
  }
  // The points where the pieces meet, exactly: 0 for elu, the ends for hardtanh/relu6,
  // the threshold for softplus.
  const Array<double> edges = {-1.0, 0.0, 1.0, 6.0, 20.0, 10.0};
  const torch::Tensor te = to_torch(edges).requires_grad_(true);
  const std::vector<std::pair<std::string, std::pair<TgFn, TorchFn>>> fns = {
      {"elu", {[](const V& v) { return elu(v[0]); }, [](const TV& v) { return F::elu(v[0]); }}},
      {"hardtanh",
       {[](const V& v) { return hardtanh(v[0]); }, [](const TV& v) { return F::hardtanh(v[0]); }}},
      {"relu6",
       {[](const V& v) { return relu6(v[0]); }, [](const TV& v) { return F::relu6(v[0]); }}},
      {"softplus",
       {[](const V& v) { return softplus(v[0], 2.0, 20.0); },
        [](const TV& v) {
          return F::softplus(v[0], F::SoftplusFuncOptions().beta(2.0).threshold(20.0));
        }}},
  };
  for (const auto& [name, f] : fns) {
    const Tensor x = Tensor::from(edges, true);
    const torch::Tensor tx = to_torch(edges).requires_grad_(true);
    Tensor y = f.first({x});
    torch::Tensor ty = f.second({tx});
    sum(y).backward();
    ty.sum().backward();
    check_close(name + " at the joins", y.cvalue<double>(), ty);
    check_close(name + " grad at the joins", x.grad().cvalue<double>(), tx.grad());
  }
}

TEST_CASE("parity: argmax on random shapes with ties and NaN") {
  std::mt19937_64 rng(4);
  std::uniform_int_distribution<int> pick(0, 99);
  int checked = 0;
  for (int trial = 0; trial < 30; ++trial) {
    Shape s;
    const int rank = 1 + pick(rng) % 3;
    for (int k = 0; k < rank; ++k) s.push_back(1 + static_cast<std::size_t>(pick(rng) % 5));
    Array<double> a = Array<double>::from_shape(s);
    for (auto& v : a) {
      v = static_cast<double>(pick(rng) % 4);  // few values: many ties
      if (trial % 3 == 0 && pick(rng) % 10 == 0) v = NAN;
    }
    const torch::Tensor ta = to_torch(a);
    const Tensor x = Tensor::from(a);
    const auto same = [&](const IndexTensor& got, const torch::Tensor& ref) {
      const torch::Tensor r = ref.contiguous();
      DOCTEST_CHECK(std::vector<std::int64_t>(got.shape().begin(), got.shape().end()) ==
                    r.sizes().vec());
      DOCTEST_CHECK(got.values() ==
                    std::vector<std::int64_t>(r.data_ptr<std::int64_t>(),
                                              r.data_ptr<std::int64_t>() + r.numel()));
      ++checked;
    };
    same(argmax(x), torch::argmax(ta));
    for (std::int64_t d = -rank; d < rank; ++d)
      for (bool keep : {false, true}) same(argmax(x, d, keep), torch::argmax(ta, d, keep));
  }
  MESSAGE("argmax: " << checked << " results identical to torch::argmax");
}

TEST_CASE("parity: dropout scaling, mask shapes and rates against libtorch's") {
  torch::manual_seed(0);
  Generator gen(0);
  for (double p : {0.1, 0.3, 0.5, 0.9}) {
    for (bool f64 : {false, true}) {
      const Dtype dt = f64 ? Dtype::Float64 : Dtype::Float32;
      const Tensor x = Tensor::ones({100, 100}, dt);
      const torch::Tensor tx = torch::ones({100, 100}, f64 ? torch::kDouble : torch::kFloat);
      const Tensor y = dropout(x, p, true, gen);
      const torch::Tensor ty = F::dropout(tx, F::DropoutFuncOptions().p(p).training(true));
      // Kept elements carry exactly libtorch's scale (computed in the tensor's dtype).
      const double scale = ty.max().item<double>();
      std::size_t zeros = 0;
      dispatch(dt, [&]<class T>() {
        for (T v : y.cvalue<T>()) {
          DOCTEST_CHECK((v == T(0) || static_cast<double>(v) == scale));
          zeros += v == T(0);
        }
      });
      const double torch_zeros = (ty == 0).sum().item<double>();
      // Both rates within 5 standard deviations of p (10,000 draws).
      const double sd = std::sqrt(1e4 * p * (1 - p));
      DOCTEST_CHECK(std::abs(static_cast<double>(zeros) - 1e4 * p) < 5 * sd);
      DOCTEST_CHECK(std::abs(torch_zeros - 1e4 * p) < 5 * sd);
    }
    // dropout2d on [N, C, H, W]: whole planes, libtorch's scale, the same rate.
    const Tensor x = Tensor::ones({50, 40, 2, 3});
    const Tensor y = dropout2d(x, p, true, gen);
    const torch::Tensor ty =
        F::dropout2d(torch::ones({50, 40, 2, 3}), F::Dropout2dFuncOptions().p(p).training(true));
    const torch::Tensor planes =
        torch::from_blob(const_cast<float*>(y.cvalue<float>().data()), {2000, 6}, torch::kFloat);
    const torch::Tensor tplanes = ty.reshape({2000, 6});
    DOCTEST_CHECK(torch::equal(planes.amin(1), planes.amax(1)));
    DOCTEST_CHECK(torch::equal(tplanes.amin(1), tplanes.amax(1)));
    DOCTEST_CHECK(planes.max().item<float>() == tplanes.max().item<float>());
    const double sd = std::sqrt(2000 * p * (1 - p));
    DOCTEST_CHECK(std::abs((planes.amax(1) == 0).sum().item<double>() - 2000 * p) < 5 * sd);
    DOCTEST_CHECK(std::abs((tplanes.amax(1) == 0).sum().item<double>() - 2000 * p) < 5 * sd);
  }
}
