#pragma once
// Matrix products.
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

/// Matrix product: [m,k]@[k,n]; batched [...,m,k]@[...,k,n] with broadcast batch
/// dims; 1-d operands are promoted and the added dim removed, as torch.matmul.
Tensor matmul(const Tensor& a, const Tensor& b);

/// op(a) @ op(b) with op = transpose of the last two dims when the flag is set, for
/// operands of rank >= 2 with broadcast batch dims. What matmul and its gradients
/// compute, without materialising a transpose.
Tensor matmul_t(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b);

}  // namespace tapegrad
