#include <stdexcept>
#include <tapegrad/core/init.hpp>
#include <tapegrad/core/ops/embedding.hpp>
#include <tapegrad/layers/embedding.hpp>

namespace tapegrad {

namespace {

std::optional<std::int64_t> normalised_padding_idx(std::size_t num,
                                                   std::optional<std::int64_t> padding_idx) {
  if (!padding_idx) return padding_idx;
  const auto n = static_cast<std::int64_t>(num);
  // torch.nn.Embedding's assertions, in its wording.
  if (*padding_idx >= n)
    throw std::invalid_argument("Embedding: Padding_idx must be within num_embeddings (got " +
                                std::to_string(*padding_idx) + ", num_embeddings " +
                                std::to_string(num) + ")");
  if (*padding_idx < -n)
    throw std::invalid_argument("Embedding: Padding_idx must be within num_embeddings (got " +
                                std::to_string(*padding_idx) + ", num_embeddings " +
                                std::to_string(num) + ")");
  return *padding_idx < 0 ? *padding_idx + n : *padding_idx;
}

}  // namespace

Embedding::Embedding(std::size_t num_embeddings, std::size_t embedding_dim, Generator& gen,
                     std::optional<std::int64_t> padding_idx, Dtype dtype)
    : num_embeddings_(num_embeddings),
      embedding_dim_(embedding_dim),
      padding_idx_(normalised_padding_idx(num_embeddings, padding_idx)) {
  weight = register_parameter("weight", Tensor::zeros({num_embeddings, embedding_dim}, dtype));
  reset_parameters(gen);
}

Embedding::Embedding(std::size_t num_embeddings, std::size_t embedding_dim,
                     std::optional<std::int64_t> padding_idx, std::uint64_t seed, Dtype dtype)
    : num_embeddings_(num_embeddings),
      embedding_dim_(embedding_dim),
      padding_idx_(normalised_padding_idx(num_embeddings, padding_idx)) {
  Generator gen(seed);
  weight = register_parameter("weight", Tensor::zeros({num_embeddings, embedding_dim}, dtype));
  reset_parameters(gen);
}

void Embedding::reset_parameters(Generator& gen) {
  init::normal_(weight, gen, 0.0, 1.0);
  if (padding_idx_) {
    dispatch(weight.dtype(), [&]<class T>() {
      Array<T>& w = weight.mutable_value<T>();
      const auto row = static_cast<std::size_t>(*padding_idx_);
      for (std::size_t k = 0; k < embedding_dim_; ++k) w(row, k) = T(0);
    });
  }
}

Tensor Embedding::forward(const IndexTensor& indices) {
  return embedding(weight, indices, padding_idx_);
}

std::string Embedding::extra_repr() const {
  std::string s = std::to_string(num_embeddings_) + ", " + std::to_string(embedding_dim_);
  if (padding_idx_) s += ", padding_idx=" + std::to_string(*padding_idx_);
  return s;
}

}  // namespace tapegrad
