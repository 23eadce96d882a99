// embedding and the Embedding module: rows picked by hand-made indices, gradients
// summed into repeated rows and kept out of the padding row, first and second
// derivatives against finite differences, initialisation, and bad indices.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <tapegrad/layers/embedding.hpp>
#include <tapegrad/tapegrad.hpp>
#include <vector>

using namespace tapegrad;

namespace {

using V = std::vector<Tensor>;

Tensor rnd(const Shape& s, std::uint64_t seed) {
  Generator gen(seed);
  Tensor t = Tensor::rand(s, gen, Dtype::Float64);
  return Tensor::from(Array<double>(t.cvalue<double>() * 2.0 - 1.0), true);
}

std::vector<double> values(const Tensor& t) {
  const Array<double>& a = t.cvalue<double>();
  return std::vector<double>(a.data(), a.data() + a.size());
}

template <class F>
void expect_message(F&& f, const std::string& needle) {
  try {
    f();
    FAIL("no exception; expected one containing: " << needle);
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find(needle) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("embedding: picks rows, output [*indices.shape, dim]") {
  Tensor w = Tensor::from(Array<double>{{0, 1}, {10, 11}, {20, 21}}, true);
  const IndexTensor idx(Shape{2, 2}, {2, 0, 2, 1});
  const Tensor y = embedding(w, idx);
  CHECK(y.shape() == Shape{2, 2, 2});
  CHECK(values(y) == std::vector<double>{20, 21, 0, 1, 20, 21, 10, 11});
  // The padding row is looked up like any other in the forward pass.
  CHECK(values(embedding(w, IndexTensor{1}, 1)) == std::vector<double>{10, 11});
  CHECK(embedding(w, IndexTensor(Shape{0}, {})).shape() == Shape{0, 2});
}

TEST_CASE("embedding: gradients add up in repeated rows; the padding row gets none") {
  Tensor w = Tensor::zeros({4, 3}, Dtype::Float64, true);
  const IndexTensor idx(Shape{5}, {1, 3, 1, 0, 3});
  Tensor y = embedding(w, idx, /*padding_idx=*/-1);  // row 3
  Tensor scale = Tensor::zeros({5, 1}, Dtype::Float64);
  for (std::size_t i = 0; i < 5; ++i) scale.mutable_value<double>()(i, 0) = double(i + 1);
  sum(y * scale).backward();
  CHECK(values(w.grad()) == std::vector<double>{4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0, 0});
  // embedding_backward by itself.
  const Tensor g = Tensor::ones({5, 3}, Dtype::Float64);
  CHECK(values(embedding_backward(g, idx, 4, std::nullopt)) ==
        std::vector<double>{1, 1, 1, 2, 2, 2, 0, 0, 0, 2, 2, 2});
}

TEST_CASE("embedding: gradcheck and gradgradcheck, with and without padding_idx") {
  const Tensor w = rnd({5, 3}, 1);
  const IndexTensor idx(Shape{2, 3}, {4, 0, 4, 2, 2, 1});
  for (std::optional<std::int64_t> pad :
       {std::optional<std::int64_t>{}, std::optional<std::int64_t>{2}}) {
    INFO("padding_idx " << (pad ? *pad : -99));
    // The forward reads the padding row but PyTorch gives it no gradient, so finite
    // differences agree only when the padding positions do not reach the output:
    // they are masked out (the analytic path through padding_idx still runs).
    Tensor mask = Tensor::ones({2, 3, 1}, Dtype::Float64);
    for (std::size_t i = 0; i < idx.numel(); ++i)
      if (pad && idx[i] == *pad) mask.mutable_value<double>().data()[i] = 0.0;
    auto f = [&idx, pad, mask](const V& v) {
      const Tensor e = embedding(v[0], idx, pad) * mask;
      return e * e;
    };
    const GradcheckReport first = gradcheck(f, {w});
    INFO(first.message);
    CHECK(first.passed);
    const GradcheckReport second = gradgradcheck(f, {w});
    INFO(second.message);
    CHECK(second.passed);
    CHECK(second.checked > 0);
  }
  // embedding_backward's own derivatives (it is linear in grad).
  const Tensor g = rnd({2, 3, 3}, 2);
  auto fb = [&idx](const V& v) { return embedding_backward(v[0] * v[0], idx, 5, 4); };
  CHECK(gradcheck(fb, {g}).passed);
  CHECK(gradgradcheck(fb, {g}).passed);
}

TEST_CASE("embedding: bad inputs") {
  const Tensor w = Tensor::ones({3, 2});
  expect_message([&] { embedding(w, IndexTensor{0, 3}); }, "embedding: index out of range in self");
  expect_message([&] { embedding(w, IndexTensor{-1}); }, "index out of range in self");
  expect_message([&] { embedding(Tensor::ones({3}), IndexTensor{0}); }, "'weight' must be 2-D");
  expect_message([&] { embedding(w, IndexTensor{0}, 3); },
                 "Padding_idx must be within num_embeddings");
  expect_message([&] { embedding(w, IndexTensor{0}, -4); },
                 "Padding_idx must be within num_embeddings");
  expect_message([&] { Embedding(3, 2, std::optional<std::int64_t>{5}); },
                 "Padding_idx must be within num_embeddings");
  expect_message(
      [&] {
        embedding_backward(Tensor::ones({2, 2}), IndexTensor{0, 1, 2}, 3, {});
      },
      "embedding_backward: grad of shape [2, 2] does not match indices of shape [3]");
}

TEST_CASE("embedding: the module draws N(0, 1), zeroes the padding row and keeps it zero") {
  Embedding emb(200, 50, std::optional<std::int64_t>{-2}, /*seed=*/3, Dtype::Float64);
  CHECK(emb.padding_idx() == 198);
  CHECK(emb.extra_repr() == "200, 50, padding_idx=198");
  const Array<double>& w = emb.weight.cvalue<double>();
  double s = 0, s2 = 0;
  std::size_t n = 0;
  for (std::size_t r = 0; r < 200; ++r)
    for (std::size_t k = 0; k < 50; ++k) {
      if (r == 198) {
        CHECK(w(r, k) == 0.0);
        continue;
      }
      s += w(r, k);
      s2 += w(r, k) * w(r, k);
      ++n;
    }
  const double mean = s / n, var = s2 / n - mean * mean;
  // 9950 draws: the sample mean is within 4 standard errors (4/sqrt(9950) = 0.04).
  CHECK(std::abs(mean) < 0.04);
  CHECK(std::abs(var - 1.0) < 0.06);
  CHECK(emb.parameters().size() == 1);

  Tensor y = emb(IndexTensor(Shape{3}, {198, 5, 198}));
  CHECK(y.shape() == Shape{3, 50});
  sum(y).backward();
  const Array<double>& g = emb.weight.grad().cvalue<double>();
  for (std::size_t k = 0; k < 50; ++k) {
    CHECK(g(198, k) == 0.0);
    CHECK(g(5, k) == 1.0);
  }
}
