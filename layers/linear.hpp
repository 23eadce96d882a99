#pragma once
// Linear: y = x Wᵀ + b, as torch.nn.Linear, with PyTorch's default initialisation
// so a model built here starts from the same distribution as one built in PyTorch.
#include <cstddef>
#include <cstdint>
#include <string>
#include <tapegrad/layers/module.hpp>

namespace tapegrad {

/// Affine map over the last dimension: input [..., in_features] -> [..., out_features].
/// Parameters: weight [out_features, in_features], bias [out_features] (if bias).
class Linear : public Module {
 public:
  /// Initialised as torch.nn.Linear.reset_parameters, drawing from `gen`.
  Linear(std::size_t in_features, std::size_t out_features, Generator& gen, bool bias = true,
         Dtype dtype = Dtype::Float32);
  /// As above with a private Generator(seed). Handy for one layer; for a model, share
  /// one Generator so that layers of equal shape do not start identical.
  explicit Linear(std::size_t in_features, std::size_t out_features, bool bias = true,
                  std::uint64_t seed = 0, Dtype dtype = Dtype::Float32);
  /// Linear(in, out, 7) would silently mean bias=true, seed=0: refused at compile
  /// time. Write Linear(in, out, /*bias=*/true, /*seed=*/7).
  Linear(std::size_t in_features, std::size_t out_features, int) = delete;

  /// weight ~ kaiming_uniform(a=√5), i.e. U(±1/√in_features); bias ~ U(±1/√in_features).
  void reset_parameters(Generator& gen);

  /// x Wᵀ + b. Throws std::invalid_argument naming both shapes unless x's last
  /// dimension is in_features.
  Tensor forward(const Tensor& input) override;

  std::size_t in_features() const { return in_features_; }
  std::size_t out_features() const { return out_features_; }
  /// "in_features=4, out_features=2, bias=true".
  std::string extra_repr() const override;

  /// [out_features, in_features].
  Tensor weight;
  /// [out_features], or undefined without bias.
  Tensor bias;

 private:
  std::size_t in_features_;
  std::size_t out_features_;
};

}  // namespace tapegrad
