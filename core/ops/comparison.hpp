#pragma once
// argmax and element-wise comparisons. None of them is differentiable (their values
// are piecewise constant), so nothing is recorded: the results are plain leaves.
#include <cstdint>
#include <tapegrad/core/index_tensor.hpp>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

/// Index of the first maximum along `dim` (negative counts from the end), as
/// torch.argmax; a NaN counts as the maximum. keepdim keeps `dim` with extent 1.
IndexTensor argmax(const Tensor& input, std::int64_t dim, bool keepdim = false);
/// Flat (row-major) index of the first maximum of all elements, as a 0-d IndexTensor.
IndexTensor argmax(const Tensor& input);

/// a == b element-wise with broadcasting: 1 or 0 in the inputs' dtype (as float
/// tensors, so the result can be averaged directly). NaN compares unequal.
Tensor eq(const Tensor& a, const Tensor& b);
/// a != b (true for NaN), 1 or 0.
Tensor ne(const Tensor& a, const Tensor& b);
/// a < b, 1 or 0.
Tensor lt(const Tensor& a, const Tensor& b);
/// a <= b, 1 or 0.
Tensor le(const Tensor& a, const Tensor& b);
/// a > b, 1 or 0.
Tensor gt(const Tensor& a, const Tensor& b);
/// a >= b, 1 or 0.
Tensor ge(const Tensor& a, const Tensor& b);

/// a == b element-wise with broadcasting, 1 or 0: eq(argmax(out, 1), labels).sum()
/// counts correct predictions.
IndexTensor eq(const IndexTensor& a, const IndexTensor& b);

}  // namespace tapegrad
