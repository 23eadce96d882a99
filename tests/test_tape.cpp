#include <doctest/doctest.h>

#include <tapegrad/tapegrad.hpp>

using namespace tapegrad;

TEST_CASE("tape: records only ops whose inputs need grad") {
  Tape tape;
  Tape::Use use(tape);
  Tensor a = Tensor::ones({2});
  Tensor b = a + a;
  CHECK(tape.node_count() == 0);
  CHECK_FALSE(b.requires_grad());
  Tensor w = Tensor::ones({2}, Dtype::Float32, true);
  Tensor c = w * a;
  CHECK(tape.node_count() == 1);
  CHECK(c.requires_grad());
  CHECK_FALSE(c.is_leaf());
}

TEST_CASE("tape: NoGradGuard stops recording and restores") {
  Tape tape;
  Tape::Use use(tape);
  Tensor w = Tensor::ones({2}, Dtype::Float32, true);
  {
    NoGradGuard guard;
    CHECK_FALSE(grad_enabled());
    Tensor y = w * 3.0;
    CHECK_FALSE(y.requires_grad());
    CHECK(tape.node_count() == 0);
  }
  CHECK(grad_enabled());
  Tensor y = w * 3.0;
  CHECK(tape.node_count() == 1);
}

TEST_CASE("tape: backward clears the tape and frees intermediates") {
  Tape tape;
  Tape::Use use(tape);
  Tensor w = Tensor::ones({4}, Dtype::Float64, true);
  const auto base = Tensor::live_nodes();
  {
    Tensor loss = sum(exp(w * 2.0) + w);
    CHECK(tape.node_count() == 4);  // mul, exp, add, sum
    CHECK(tape.bytes() > 0);
    loss.backward();
    CHECK(tape.node_count() == 0);
    CHECK(tape.bytes() == 0);
    // A second backward on the freed graph is an error, as in PyTorch.
    CHECK_THROWS_WITH_AS(loss.backward(),
                         doctest::Contains("backward through the graph a second time"),
                         std::invalid_argument);
  }
  w.zero_grad();  // the gradient is a tensor node of its own
  CHECK(Tensor::live_nodes() == base);
}

TEST_CASE("tape: retain_graph allows a second backward") {
  Tape tape;
  Tape::Use use(tape);
  Tensor w = Tensor::from(tapegrad::Array<double>{1.0, 2.0}, true);
  Tensor loss = sum(w * w);
  loss.backward(true);
  loss.backward(false);
  CHECK(w.grad().value<double>() == tapegrad::Array<double>{4.0, 8.0});
}

