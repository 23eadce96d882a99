// cat, stack, split, chunk, narrow, slice and embedding against libtorch 1.13:
// randomised sweeps of ranks, shapes (empty ones included), dims (negative ones
// included), piece sizes, bounds and steps; forward values and the gradient of
// sum(out * R) for a random R with respect to every input, float32 and float64.
// These ops only move numbers (embedding's gradient adds), so the expected error is 0.
#include <doctest/doctest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <tapegrad/core/index_tensor.hpp>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/core/tensor.hpp>
#include <vector>

#include "parity_helpers.hpp"

namespace tg = tapegrad;
namespace parity = tapegrad::parity;

namespace {

/// Worst relative error per (op, dtype), printed at the end of each test case.
struct Table {
  std::map<std::string, double> worst;
  void add(const std::string& key, double e) { worst[key] = std::max(worst[key], e); }
  void print(const char* title) const {
    for (const auto& [k, v] : worst)
      DOCTEST_MESSAGE(std::string(title) << " " << k << ": worst rel. err " << v);
  }
};

template <class T>
struct Pair {
  tg::Tensor ours;
  torch::Tensor theirs;
};

template <class T>
Pair<T> random_pair(std::mt19937_64& rng, const std::vector<std::int64_t>& shape) {
  std::normal_distribution<double> normal(0.0, 1.0);
  tg::Shape s(shape.begin(), shape.end());
  tg::Array<T> a = tg::Array<T>::from_shape(s);
  for (auto& x : a) x = static_cast<T>(normal(rng));
  torch::Tensor t = parity::to_torch<T>(a).requires_grad_(true);
  return {tg::Tensor::from_array(std::move(a), true), t};
}

template <class T>
double err(const tg::Tensor& ours, const torch::Tensor& theirs) {
  const parity::ErrorStats s = parity::compare(ours.cvalue<T>(), theirs);
  if (!s.same_shape) return 1e300;
  return s.ref_scale > 0 ? s.rel : s.max_abs;
}

/// Backward of sum_i sum(out_i * R_i) on both sides; compares every output and every
/// input's gradient, recording the worst under `op`.
template <class T>
void compare_outputs(Table& table, const std::string& op, std::mt19937_64& rng,
                     const std::vector<tg::Tensor>& outs, const std::vector<torch::Tensor>& touts,
                     const std::vector<Pair<T>>& inputs) {
  const std::string key = op + " " + parity::dtype_label<T>();
  DOCTEST_REQUIRE(outs.size() == touts.size());
  tg::Tensor loss;
  torch::Tensor tloss = torch::zeros({}, parity::torch_dtype<T>());
  for (std::size_t i = 0; i < outs.size(); ++i) {
    table.add(key + " forward", err<T>(outs[i], touts[i]));
    const tg::Shape out_shape = outs[i].shape();  // shape() returns a copy
    std::vector<std::int64_t> shape(out_shape.begin(), out_shape.end());
    auto r = random_pair<T>(rng, shape);
    tg::Tensor term = tg::sum(tg::mul(outs[i], r.ours.detach()));
    loss = loss.defined() ? tg::add(loss, term) : term;
    tloss = tloss + (touts[i] * r.theirs.detach()).sum();
  }
  loss.backward();
  tloss.backward();
  for (const auto& in : inputs) {
    if (!in.theirs.grad().defined()) {
      DOCTEST_CHECK(!in.ours.grad().defined());
      continue;
    }
    DOCTEST_REQUIRE(in.ours.grad().defined());
    table.add(key + " grad", err<T>(in.ours.grad(), in.theirs.grad()));
  }
}

std::vector<std::int64_t> random_shape(std::mt19937_64& rng, int rank, int max_size = 4) {
  std::uniform_int_distribution<int> d(0, max_size);
  std::vector<std::int64_t> s;
  for (int i = 0; i < rank; ++i) s.push_back(d(rng));
  return s;
}

template <class T>
void sweep(Table& table) {
  std::mt19937_64 rng(std::is_same_v<T, float> ? 11 : 12);
  std::uniform_int_distribution<int> rank_d(1, 4);
  for (int trial = 0; trial < 80; ++trial) {
    const int rank = rank_d(rng);
    std::uniform_int_distribution<int> dim_d(-rank, rank - 1);
    const int dim = dim_d(rng);
    const std::size_t wd = static_cast<std::size_t>(dim < 0 ? dim + rank : dim);
    const std::vector<std::int64_t> base = random_shape(rng, rank);

    // cat: 1-4 inputs differing at dim only.
    {
      std::uniform_int_distribution<int> n_d(1, 4), len_d(0, 4);
      std::vector<Pair<T>> ins;
      std::vector<tg::Tensor> a;
      std::vector<torch::Tensor> b;
      for (int i = 0, n = n_d(rng); i < n; ++i) {
        auto s = base;
        s[wd] = len_d(rng);
        ins.push_back(random_pair<T>(rng, s));
        a.push_back(ins.back().ours);
        b.push_back(ins.back().theirs);
      }
      compare_outputs<T>(table, "cat", rng, {tg::cat(a, dim)}, {torch::cat(b, dim)}, ins);
    }
    // stack: equal shapes, new dim in [-(rank+1), rank].
    {
      std::uniform_int_distribution<int> n_d(1, 3), sd(-rank - 1, rank);
      const int sdim = sd(rng);
      std::vector<Pair<T>> ins;
      std::vector<tg::Tensor> a;
      std::vector<torch::Tensor> b;
      for (int i = 0, n = n_d(rng); i < n; ++i) {
        ins.push_back(random_pair<T>(rng, base));
        a.push_back(ins.back().ours);
        b.push_back(ins.back().theirs);
      }
      compare_outputs<T>(table, "stack", rng, {tg::stack(a, sdim)}, {torch::stack(b, sdim)}, ins);
    }
    const std::int64_t size = base[wd];
    // split by size (0 only when the dim is empty), split by sizes, chunk.
    {
      std::uniform_int_distribution<int> ss(size == 0 ? 0 : 1, static_cast<int>(size) + 2);
      const std::int64_t split_size = ss(rng);
      auto x = random_pair<T>(rng, base);
      compare_outputs<T>(table, "split", rng, tg::split(x.ours, split_size, dim),
                         x.theirs.split(split_size, dim), {x});
    }
    {
      std::vector<std::int64_t> sizes;
      std::int64_t left = size;
      std::uniform_int_distribution<int> coin(0, 2);
      while (left > 0 || coin(rng) == 0) {
        std::uniform_int_distribution<std::int64_t> take(0, left);
        const std::int64_t t = take(rng);
        sizes.push_back(t);
        left -= t;
        if (sizes.size() > 6) {
          sizes.push_back(left);
          left = 0;
          break;
        }
      }
      if (sizes.empty()) sizes.push_back(0);
      auto x = random_pair<T>(rng, base);
      compare_outputs<T>(table, "split_with_sizes", rng, tg::split(x.ours, sizes, dim),
                         x.theirs.split_with_sizes(sizes, dim), {x});
    }
    {
      std::uniform_int_distribution<int> cd(1, 6);
      const int chunks = cd(rng);
      auto x = random_pair<T>(rng, base);
      compare_outputs<T>(table, "chunk", rng, tg::chunk(x.ours, chunks, dim),
                         x.theirs.chunk(chunks, dim), {x});
    }
    // narrow with a possibly negative start.
    {
      std::uniform_int_distribution<std::int64_t> sd(0, size);
      const std::int64_t start = sd(rng);
      std::uniform_int_distribution<std::int64_t> ld(0, size - start);
      const std::int64_t length = ld(rng);
      const std::int64_t s = (start < size && trial % 2) ? start - size : start;
      auto x = random_pair<T>(rng, base);
      compare_outputs<T>(table, "narrow", rng, {tg::narrow(x.ours, dim, s, length)},
                         {x.theirs.narrow(dim, s, length)}, {x});
    }
    // slice with bounds anywhere in [-size-2, size+2] and steps 1..3.
    {
      const int lim = static_cast<int>(size) + 2;
      std::uniform_int_distribution<int> bd(-lim, lim), st(1, 3);
      const std::int64_t start = bd(rng), end = bd(rng), step = st(rng);
      auto x = random_pair<T>(rng, base);
      compare_outputs<T>(table, "slice", rng, {tg::slice(x.ours, dim, start, end, step)},
                         {x.theirs.slice(dim, start, end, step)}, {x});
    }
  }
}

template <class T>
void embedding_sweep(Table& table) {
  std::mt19937_64 rng(std::is_same_v<T, float> ? 21 : 22);
  std::uniform_int_distribution<int> num_d(1, 9), dim_d(0, 5), rank_d(0, 3);
  for (int trial = 0; trial < 60; ++trial) {
    const int num = num_d(rng), edim = dim_d(rng);
    auto w = random_pair<T>(rng, {num, edim});
    const std::vector<std::int64_t> ishape = random_shape(rng, rank_d(rng), 4);
    std::uniform_int_distribution<std::int64_t> id(0, num - 1);
    std::vector<std::int64_t> idx;
    std::int64_t count = 1;
    for (auto d : ishape) count *= d;
    for (std::int64_t i = 0; i < count; ++i) idx.push_back(id(rng));
    const tg::IndexTensor indices(tg::Shape(ishape.begin(), ishape.end()), idx);
    torch::Tensor tidx = torch::tensor(idx, torch::kLong).reshape(ishape);
    // No padding, a padding row, and a negative padding_idx (counted from the end).
    std::optional<std::int64_t> pad;
    std::int64_t tpad = -1;
    if (trial % 3 == 1) {
      pad = id(rng);
      tpad = *pad;
    } else if (trial % 3 == 2) {
      pad = id(rng) - num;
      tpad = *pad + num;  // torch::embedding takes it normalised (F.embedding wraps it)
    }
    compare_outputs<T>(table, pad ? "embedding padding_idx" : "embedding", rng,
                       {tg::embedding(w.ours, indices, pad)},
                       {torch::embedding(w.theirs, tidx, tpad)}, {w});
  }
}

}  // namespace

TEST_CASE("parity: cat stack split chunk narrow slice vs libtorch, forward and gradients") {
  Table table;
  sweep<double>(table);
  sweep<float>(table);
  table.print("join");
  for (const auto& [k, v] : table.worst) {
    DOCTEST_CAPTURE(k);
    DOCTEST_CHECK(v == 0.0);  // pure data movement: exact
  }
}

TEST_CASE("parity: embedding with and without padding_idx vs libtorch") {
  Table table;
  embedding_sweep<double>(table);
  embedding_sweep<float>(table);
  table.print("embedding");
  for (const auto& [k, v] : table.worst) {
    DOCTEST_CAPTURE(k);
    const bool f32 = k.find("float32") != std::string::npos;
    DOCTEST_CHECK(v <= (f32 ? 1e-6 : 1e-14));  // sums of repeated rows may round differently
  }
}
