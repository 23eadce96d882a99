#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/ops/arithmetic.hpp>
#include <tapegrad/core/ops/embedding.hpp>

namespace tapegrad {

using detail::new_array;

namespace {

[[noreturn]] void fail(const char* op, const std::string& what) {
  throw std::invalid_argument(std::string(op) + ": " + what);
}

// PyTorch's message for an index outside the table (index_select's), with the index.
void check_indices(const char* op, const IndexTensor& indices, std::size_t num) {
  for (std::int64_t v : indices.values()) {
    if (v < 0 || static_cast<std::uint64_t>(v) >= num)
      fail(op, "index out of range in self (index " + std::to_string(v) + ", num_embeddings " +
                   std::to_string(num) + ")");
  }
}

Shape lookup_shape(const IndexTensor& indices, std::size_t dim) {
  Shape s = indices.shape();
  s.push_back(dim);
  return s;
}

// The untaped gather: out[i, :] = weight[idx[i], :], zero where idx[i] == zero_at.
Tensor gather_rows(const char* op, const Tensor& weight, const IndexTensor& indices,
                   std::optional<std::int64_t> zero_at) {
  const std::size_t dim = weight.shape()[1];
  return dispatch(weight.dtype(), [&]<class T>() {
    Array<T> out = new_array<T>(op, lookup_shape(indices, dim));
    const T* w = weight.cvalue<T>().data();
    T* o = out.data();
    for (std::size_t i = 0, n = indices.numel(); i < n; ++i) {
      const std::int64_t r = indices[i];
      if (zero_at && r == *zero_at) {
        std::fill(o + i * dim, o + (i + 1) * dim, T(0));
      } else if (dim > 0) {
        std::memcpy(o + i * dim, w + static_cast<std::size_t>(r) * dim, dim * sizeof(T));
      }
    }
    return Tensor::from_array(std::move(out));
  });
}

Tensor embedding_taped(const char* op, const Tensor& weight, std::shared_ptr<const IndexTensor> idx,
                       std::optional<std::int64_t> padding_idx, bool zero_padding_rows);

}  // namespace

Tensor embedding_backward(const Tensor& grad, const IndexTensor& indices, std::size_t num_weights,
                          std::optional<std::int64_t> padding_idx) {
  constexpr const char* op = "embedding_backward";
  check_defined(op, grad, "grad");
  if (grad.dim() != indices.dim() + 1)
    fail(op, "grad of shape " + shape_str(grad.shape()) + " does not match indices of shape " +
                 shape_str(indices.shape()) + " (expected [*indices.shape, embedding_dim])");
  const std::size_t dim = grad.shape().back();
  if (grad.shape() != lookup_shape(indices, dim))
    fail(op, "grad of shape " + shape_str(grad.shape()) + " does not match indices of shape " +
                 shape_str(indices.shape()) + " (expected [*indices.shape, embedding_dim])");
  check_indices(op, indices, num_weights);
  auto idx = std::make_shared<const IndexTensor>(indices);
  Tensor out = dispatch(grad.dtype(), [&]<class T>() {
    Array<T> res = new_array<T>(op, Shape{num_weights, dim});
    std::fill(res.begin(), res.end(), T(0));
    const T* g = grad.cvalue<T>().data();
    T* r = res.data();
    // In index order, so repeated indices sum in a fixed order (deterministic).
    for (std::size_t i = 0, n = idx->numel(); i < n; ++i) {
      const std::int64_t row = (*idx)[i];
      if (padding_idx && row == *padding_idx) continue;
      T* dst = r + static_cast<std::size_t>(row) * dim;
      const T* src = g + i * dim;
      for (std::size_t k = 0; k < dim; ++k) dst[k] += src[k];
    }
    return Tensor::from_array(std::move(res));
  });
  // Linear in grad; its adjoint gathers the rows back, with zeros at the padding
  // positions (they received nothing).
  return record(
      op, out, {grad},
      [idx, padding_idx](const GradContext& ctx) {
        ctx.accumulate(0, embedding_taped("embedding", ctx.grad_output(), idx, padding_idx,
                                          /*zero_padding_rows=*/true));
      },
      Saved::none());
}

namespace {

Tensor embedding_taped(const char* op, const Tensor& weight, std::shared_ptr<const IndexTensor> idx,
                       std::optional<std::int64_t> padding_idx, bool zero_padding_rows) {
  Tensor out = gather_rows(op, weight, *idx,
                           zero_padding_rows ? padding_idx : std::optional<std::int64_t>{});
  const std::size_t num = weight.shape()[0];
  return record(
      op, out, {weight},
      [idx, padding_idx, num](const GradContext& ctx) {
        ctx.accumulate(0, embedding_backward(ctx.grad_output(), *idx, num, padding_idx));
      },
      Saved::none());
}

}  // namespace

Tensor embedding(const Tensor& weight, const IndexTensor& indices,
                 std::optional<std::int64_t> padding_idx) {
  constexpr const char* op = "embedding";
  check_defined(op, weight, "weight");
  if (weight.dim() != 2) fail(op, "'weight' must be 2-D, got shape " + shape_str(weight.shape()));
  const auto num = static_cast<std::int64_t>(weight.shape()[0]);
  if (padding_idx) {
    // torch.nn.functional.embedding's checks and wrapping of a negative padding_idx.
    if (*padding_idx >= num || *padding_idx < -num)
      fail(op, "Padding_idx must be within num_embeddings (got padding_idx=" +
                   std::to_string(*padding_idx) + ", num_embeddings=" + std::to_string(num) + ")");
    if (*padding_idx < 0) padding_idx = *padding_idx + num;
  }
  check_indices(op, indices, weight.shape()[0]);
  return embedding_taped(op, weight, std::make_shared<const IndexTensor>(indices), padding_idx,
                         /*zero_padding_rows=*/false);
}

}  // namespace tapegrad
