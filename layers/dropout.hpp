#pragma once
// Dropout layers (torch.nn.Dropout, Dropout2d): random in train(), the identity in
// eval(). Each draws from a Generator: its own, seeded at construction, or one shared
// with other layers (so one seed reproduces a whole model's masks).
#include <cstdint>
#include <memory>
#include <string>
#include <tapegrad/core/generator.hpp>
#include <tapegrad/layers/module.hpp>

namespace tapegrad {

namespace detail {

/// What Dropout and Dropout2d share: the probability, its check, the generator and the
/// printout (PyTorch's _DropoutNd).
class DropoutBase : public Module {
 public:
  double p() const { return p_; }
  Generator& generator() { return *generator_; }
  /// "p=0.5".
  std::string extra_repr() const override;

 protected:
  /// p outside [0, 1] and a null generator are refused, naming `layer`.
  DropoutBase(const char* layer, double p, std::shared_ptr<Generator> generator);

  double p_;
  std::shared_ptr<Generator> generator_;
};

}  // namespace detail

/// dropout(x, p) while training; the input in eval mode.
class Dropout : public detail::DropoutBase {
 public:
  /// Owns a generator seeded with `seed`. p outside [0, 1] is refused.
  explicit Dropout(double p = 0.5, std::uint64_t seed = 0);
  /// Draws from `generator`, shared with its other users.
  Dropout(double p, std::shared_ptr<Generator> generator);
  Tensor forward(const Tensor& input) override;
};

/// dropout2d(x, p) (whole channels) while training; the input in eval mode.
class Dropout2d : public detail::DropoutBase {
 public:
  /// Owns a generator seeded with `seed`. p outside [0, 1] is refused.
  explicit Dropout2d(double p = 0.5, std::uint64_t seed = 0);
  /// Draws from `generator`, shared with its other users.
  Dropout2d(double p, std::shared_ptr<Generator> generator);
  Tensor forward(const Tensor& input) override;
};

}  // namespace tapegrad
