#pragma once
// Embedding lookup, as torch.nn.functional.embedding (without max_norm): rows of a
// weight matrix picked by integer indices. Its gradient scatter-adds into the rows
// (embedding_backward), whose own gradient is the lookup again, so both are
// differentiable any number of times.
#include <cstdint>
#include <optional>
#include <tapegrad/core/index_tensor.hpp>
#include <tapegrad/core/tensor.hpp>

namespace tapegrad {

/// weight [num_embeddings, embedding_dim], indices of any shape with values in
/// [0, num_embeddings) -> [*indices.shape, embedding_dim]. The row at padding_idx
/// (negative: counted from the end) gets no gradient. Throws std::invalid_argument
/// ("index out of range in self") for an index outside the table.
Tensor embedding(const Tensor& weight, const IndexTensor& indices,
                 std::optional<std::int64_t> padding_idx = std::nullopt);

/// The gradient op of embedding: zeros [num_weights, dim] plus, for every position i
/// with indices[i] != padding_idx, grad[i] added into row indices[i]. grad has shape
/// [*indices.shape, dim]; padding_idx is already normalised (or absent).
Tensor embedding_backward(const Tensor& grad, const IndexTensor& indices, std::size_t num_weights,
                          std::optional<std::int64_t> padding_idx);

}  // namespace tapegrad
