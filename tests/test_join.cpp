// cat, stack, split, chunk, narrow, slice: values worked out by hand on arange
// tensors, PyTorch's sizing rules (chunk, split, slice clamping), first and second
// derivatives against finite differences, and PyTorch's error messages.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
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

/// 0, 1, 2, ... in `shape` (float64).
Tensor iota(const Shape& s) {
  Tensor t = Tensor::zeros(s, Dtype::Float64);
  Array<double>& a = t.mutable_value<double>();
  for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = static_cast<double>(i);
  return t;
}

std::vector<double> values(const Tensor& t) {
  const Array<double>& a = t.cvalue<double>();
  return std::vector<double>(a.data(), a.data() + a.size());
}

void check_both(const std::string& what, const TensorFunction& f, const V& in) {
  INFO(what);
  const GradcheckReport first = gradcheck(f, in);
  INFO(first.message);
  CHECK(first.passed);
  CHECK(first.checked > 0);
  const GradcheckReport second = gradgradcheck(f, in);
  INFO(second.message);
  CHECK(second.passed);
  CHECK(second.checked > 0);
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

TEST_CASE("join: cat along each dim places the inputs in order") {
  const Tensor a = iota({2, 2}), b = iota({2, 1}) + 10.0;
  CHECK(cat({a, b}, 1).shape() == Shape{2, 3});
  CHECK(values(cat({a, b}, 1)) == std::vector<double>{0, 1, 10, 2, 3, 11});
  CHECK(values(cat({a, b}, -1)) == std::vector<double>{0, 1, 10, 2, 3, 11});
  const Tensor c = iota({1, 2}) + 20.0;
  CHECK(values(cat({a, c}, 0)) == std::vector<double>{0, 1, 2, 3, 20, 21});
  // A 1-D [0] tensor joins anything (PyTorch's legacy rule); empty pieces are fine.
  CHECK(cat({a, Tensor::zeros({0}, Dtype::Float64)}, 1).shape() == Shape{2, 2});
  CHECK(cat({a, Tensor::zeros({2, 0}, Dtype::Float64)}, 1).shape() == Shape{2, 2});
}

TEST_CASE("join: stack inserts a new dim") {
  const Tensor a = iota({2, 3}), b = iota({2, 3}) + 6.0;
  CHECK(stack({a, b}, 0).shape() == Shape{2, 2, 3});
  CHECK(stack({a, b}, 2).shape() == Shape{2, 3, 2});
  CHECK(stack({a, b}, -1).shape() == Shape{2, 3, 2});
  CHECK(values(stack({a, b}, 2)) == std::vector<double>{0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11});
}

TEST_CASE("join: split and chunk follow PyTorch's sizing rules") {
  auto sizes = [](const std::vector<Tensor>& parts, std::size_t dim) {
    std::vector<std::size_t> s;
    for (const auto& p : parts) s.push_back(p.shape()[dim]);
    return s;
  };
  const Tensor a = iota({5, 2});
  CHECK(sizes(split(a, 2), 0) == std::vector<std::size_t>{2, 2, 1});
  CHECK(sizes(split(a, 5), 0) == std::vector<std::size_t>{5});
  CHECK(sizes(split(a, 7), 0) == std::vector<std::size_t>{5});
  CHECK(sizes(split(a, std::vector<std::int64_t>{1, 0, 4}), 0) ==
        std::vector<std::size_t>{1, 0, 4});
  CHECK(values(split(a, 2)[2]) == std::vector<double>{8, 9});
  CHECK(sizes(split(a, 1, 1), 1) == std::vector<std::size_t>{1, 1});
  // chunk: ceil(size/chunks) each, so fewer chunks than asked can come back.
  CHECK(sizes(chunk(a, 3), 0) == std::vector<std::size_t>{2, 2, 1});
  CHECK(sizes(chunk(iota({6}), 4), 0) == std::vector<std::size_t>{2, 2, 2});
  CHECK(sizes(chunk(iota({6}), 6), 0) == std::vector<std::size_t>{1, 1, 1, 1, 1, 1});
  CHECK(sizes(chunk(iota({2}), 5), 0) == std::vector<std::size_t>{1, 1});
  // An empty dim keeps the number of chunks; split(0) of an empty dim gives one piece.
  CHECK(sizes(chunk(iota({0, 3}), 3), 0) == std::vector<std::size_t>{0, 0, 0});
  CHECK(sizes(split(iota({0, 3}), 0), 0) == std::vector<std::size_t>{0});
}

TEST_CASE("join: narrow and slice pick PyTorch's ranges") {
  const Tensor a = iota({6});
  CHECK(values(narrow(a, 0, 2, 3)) == std::vector<double>{2, 3, 4});
  CHECK(values(narrow(a, 0, -2, 2)) == std::vector<double>{4, 5});
  CHECK(narrow(a, 0, 6, 0).shape() == Shape{0});
  CHECK(values(slice(a, 0, 1, 6, 2)) == std::vector<double>{1, 3, 5});
  CHECK(values(slice(a, 0, -3)) == std::vector<double>{3, 4, 5});
  CHECK(values(slice(a, 0, std::nullopt, -4)) == std::vector<double>{0, 1});
  CHECK(values(slice(a, 0, -100, 100, 4)) == std::vector<double>{0, 4});
  CHECK(slice(a, 0, 4, 2).shape() == Shape{0});
  const Tensor m = iota({2, 5});
  CHECK(values(slice(m, 1, 1, std::nullopt, 3)) == std::vector<double>{1, 4, 6, 9});
  CHECK(values(narrow(m, 1, 3, 2)) == std::vector<double>{3, 4, 8, 9});
}

TEST_CASE("join: slice_backward pads with zeros, and its gradient is the slice") {
  const Tensor g = iota({2, 2}) + 1.0;
  const Tensor z = slice_backward(g, {2, 5}, 1, 1, 5, 3);
  CHECK(values(z) == std::vector<double>{0, 1, 0, 0, 2, 0, 3, 0, 0, 4});
  CHECK(values(narrow_backward(g, {4, 2}, 0, 1)) == std::vector<double>{0, 0, 1, 2, 3, 4, 0, 0});
}

TEST_CASE("join: gradcheck and gradgradcheck of every op") {
  const Tensor a = rnd({2, 3}, 1), b = rnd({2, 2}, 2), c = rnd({2, 3}, 3);
  check_both("cat dim 1", [](const V& v) { return cat({v[0] * v[0], v[1] * v[1]}, 1); }, {a, b});
  check_both("cat dim 0 same input twice",
             [](const V& v) {
               return cat({v[0] * v[0], v[0], v[1] * v[0]}, 0);
             },
             {a, c});
  check_both("stack dim 1", [](const V& v) { return stack({v[0] * v[1], v[1]}, 1); }, {a, c});
  check_both("split sizes",
             [](const V& v) {
               auto p = split(v[0] * v[0], std::vector<std::int64_t>{1, 2}, 1);
               return p[0] * sum(p[1]);
             },
             {a});
  check_both("split size",
             [](const V& v) {
               auto p = split(v[0] * v[0], 2, 1);
               return cat({p[1], p[0]}, 1);
             },
             {a});
  check_both("chunk",
             [](const V& v) {
               auto p = chunk(v[0] * v[0], 2, 0);
               return p[0] * p[1];
             },
             {a});
  check_both("narrow", [](const V& v) { return narrow(v[0] * v[0], 1, -2, 2); }, {a});
  check_both("slice step 2", [](const V& v) { return slice(v[0] * v[0], 1, 0, 3, 2); }, {a});
  check_both("slice_backward",
             [](const V& v) {
               return slice_backward(v[0] * v[0], {2, 7}, 1, 1, 7, 2);
             },
             {a});
}

TEST_CASE("join: bad inputs throw PyTorch's messages") {
  const Tensor a = Tensor::ones({2, 2}), b = Tensor::ones({3, 2});
  expect_message(
      [&] {
        cat({a, b}, 1);
      },
      "cat: Sizes of tensors must match except in dimension 1. Expected size 2 but "
      "got size 3 for tensor number 1 in the list.");
  expect_message([&] { cat({}, 0); }, "cat: torch.cat(): expected a non-empty list of Tensors");
  expect_message(
      [&] {
        cat({a, Tensor::ones({2})}, 0);
      },
      "Tensors must have same number of dimensions: got 2 and 1");
  expect_message([&] { cat({Tensor::scalar(1.0)}, 0); },
                 "zero-dimensional tensor (at position 0) cannot be concatenated");
  expect_message([&] { cat({a, a}, 2); }, "dimension out of range");
  expect_message(
      [&] {
        cat({a, Tensor::ones({2, 2}, Dtype::Float64)}, 0);
      },
      "expected all tensors to have dtype");
  expect_message([&] { stack({}, 0); }, "stack: stack expects a non-empty TensorList");
  expect_message(
      [&] {
        stack({a, b}, 0);
      },
      "stack expects each tensor to be equal size, but got [2, 2] at entry 0 and [3, "
      "2] at entry 1");
  expect_message([&] { stack({a, a}, 3); }, "dimension out of range");
  const Tensor six = Tensor::ones({6});
  expect_message([&] { narrow(six, 0, 5, 2); },
                 "narrow: start (5) + length (2) exceeds dimension size (6).");
  expect_message([&] { narrow(six, 0, 0, -1); }, "narrow(): length must be non-negative.");
  expect_message([&] { narrow(six, 0, 7, 0); }, "start out of range");
  expect_message([&] { narrow(Tensor::scalar(1.0), 0, 0, 1); },
                 "narrow() cannot be applied to a 0-dim tensor.");
  expect_message([&] { chunk(six, 0); }, "chunk expects `chunks` to be greater than 0, got: 0");
  expect_message([&] { chunk(Tensor::scalar(1.0), 2); },
                 "chunk expects at least a 1-dimensional tensor");
  expect_message([&] { split(six, -1); },
                 "split expects split_size be non-negative, but got split_size=-1");
  expect_message([&] { split(six, 0); },
                 "split_size can only be 0 if dimension size is 0, but got dimension size of 6");
  expect_message(
      [&] {
        split(six, std::vector<std::int64_t>{2, 3});
      },
      "split_with_sizes expects split_sizes to sum exactly to 6 (input tensor's size "
      "at dimension 0), but got split_sizes=[2, 3]");
  expect_message(
      [&] {
        split(six, std::vector<std::int64_t>{7, -1});
      },
      "split_with_sizes expects split_sizes have only non-negative entries");
  expect_message([&] { slice(six, 0, 0, 6, 0); }, "slice: slice step must be positive");
  expect_message([&] { slice(six, 1, 0, 6, 1); }, "dimension out of range");
  expect_message([&] { slice_backward(Tensor::ones({2}), {6}, 0, 0, 6, 2); },
                 "slice_backward: grad of shape [2] does not match the slice's shape [3]");
}
