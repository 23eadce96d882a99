#pragma once
// Internal helpers shared by the op implementations in core/ops/ (not installed as
// public API: nothing outside core/ops includes it).
#include <cstdint>
#include <string>
#include <tapegrad/core/errors.hpp>
#include <tapegrad/core/tape.hpp>
#include <tapegrad/core/tensor.hpp>
#include <vector>

namespace tapegrad::detail {

template <class S>
Shape to_shape(const S& s) {
  return Shape(s.begin(), s.end());
}

/// Normalises a possibly negative dim against `rank` (a 0-d tensor accepts 0 and -1,
/// as PyTorch); PyTorch's message on failure.
std::size_t wrap_dim(const char* op, std::int64_t d, std::size_t rank);

/// A fresh, uninitialised value of `shape`, allocated on behalf of `op` (so running out
/// of memory names the op).
template <class T>
Array<T> new_array(const char* op, const Shape& shape) {
  checked_numel(op, shape);
  OpScope scope(op);
  return Array<T>::from_shape(shape);
}

/// A 0-d tensor of t's dtype.
Tensor scalar_like(double v, const Tensor& t);

}  // namespace tapegrad::detail
