#include <stdexcept>
#include <tapegrad/core/ops.hpp>
#include <tapegrad/layers/flatten.hpp>

namespace tapegrad {
namespace {}  // namespace

Tensor Flatten::forward(const Tensor& input) {
  check_defined("Flatten", input);
  return flatten(input, start_dim_, end_dim_);
}

std::string Flatten::extra_repr() const {
  return "start_dim=" + std::to_string(start_dim_) + ", end_dim=" + std::to_string(end_dim_);
}

Unflatten::Unflatten(std::int64_t dim, std::vector<std::int64_t> sizes)
    : dim_(dim), sizes_(std::move(sizes)) {
  if (sizes_.empty()) throw std::invalid_argument("Unflatten: unflattened_size must not be empty");
  int inferred = 0;
  for (auto s : sizes_) {
    if (s == -1)
      ++inferred;
    else if (s <= 0)
      throw std::invalid_argument("Unflatten: sizes must be positive or -1, got " +
                                  list_str(sizes_));
  }
  if (inferred > 1)
    throw std::invalid_argument("Unflatten: only one size may be -1, got " + list_str(sizes_));
}

Tensor Unflatten::forward(const Tensor& input) {
  check_defined("Unflatten", input);
  const auto rank = static_cast<std::int64_t>(input.dim());
  const std::int64_t d = dim_ < 0 ? dim_ + rank : dim_;
  if (d < 0 || d >= rank)
    throw std::invalid_argument("Unflatten: dim " + std::to_string(dim_) +
                                " is out of range for an input of shape " +
                                shape_str(input.shape()));
  const auto extent = static_cast<std::int64_t>(input.shape()[d]);
  std::int64_t known = 1;
  bool has_inferred = false;
  for (auto s : sizes_) {
    if (s == -1)
      has_inferred = true;
    else
      known *= s;
  }
  if (has_inferred ? extent % known != 0 : known != extent)
    throw std::invalid_argument("Unflatten: sizes " + list_str(sizes_) +
                                " don't multiply up to the size of dim " + std::to_string(dim_) +
                                " (" + std::to_string(extent) + ") of the input of shape " +
                                shape_str(input.shape()));
  // [a.., extent, b..] -> [a.., sizes.., b..]; reshape resolves a -1.
  std::vector<std::int64_t> shape;
  for (std::int64_t i = 0; i < rank; ++i) {
    if (i == d)
      shape.insert(shape.end(), sizes_.begin(), sizes_.end());
    else
      shape.push_back(static_cast<std::int64_t>(input.shape()[i]));
  }
  return reshape(input, shape);
}

std::string Unflatten::extra_repr() const {
  std::string s;
  for (auto v : sizes_) s += (s.empty() ? "" : ", ") + std::to_string(v);
  if (sizes_.size() == 1) s += ",";  // Python's one-element tuple
  return "dim=" + std::to_string(dim_) + ", unflattened_size=(" + s + ")";
}

}  // namespace tapegrad
