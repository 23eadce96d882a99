#pragma once
// More activations as modules (torch.nn.Softmax, LogSoftmax, GELU, SiLU, Softplus,
// ELU, Hardtanh, ReLU6): thin wrappers that remember the options and call the ops of
// the same name.
#include <cstdint>
#include <string>
#include <tapegrad/layers/module.hpp>

namespace tapegrad {

/// softmax(x, dim).
class Softmax : public Module {
 public:
  explicit Softmax(std::int64_t dim) : dim_(dim) {}
  Tensor forward(const Tensor& input) override;
  std::int64_t dim() const { return dim_; }
  /// "dim=1".
  std::string extra_repr() const override;

 private:
  std::int64_t dim_;
};

/// log_softmax(x, dim).
class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(std::int64_t dim) : dim_(dim) {}
  Tensor forward(const Tensor& input) override;
  std::int64_t dim() const { return dim_; }
  /// "dim=1".
  std::string extra_repr() const override;

 private:
  std::int64_t dim_;
};

/// gelu(x, approximate) with approximate "none" or "tanh" (checked here).
class GELU : public Module {
 public:
  explicit GELU(std::string approximate = "none");
  Tensor forward(const Tensor& input) override;
  const std::string& approximate() const { return approximate_; }
  /// "approximate='none'".
  std::string extra_repr() const override;

 private:
  std::string approximate_;
};

/// x·sigmoid(x).
class SiLU : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};

/// softplus(x, beta, threshold).
class Softplus : public Module {
 public:
  explicit Softplus(double beta = 1.0, double threshold = 20.0)
      : beta_(beta), threshold_(threshold) {}
  Tensor forward(const Tensor& input) override;
  /// "beta=1, threshold=20".
  std::string extra_repr() const override;

 private:
  double beta_, threshold_;
};

/// elu(x, alpha).
class ELU : public Module {
 public:
  explicit ELU(double alpha = 1.0) : alpha_(alpha) {}
  Tensor forward(const Tensor& input) override;
  /// "alpha=1".
  std::string extra_repr() const override;

 private:
  double alpha_;
};

/// hardtanh(x, min_val, max_val).
class Hardtanh : public Module {
 public:
  explicit Hardtanh(double min_val = -1.0, double max_val = 1.0)
      : min_val_(min_val), max_val_(max_val) {}
  Tensor forward(const Tensor& input) override;
  /// "min_val=-1, max_val=1".
  std::string extra_repr() const override;

 private:
  double min_val_, max_val_;
};

/// min(max(x, 0), 6).
class ReLU6 : public Module {
 public:
  Tensor forward(const Tensor& input) override;
};

}  // namespace tapegrad
