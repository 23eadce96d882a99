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

/// dropout(x, p) while training; the input in eval mode.
class Dropout : public Module {
 public:
  /// Owns a generator seeded with `seed`. p outside [0, 1] is refused.
  explicit Dropout(double p = 0.5, std::uint64_t seed = 0);
  /// Draws from `generator`, shared with its other users.
  Dropout(double p, std::shared_ptr<Generator> generator);
  Tensor forward(const Tensor& input) override;
  double p() const { return p_; }
  Generator& generator() { return *generator_; }
  /// "p=0.5".
  std::string extra_repr() const override;

 private:
  double p_;
  std::shared_ptr<Generator> generator_;
};

/// dropout2d(x, p) (whole channels) while training; the input in eval mode.
class Dropout2d : public Module {
 public:
  /// Owns a generator seeded with `seed`. p outside [0, 1] is refused.
  explicit Dropout2d(double p = 0.5, std::uint64_t seed = 0);
  /// Draws from `generator`, shared with its other users.
  Dropout2d(double p, std::shared_ptr<Generator> generator);
  Tensor forward(const Tensor& input) override;
  double p() const { return p_; }
  Generator& generator() { return *generator_; }
  /// "p=0.5".
  std::string extra_repr() const override;

 private:
  double p_;
  std::shared_ptr<Generator> generator_;
};

}  // namespace tapegrad
