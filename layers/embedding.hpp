#pragma once
// Embedding: a lookup table of learned vectors, as torch.nn.Embedding (without
// max_norm, scale_grad_by_freq or sparse gradients).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <tapegrad/core/index_tensor.hpp>
#include <tapegrad/layers/module.hpp>

namespace tapegrad {

/// indices [*] (IndexTensor) -> [*, embedding_dim]. Parameter: weight
/// [num_embeddings, embedding_dim]. The row at padding_idx starts at zero and never
/// receives a gradient, so it stays what it is (a "padding" vector).
class Embedding : public Module {
 public:
  /// weight ~ N(0, 1) drawn from `gen`, the padding row zeroed, as torch.nn.Embedding.
  /// padding_idx may be negative (counted from the end); outside
  /// [-num_embeddings, num_embeddings) throws std::invalid_argument.
  Embedding(std::size_t num_embeddings, std::size_t embedding_dim, Generator& gen,
            std::optional<std::int64_t> padding_idx = std::nullopt, Dtype dtype = Dtype::Float32);
  /// As above with a private Generator(seed).
  Embedding(std::size_t num_embeddings, std::size_t embedding_dim,
            std::optional<std::int64_t> padding_idx = std::nullopt, std::uint64_t seed = 0,
            Dtype dtype = Dtype::Float32);

  /// weight ~ N(0, 1), then the padding row set to zero.
  void reset_parameters(Generator& gen);

  /// The rows of weight picked by `indices`; throws std::invalid_argument
  /// ("index out of range in self") for an index outside [0, num_embeddings).
  Tensor forward(const IndexTensor& indices);
  /// Calls forward.
  Tensor operator()(const IndexTensor& indices) { return forward(indices); }
  /// Module::forward(Tensor) is still there (it throws: an Embedding takes indices).
  using Module::forward;

  /// Rows of the table.
  std::size_t num_embeddings() const { return num_embeddings_; }
  /// Length of each vector.
  std::size_t embedding_dim() const { return embedding_dim_; }
  /// Normalised to [0, num_embeddings), or empty.
  std::optional<std::int64_t> padding_idx() const { return padding_idx_; }
  /// "10, 3, padding_idx=0", as PyTorch prints it.
  std::string extra_repr() const override;

  /// [num_embeddings, embedding_dim].
  Tensor weight;

 private:
  std::size_t num_embeddings_;
  std::size_t embedding_dim_;
  std::optional<std::int64_t> padding_idx_;
};

}  // namespace tapegrad
