#pragma once
// Sums and means over all or some dimensions.
#include <cstdint>
#include <tapegrad/core/tensor.hpp>
#include <vector>

namespace tapegrad {

/// Sum of all elements (0-d result).
Tensor sum(const Tensor& a);
/// Sum over `dims` (negative dims count from the end); keepdim keeps them as size 1.
Tensor sum(const Tensor& a, const std::vector<std::int64_t>& dims, bool keepdim = false);
/// Mean of all elements.
Tensor mean(const Tensor& a);
/// Mean over `dims`.
Tensor mean(const Tensor& a, const std::vector<std::int64_t>& dims, bool keepdim = false);

}  // namespace tapegrad
