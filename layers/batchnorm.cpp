#include <sstream>
#include <stdexcept>
#include <tapegrad/core/ops/normalization.hpp>
#include <tapegrad/layers/batchnorm.hpp>

namespace tapegrad {

BatchNorm::BatchNorm(std::size_t num_features, double eps, std::optional<double> momentum,
                     bool affine, bool track_running_stats, Dtype dtype)
    : num_features_(num_features),
      eps_(eps),
      momentum_(momentum),
      affine_(affine),
      track_running_stats_(track_running_stats) {
  if (affine) {
    weight = register_parameter("weight", Tensor::ones({num_features}, dtype));
    bias = register_parameter("bias", Tensor::zeros({num_features}, dtype));
  }
  if (track_running_stats) {
    running_mean = register_buffer("running_mean", Tensor::zeros({num_features}, dtype));
    running_var = register_buffer("running_var", Tensor::ones({num_features}, dtype));
    num_batches_tracked = register_buffer("num_batches_tracked",
                                          Tensor::scalar(0.0, Dtype::Float64), /*keep_dtype=*/true);
  }
}

void BatchNorm::reset_running_stats() {
  if (!track_running_stats_) return;
  dispatch(running_mean.dtype(), [&]<class T>() {
    running_mean.mutable_value<T>().fill(T(0));
    running_var.mutable_value<T>().fill(T(1));
  });
  num_batches_tracked.mutable_value<double>().fill(0.0);
}

Tensor BatchNorm::forward(const Tensor& input) {
  check_defined(name().c_str(), input);
  check_input_dim(input);
  // PyTorch's _BatchNorm.forward: count the batch, pick the averaging factor, use batch
  // statistics in training or when there are no running ones.
  double factor = momentum_.value_or(0.0);
  if (is_training() && track_running_stats_) {
    double& n = num_batches_tracked.mutable_value<double>()();
    n += 1.0;
    factor = momentum_ ? *momentum_ : 1.0 / n;
  }
  const bool use_batch = is_training() || !track_running_stats_;
  const bool pass_running = !is_training() || track_running_stats_;
  return batch_norm(input, pass_running ? running_mean : Tensor(),
                    pass_running ? running_var : Tensor(), weight, bias, use_batch, factor, eps_);
}

std::string BatchNorm::extra_repr() const {
  std::ostringstream os;
  os << num_features_ << ", eps=" << eps_ << ", momentum=";
  if (momentum_)
    os << *momentum_;
  else
    os << "None";
  os << ", affine=" << (affine_ ? "true" : "false")
     << ", track_running_stats=" << (track_running_stats_ ? "true" : "false");
  return os.str();
}

void BatchNorm1d::check_input_dim(const Tensor& input) const {
  if (input.dim() != 2 && input.dim() != 3)
    throw std::invalid_argument("BatchNorm1d: expected 2D or 3D input (got " +
                                std::to_string(input.dim()) + "D input)");
}

void BatchNorm2d::check_input_dim(const Tensor& input) const {
  if (input.dim() != 4)
    throw std::invalid_argument("BatchNorm2d: expected 4D input (got " +
                                std::to_string(input.dim()) + "D input)");
}

}  // namespace tapegrad
