#pragma once
// Elementwise activations as modules, so they can sit in a Sequential. Each is a
// thin wrapper over the op of the same name in core/ops.hpp.
#include <string>
#include <tapegrad/layers/module.hpp>

namespace tapegrad {

/// max(x, 0).
class ReLU : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};

/// x if x > 0 else negative_slope·x.
class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope_(negative_slope) {}
  Tensor forward(const Tensor& input) override;
  double negative_slope() const { return negative_slope_; }
  /// "negative_slope=0.01".
  std::string extra_repr() const override;

 private:
  double negative_slope_;
};

/// 1 / (1 + e^-x).
class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};

/// tanh(x).
class Tanh : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};

namespace detail {
/// Shortest decimal text that reads back as `v` ("0.01", "0.2", "1e-05"), for reprs.
std::string format_double(double v);
}  // namespace detail

}  // namespace tapegrad
