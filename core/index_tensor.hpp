#pragma once
// Integer tensors for class labels and indices: what PyTorch holds in int64 tensors
// (targets of nll_loss/cross_entropy, max-pooling indices, argmax, embedding ids).
// Kept apart from Tensor on purpose: they are never differentiated, and keeping the
// float ops free of an integer dtype means no op has to reject one at run time.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <tapegrad/core/shape.hpp>
#include <utility>
#include <vector>

namespace tapegrad {

/// A row-major array of int64 values with a shape (PyTorch's LongTensor). Not part of
/// the autograd graph.
class IndexTensor {
 public:
  /// An empty 1-D tensor.
  IndexTensor() : shape_{0} {}
  /// Values in row-major order; throws std::invalid_argument unless their count is
  /// the shape's number of elements.
  IndexTensor(Shape shape, std::vector<std::int64_t> values)
      : shape_(std::move(shape)), values_(std::move(values)) {
    if (checked_numel("IndexTensor", shape_) != values_.size())
      throw std::invalid_argument("IndexTensor: " + std::to_string(values_.size()) +
                                  " values for shape " + shape_str(shape_) + " (" +
                                  std::to_string(checked_numel("IndexTensor", shape_)) +
                                  " elements)");
  }
  /// A 1-D tensor of the given values.
  IndexTensor(std::initializer_list<std::int64_t> values)
      : shape_{values.size()}, values_(values) {}
  /// A 1-D tensor of the given values.
  explicit IndexTensor(std::vector<std::int64_t> values)
      : shape_{values.size()}, values_(std::move(values)) {}
  /// A tensor of `shape` filled with `value`.
  static IndexTensor full(const Shape& shape, std::int64_t value) {
    return IndexTensor(shape,
                       std::vector<std::int64_t>(checked_numel("IndexTensor", shape), value));
  }

  /// Extents, outermost first.
  const Shape& shape() const { return shape_; }
  /// Number of dimensions.
  std::size_t dim() const { return shape_.size(); }
  /// Number of elements.
  std::size_t numel() const { return values_.size(); }
  /// Row-major values.
  const std::vector<std::int64_t>& values() const { return values_; }
  /// Row-major values, writable.
  std::vector<std::int64_t>& values() { return values_; }
  /// Element i in row-major order.
  std::int64_t operator[](std::size_t i) const { return values_[i]; }
  /// Element i in row-major order, writable.
  std::int64_t& operator[](std::size_t i) { return values_[i]; }
  /// Sum of all elements (e.g. the count of correct predictions from eq()).
  std::int64_t sum() const {
    std::int64_t s = 0;
    for (std::int64_t v : values_) s += v;
    return s;
  }

  friend bool operator==(const IndexTensor&, const IndexTensor&) = default;

 private:
  Shape shape_;
  std::vector<std::int64_t> values_;
};

}  // namespace tapegrad
