#pragma once
// Internal helpers shared by the op implementations in core/ops/ (not installed as
// public API: nothing outside core/ops includes it).
#include <cstdint>
#include <stdexcept>
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

/// out[i] = f(x[i]), untaped: the forward of an element-wise op.
template <class F>
Tensor map_unary(const char* op, const Tensor& a, F f) {
  check_defined(op, a);
  return dispatch(a.dtype(), [&]<class T>() {
    const T* x = a.value<T>().data();
    Array<T> out = new_array<T>(op, a.shape());
    T* o = out.data();
    for (std::size_t i = 0, n = out.size(); i < n; ++i) o[i] = f(x[i]);
    return Tensor::from_array(std::move(out));
  });
}

/// out[i] = f(g[i], x[i]), untaped: the gradient op of an element-wise op (shapes equal).
template <class F>
Tensor map_grad(const char* op, const Tensor& g, const Tensor& a, F f) {
  check_defined(op, g, "grad");
  check_defined(op, a);
  check_same_dtype(op, g, a);
  if (g.shape() != a.shape())
    throw std::invalid_argument(std::string(op) + ": grad of shape " + shape_str(g.shape()) +
                                " does not match the shape " + shape_str(a.shape()));
  return dispatch(a.dtype(), [&]<class T>() {
    const T* pg = g.value<T>().data();
    const T* x = a.value<T>().data();
    Array<T> out = new_array<T>(op, a.shape());
    T* o = out.data();
    for (std::size_t i = 0, n = out.size(); i < n; ++i) o[i] = f(pg[i], x[i]);
    return Tensor::from_array(std::move(out));
  });
}

}  // namespace tapegrad::detail