TEST_CASE("tape: backward errors") {
  Tape tape;
  Tape::Use use(tape);
  Tensor w = Tensor::ones({3}, Dtype::Float64, true);
  Tensor y = w * 2.0;
  CHECK_THROWS_WITH_AS(y.backward(),
                       doctest::Contains("grad can be implicitly created only for scalar outputs"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(y.backward(Tensor::ones({2}, Dtype::Float64)),
                       doctest::Contains("Mismatch in shape"), std::invalid_argument);
  Tensor c = Tensor::ones({1});
  CHECK_THROWS_WITH_AS(c.backward(), doctest::Contains("does not require grad"),
                       std::invalid_argument);
  // Explicit seed on a non-scalar works.
  y.backward(Tensor::full({3}, 0.5, Dtype::Float64));
  CHECK(w.grad().value<double>() == tapegrad::Array<double>{1.0, 1.0, 1.0});
}

TEST_CASE("tape: retain_grad keeps an intermediate's gradient") {
  Tape tape;
  Tape::Use use(tape);
  Tensor w = Tensor::from(tapegrad::Array<double>{1.0, 2.0}, true);
  Tensor h = w * 3.0;
  h.retain_grad();
  Tensor z = w * 4.0;
  sum(h * h + z).backward();
  REQUIRE(h.has_grad());
  CHECK(h.grad().value<double>() == tapegrad::Array<double>{6.0, 12.0});
  CHECK_FALSE(z.has_grad());
}

TEST_CASE("tape: an explicit seed is read, never modified, by backward") {
  // backward(seed) shares the seed's storage as the root's gradient instead of copying
  // it; no gradient accumulation may then write into it.
  Tape tape;
  Tape::Use use(tape);
  const tapegrad::Array<double> seed_values{0.5, -1.0, 2.0};
  Tensor seed = Tensor::from(tapegrad::Array<double>(seed_values));
  Tensor w = Tensor::from(tapegrad::Array<double>{1.0, 2.0, 3.0}, true);
  Tensor y = w * w;  // non-leaf root
  y.backward(seed, true);
  y.backward(seed, false);  // accumulates into w's gradient: 2 · (2w · seed)
  CHECK(seed.value<double>() == seed_values);
  CHECK(w.grad().value<double>() == tapegrad::Array<double>{2.0, -8.0, 24.0});
  // A root that keeps its gradient gets its own copy, which later backwards add to.
  Tensor r = w * 1.0;
  r.retain_grad();
  r.backward(seed, true);
  r.backward(seed, false);
  CHECK(seed.value<double>() == seed_values);
  CHECK(r.grad().value<double>() == 2.0 * seed_values);
  // A leaf root: its gradient is a copy too.
  Tensor leaf = Tensor::from(tapegrad::Array<double>{1.0, 1.0, 1.0}, true);
  leaf.backward(seed);
  leaf.backward(seed);
  CHECK(seed.value<double>() == seed_values);
  CHECK(leaf.grad().value<double>() == 2.0 * seed_values);
}

TEST_CASE("tape: the thread-local current tape is used by default") {
  Tape& t = Tape::current();
  t.clear();
  Tensor w = Tensor::ones({2}, Dtype::Float64, true);
  Tensor y = sum(w * w);
  CHECK(t.node_count() == 2);
  y.backward();
  CHECK(t.node_count() == 0);
}

TEST_CASE("tape: 1000 training steps leave node count and bytes at their baseline") {
  Tape tape;
  Tape::Use use(tape);
  Generator gen(1);
  Tensor w1 = Tensor::randn({8, 4}, gen, Dtype::Float32, true);
  Tensor b1 = Tensor::zeros({4}, Dtype::Float32, true);
  Tensor w2 = Tensor::randn({4, 1}, gen, Dtype::Float32, true);
  Tensor x = Tensor::randn({16, 8}, gen);
  Tensor target = Tensor::randn({16, 1}, gen);
  const auto live_before = Tensor::live_nodes();
  const auto count_before = tape.node_count();
  const auto bytes_before = tape.bytes();
  double first_loss = 0, last_loss = 0;
  bool stable = true;
  std::size_t peak_nodes = 0, peak_bytes = 0;
  for (int step = 0; step < 1000; ++step) {
    {
      Tensor loss = mse_loss(matmul(tanh(matmul(x, w1) + b1), w2), target);
      if (step == 0) first_loss = loss.item();
      last_loss = loss.item();
      if (step == 0) {
        peak_nodes = tape.node_count();
        peak_bytes = tape.bytes();
      }
      // The graph of every step is the same size: nothing leaks from one step into the next.
      stable = stable && tape.node_count() == peak_nodes && tape.bytes() == peak_bytes;
      loss.backward();
      for (Tensor* p : {&w1, &b1, &w2}) {
        p->value<float>() -= 0.05f * p->grad().value<float>();
        p->zero_grad();
      }
    }
    stable = stable && tape.node_count() == count_before && tape.bytes() == bytes_before &&
             Tensor::live_nodes() == live_before;
  }
  CHECK(peak_nodes == 5);  // matmul, add, tanh, matmul, mse_loss
  MESSAGE("per step: " << peak_nodes << " tape nodes, " << peak_bytes << " bytes before backward; "
                       << "tape nodes before/after: " << count_before << "/" << tape.node_count()
                       << ", bytes " << bytes_before << "/" << tape.bytes() << ", live nodes "
                       << live_before << "/" << Tensor::live_nodes());
  CHECK(stable);
  CHECK(last_loss < first_loss);
}
