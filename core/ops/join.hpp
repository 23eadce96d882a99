#pragma once
// Joining and splitting along one dimension, as torch.cat, stack, split, chunk, narrow
// and slice. Every result is a new contiguous tensor. The gradient of a piece is the
// piece's gradient padded with zeros back to the whole (slice_backward), and the
// gradient of that padding is the slice again, so all of them are differentiable any
// number of times.
#include <cstdint>
#include <optional>
#include <tapegrad/core/tensor.hpp>
#include <vector>

namespace tapegrad {

/// Concatenates along `dim`: all tensors have the same rank and sizes except at dim
/// (1-D empty tensors of shape [0] are skipped, as PyTorch's legacy rule). Same dtype.
Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
/// Joins equally shaped tensors along a new dimension `dim` (-(rank+1) <= dim <= rank).
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim = 0);
/// Pieces of `split_size` along dim (the last one smaller if it does not divide).
std::vector<Tensor> split(const Tensor& a, std::int64_t split_size, std::int64_t dim = 0);
/// Pieces of the given sizes along dim, which must sum to the size of dim.
std::vector<Tensor> split(const Tensor& a, const std::vector<std::int64_t>& split_sizes,
                          std::int64_t dim = 0);
/// `chunks` pieces or fewer, of ceil(size/chunks) each (the last smaller), as torch.chunk.
std::vector<Tensor> chunk(const Tensor& a, std::int64_t chunks, std::int64_t dim = 0);
/// Elements start .. start+length-1 along dim (start may be negative: counted from the end).
Tensor narrow(const Tensor& a, std::int64_t dim, std::int64_t start, std::int64_t length);
/// a[start:end:step] along dim, Python's rules: negative start/end count from the end,
/// out-of-range bounds are clamped, step must be positive; missing bounds mean the ends.
Tensor slice(const Tensor& a, std::int64_t dim, std::optional<std::int64_t> start = std::nullopt,
             std::optional<std::int64_t> end = std::nullopt, std::int64_t step = 1);

/// The gradient op of slice (PyTorch's slice_backward): zeros of `input_shape` with
/// `grad` written at start, start+step, ... along dim (start, end already normalised,
/// 0 <= start <= end <= size). Its own gradient is slice.
Tensor slice_backward(const Tensor& grad, const Shape& input_shape, std::int64_t dim,
                      std::int64_t start, std::int64_t end, std::int64_t step);
/// The gradient op of narrow: slice_backward with step 1.
Tensor narrow_backward(const Tensor& grad, const Shape& input_shape, std::int64_t dim,
                       std::int64_t start);

}  // namespace tapegrad
