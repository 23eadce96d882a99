#pragma once
// BatchNorm1d and BatchNorm2d, as torch.nn's: per-channel normalisation with batch
// statistics in training and running statistics in evaluation (Module::train/eval).
#include <cstddef>
#include <optional>
#include <string>
#include <tapegrad/layers/module.hpp>

namespace tapegrad {

/// What BatchNorm1d and BatchNorm2d share (PyTorch's _BatchNorm). Parameters weight
/// (ones) and bias (zeros) when affine; buffers running_mean (zeros), running_var
/// (ones) and num_batches_tracked when track_running_stats, under PyTorch's
/// state_dict names. num_batches_tracked is int64 in PyTorch; here it is a 0-d float64
/// buffer registered with keep_dtype, so Module::to(Float32) leaves it exact (integers
/// up to 2^53), and an int64 counter from a NumPy checkpoint loads as float64.
class BatchNorm : public Module {
 public:
  /// momentum nullopt: the running statistics are cumulative averages
  /// (factor 1/num_batches_tracked), PyTorch's momentum=None.
  BatchNorm(std::size_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
            bool affine = true, bool track_running_stats = true, Dtype dtype = Dtype::Float32);

  /// Normalises [N, C, *] (the subclass checks the rank): in training with the batch's
  /// statistics, updating the running ones and num_batches_tracked; in evaluation with
  /// the running statistics (batch statistics when track_running_stats is false).
  Tensor forward(const Tensor& input) override;

  /// Running statistics back to zeros / ones and num_batches_tracked to 0.
  void reset_running_stats();

  std::size_t num_features() const { return num_features_; }
  double eps() const { return eps_; }
  std::optional<double> momentum() const { return momentum_; }
  bool affine() const { return affine_; }
  bool track_running_stats() const { return track_running_stats_; }
  /// "3, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true".
  std::string extra_repr() const override;

  /// [C] each, undefined when not affine.
  Tensor weight, bias;
  /// [C] each and a 0-d float64 counter, undefined without track_running_stats.
  Tensor running_mean, running_var, num_batches_tracked;

 protected:
  /// Throws std::invalid_argument unless the input's rank suits the layer.
  virtual void check_input_dim(const Tensor& input) const = 0;

 private:
  std::size_t num_features_;
  double eps_;
  std::optional<double> momentum_;
  bool affine_, track_running_stats_;
};

/// Batch norm over [N, C] or [N, C, L]: statistics per channel over N (and L).
class BatchNorm1d : public BatchNorm {
 public:
  using BatchNorm::BatchNorm;

 protected:
  void check_input_dim(const Tensor& input) const override;
};

/// Batch norm over [N, C, H, W]: statistics per channel over N, H and W.
class BatchNorm2d : public BatchNorm {
 public:
  using BatchNorm::BatchNorm;

 protected:
  void check_input_dim(const Tensor& input) const override;
};

}  // namespace tapegrad
