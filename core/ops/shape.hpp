#pragma once
// Shape ops. tapegrad tensors are always contiguous, so each returns a new tensor (a
// copy for permute, the same elements for reshape); gradients go back through the
// inverse op.
#include <cstdint>
#include <tapegrad/core/tensor.hpp>
#include <vector>

namespace tapegrad {

/// Same elements, new shape; one entry may be -1 (inferred).
Tensor reshape(const Tensor& a, const std::vector<std::int64_t>& shape);
/// Alias of reshape (tapegrad tensors are always contiguous).
Tensor view(const Tensor& a, const std::vector<std::int64_t>& shape);
/// Flattens dims start_dim..end_dim into one.
Tensor flatten(const Tensor& a, std::int64_t start_dim = 0, std::int64_t end_dim = -1);
/// Swaps two dims.
Tensor transpose(const Tensor& a, std::int64_t dim0, std::int64_t dim1);
/// Reorders dims.
Tensor permute(const Tensor& a, const std::vector<std::int64_t>& dims);
/// Inserts a dimension of size 1 at `dim` (-(rank+1) <= dim <= rank).
Tensor unsqueeze(const Tensor& a, std::int64_t dim);
/// Removes dimension `dim` if its size is 1 (else returns a unchanged, as PyTorch).
Tensor squeeze(const Tensor& a, std::int64_t dim);

}  // namespace tapegrad
