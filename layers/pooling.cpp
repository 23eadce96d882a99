#include <stdexcept>
#include <tapegrad/core/ops/pooling.hpp>
#include <tapegrad/layers/pooling.hpp>

namespace tapegrad {

namespace {

// Python's repr of an int or a tuple, as the option was given.
std::string int_or_tuple(const std::vector<std::int64_t>& v) {
  return v.size() == 1 ? std::to_string(v[0]) : tuple_str(v);
}
std::string as_pair(const std::vector<std::int64_t>& v) {
  return v.size() == 1 ? tuple_str({v[0], v[0]}) : tuple_str(v);
}
const char* py_bool(bool b) { return b ? "True" : "False"; }

std::string optional_size(const std::vector<std::optional<std::int64_t>>& v) {
  auto one = [](const std::optional<std::int64_t>& x) {
    return x ? std::to_string(*x) : std::string("None");
  };
  if (v.size() == 1) return one(v[0]);
  std::string s = "(";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + one(v[i]);
  return s + ")";
}

// Expands one output size to both axes; the op checks the rest.
std::vector<std::optional<std::int64_t>> pair_of(
    const std::vector<std::optional<std::int64_t>>& v) {
  return v.size() == 1 ? std::vector<std::optional<std::int64_t>>{v[0], v[0]} : v;
}

}  // namespace

MaxPool2d::MaxPool2d(std::vector<std::int64_t> kernel_size, std::vector<std::int64_t> stride,
                     std::vector<std::int64_t> padding, std::vector<std::int64_t> dilation,
                     bool return_indices, bool ceil_mode)
    : kernel_size_(std::move(kernel_size)),
      stride_(stride.empty() ? kernel_size_ : std::move(stride)),
      padding_(std::move(padding)),
      dilation_(std::move(dilation)),
      return_indices_(return_indices),
      ceil_mode_(ceil_mode) {}

Tensor MaxPool2d::forward(const Tensor& input) {
  return max_pool2d(input, kernel_size_, stride_, padding_, dilation_, ceil_mode_);
}

std::pair<Tensor, IndexTensor> MaxPool2d::forward_with_indices(const Tensor& input) {
  return max_pool2d_with_indices(input, kernel_size_, stride_, padding_, dilation_, ceil_mode_);
}

std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + int_or_tuple(kernel_size_) + ", stride=" + int_or_tuple(stride_) +
         ", padding=" + int_or_tuple(padding_) + ", dilation=" + int_or_tuple(dilation_) +
         ", ceil_mode=" + py_bool(ceil_mode_);
}

MaxUnpool2d::MaxUnpool2d(std::vector<std::int64_t> kernel_size, std::vector<std::int64_t> stride,
                         std::vector<std::int64_t> padding)
    : kernel_size_(std::move(kernel_size)),
      stride_(stride.empty() ? kernel_size_ : std::move(stride)),
      padding_(std::move(padding)) {}

Tensor MaxUnpool2d::forward(const Tensor& input, const IndexTensor& indices,
                            const std::optional<std::vector<std::int64_t>>& output_size) {
  return max_unpool2d(input, indices, kernel_size_, stride_, padding_, output_size);
}

std::string MaxUnpool2d::extra_repr() const {
  return "kernel_size=" + as_pair(kernel_size_) + ", stride=" + as_pair(stride_) +
         ", padding=" + as_pair(padding_);
}

AvgPool2d::AvgPool2d(std::vector<std::int64_t> kernel_size, std::vector<std::int64_t> stride,
                     std::vector<std::int64_t> padding, bool ceil_mode, bool count_include_pad,
                     std::optional<std::int64_t> divisor_override)
    : kernel_size_(std::move(kernel_size)),
      stride_(stride.empty() ? kernel_size_ : std::move(stride)),
      padding_(std::move(padding)),
      ceil_mode_(ceil_mode),
      count_include_pad_(count_include_pad),
      divisor_override_(divisor_override) {}

Tensor AvgPool2d::forward(const Tensor& input) {
  return avg_pool2d(input, kernel_size_, stride_, padding_, ceil_mode_, count_include_pad_,
                    divisor_override_);
}

std::string AvgPool2d::extra_repr() const {
  return "kernel_size=" + int_or_tuple(kernel_size_) + ", stride=" + int_or_tuple(stride_) +
         ", padding=" + int_or_tuple(padding_);
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(std::vector<std::optional<std::int64_t>> output_size)
    : output_size_(std::move(output_size)) {}

Tensor AdaptiveAvgPool2d::forward(const Tensor& input) {
  return adaptive_avg_pool2d(input, pair_of(output_size_));
}

std::string AdaptiveAvgPool2d::extra_repr() const {
  return "output_size=" + optional_size(output_size_);
}

AdaptiveMaxPool2d::AdaptiveMaxPool2d(std::vector<std::optional<std::int64_t>> output_size,
                                     bool return_indices)
    : output_size_(std::move(output_size)), return_indices_(return_indices) {}

Tensor AdaptiveMaxPool2d::forward(const Tensor& input) {
  return adaptive_max_pool2d(input, pair_of(output_size_));
}

std::pair<Tensor, IndexTensor> AdaptiveMaxPool2d::forward_with_indices(const Tensor& input) {
  return adaptive_max_pool2d_with_indices(input, pair_of(output_size_));
}

std::string AdaptiveMaxPool2d::extra_repr() const {
  return "output_size=" + optional_size(output_size_);
}

}  // namespace tapegrad
