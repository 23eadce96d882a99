#include <doctest/doctest.h>

#include <tapegrad/tapegrad.hpp>

using namespace tapegrad;

TEST_CASE("tensor: creation and shape queries") {
  Tensor z = Tensor::zeros({2, 3});
  CHECK(z.dtype() == Dtype::Float32);
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.dim() == 2);
  CHECK(z.numel() == 6);
  CHECK(z.size(-1) == 3);
  CHECK_THROWS_WITH_AS(z.size(2), doctest::Contains("dimension out of range"),
                       std::invalid_argument);
  Tensor o = Tensor::ones({4}, Dtype::Float64);
  CHECK(o.value<double>()(3) == 1.0);
  Tensor f = Tensor::full({2, 2}, 2.5, Dtype::Float64);
  CHECK(f.value<double>()(1, 1) == 2.5);
  Tensor a = Tensor::arange(0, 5, 2, Dtype::Float64);
  CHECK(a.shape() == Shape{3});
  CHECK(a.value<double>()(2) == 4.0);
  Tensor x = Tensor::from(tapegrad::Array<double>{{1.0, 2.0}, {3.0, 4.0}});
  CHECK(x.dtype() == Dtype::Float64);
  CHECK(x.value<double>()(1, 0) == 3.0);
  CHECK(Tensor::scalar(7.0).item() == 7.0);
  CHECK(Tensor::scalar(7.0).dim() == 0);
}

TEST_CASE("tensor: seeded rand and randn reproduce") {
  Generator g1(42), g2(42), g3(43);
  Tensor a = Tensor::randn({100}, g1, Dtype::Float64);
  Tensor b = Tensor::randn({100}, g2, Dtype::Float64);
  Tensor c = Tensor::randn({100}, g3, Dtype::Float64);
  CHECK(a.value<double>() == b.value<double>());
  CHECK(a.value<double>() != c.value<double>());
  Tensor u = Tensor::rand({1000}, g1);
  for (float v : u.value<float>()) CHECK((v >= 0.f && v < 1.f));
}

TEST_CASE("tensor: item of a multi-element tensor is an error") {
  Tensor t = Tensor::zeros({2, 2});
  CHECK_THROWS_WITH_AS(t.item(),
                       doctest::Contains("a Tensor with 4 elements cannot be converted to Scalar"),
                       std::invalid_argument);
}

TEST_CASE("tensor: value with the wrong dtype is an error") {
  Tensor t = Tensor::zeros({2}, Dtype::Float32);
  CHECK_THROWS_WITH_AS(t.value<double>(),
                       doctest::Contains("expected a tensor of dtype float64, but got float32"),
                       std::invalid_argument);
}

TEST_CASE("tensor: detach shares the value, clone does not") {
  Tensor x = Tensor::ones({3}, Dtype::Float64, true);
  Tensor d = x.detach();
  Tensor c = x.clone_detached();
  CHECK_FALSE(d.requires_grad());
  x.value<double>()(0) = 5.0;
  CHECK(d.value<double>()(0) == 5.0);
  CHECK(c.value<double>()(0) == 1.0);
}

TEST_CASE("tensor: grad, zero_grad and accumulation of an input used twice") {
  Tensor x = Tensor::from(tapegrad::Array<double>{1.0, 2.0, 3.0}, true);
  Tensor y = sum(x * x + x);  // dy/dx = 2x + 1
  y.backward();
  REQUIRE(x.has_grad());
  CHECK(x.grad().value<double>() == tapegrad::Array<double>{3.0, 5.0, 7.0});
  // Gradients accumulate across backward calls until zero_grad.
  sum(x * 2.0).backward();
  CHECK(x.grad().value<double>() == tapegrad::Array<double>{5.0, 7.0, 9.0});
  x.zero_grad();
  CHECK_FALSE(x.has_grad());
}

TEST_CASE("tensor: mixing float and double is an error naming the op") {
  Tensor a = Tensor::ones({2}, Dtype::Float32);
  Tensor b = Tensor::ones({2}, Dtype::Float64);
  CHECK_THROWS_WITH_AS(
      add(a, b),
      doctest::Contains(
          "add: expected both operands to have the same dtype, but got float32 and float64"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(matmul(a, b),
                       doctest::Contains("matmul: expected both operands to have the same dtype"),
                       std::invalid_argument);
}
