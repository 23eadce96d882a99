#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/ops/join.hpp>
#include <tapegrad/core/ops/shape.hpp>

namespace tapegrad {

using detail::new_array;
using detail::wrap_dim;

namespace {

[[noreturn]] void fail(const char* op, const std::string& what) {
  throw std::invalid_argument(std::string(op) + ": " + what);
}

std::size_t prod(const Shape& s, std::size_t from, std::size_t to) {
  std::size_t n = 1;
  for (std::size_t i = from; i < to; ++i) n *= s[i];
  return n;
}

/// One strided copy along dim between a tensor of `whole` shape and one of `part`
/// shape: part[.., k, ..] <-> whole[.., start + k*step, ..]. `to_whole` picks the
/// direction (slice reads the whole, slice_backward writes into it).
template <class T>
void strided_copy(T* whole, const Shape& whole_shape, T* part, std::size_t dim, std::size_t start,
                  std::size_t step, std::size_t count, bool to_whole) {
  const std::size_t outer = prod(whole_shape, 0, dim);
  const std::size_t inner = prod(whole_shape, dim + 1, whole_shape.size());
  const std::size_t size = whole_shape[dim];
  if (inner == 0) return;
  for (std::size_t o = 0; o < outer; ++o) {
    for (std::size_t k = 0; k < count; ++k) {
      T* w = whole + (o * size + start + k * step) * inner;
      T* p = part + (o * count + k) * inner;
      if (to_whole) {
        std::memcpy(w, p, inner * sizeof(T));
      } else {
        std::memcpy(p, w, inner * sizeof(T));
      }
    }
  }
}

// The untaped slice with normalised bounds (0 <= start <= end <= size, step >= 1).
Tensor slice_impl(const char* op, const Tensor& a, std::size_t dim, std::size_t start,
                  std::size_t end, std::size_t step) {
  Shape out_shape = a.shape();
  const std::size_t count = end > start ? (end - start + step - 1) / step : 0;
  out_shape[dim] = count;
  return dispatch(a.dtype(), [&]<class T>() {
    Array<T> out = new_array<T>(op, out_shape);
    strided_copy<T>(const_cast<T*>(a.cvalue<T>().data()), a.shape(), out.data(), dim, start, step,
                    count, /*to_whole=*/false);
    return Tensor::from_array(std::move(out));
  });
}

// A taped slice with normalised bounds; its gradient is slice_backward.
Tensor slice_taped(const char* op, const Tensor& a, std::size_t dim, std::size_t start,
                   std::size_t end, std::size_t step) {
  Tensor out = slice_impl(op, a, dim, start, end, step);
  const Shape in_shape = a.shape();
  const auto d = static_cast<std::int64_t>(dim), s = static_cast<std::int64_t>(start),
             e = static_cast<std::int64_t>(end), st = static_cast<std::int64_t>(step);
  return record(
      op, out, {a},
      [in_shape, d, s, e, st](const GradContext& ctx) {
        ctx.accumulate(0, slice_backward(ctx.grad_output(), in_shape, d, s, e, st));
      },
      Saved::none());
}

// torch.split's piece sizes for a split_size (PyTorch's split: one piece when the
// size is 0 and split_size 0).
std::vector<std::int64_t> split_sizes_for(const char* op, std::int64_t dim_size,
                                          std::int64_t split_size) {
  if (split_size < 0)
    fail(op, "split expects split_size be non-negative, but got split_size=" +
                 std::to_string(split_size));
  if (split_size == 0 && dim_size != 0)
    fail(op, "split_size can only be 0 if dimension size is 0, but got dimension size of " +
                 std::to_string(dim_size));
  std::int64_t num_splits = 1;
  if (split_size != 0)
    num_splits = std::max<std::int64_t>((dim_size + split_size - 1) / split_size, 1);
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(num_splits), split_size);
  sizes.back() = split_size - (split_size * num_splits - dim_size);
  return sizes;
}

}  // namespace

Tensor slice_backward(const Tensor& grad, const Shape& input_shape, std::int64_t dim,
                      std::int64_t start, std::int64_t end, std::int64_t step) {
  constexpr const char* op = "slice_backward";
  check_defined(op, grad, "grad");
  const std::size_t d = wrap_dim(op, dim, input_shape.size());
  if (input_shape.empty()) fail(op, "input_shape must have at least one dimension");
  const auto size = static_cast<std::int64_t>(input_shape[d]);
  if (step < 1 || start < 0 || start > end || end > size)
    fail(op, "expected 0 <= start <= end <= " + std::to_string(size) +
                 " and step >= 1, got start=" + std::to_string(start) +
                 ", end=" + std::to_string(end) + ", step=" + std::to_string(step));
  Shape part = input_shape;
  const std::int64_t count = (end - start + step - 1) / step;
  part[d] = static_cast<std::size_t>(count);
  if (grad.shape() != part)
    fail(op, "grad of shape " + shape_str(grad.shape()) + " does not match the slice's shape " +
                 shape_str(part));
  Tensor out = dispatch(grad.dtype(), [&]<class T>() {
    Array<T> whole = new_array<T>(op, input_shape);
    std::fill(whole.begin(), whole.end(), T(0));
    strided_copy<T>(whole.data(), input_shape, const_cast<T*>(grad.cvalue<T>().data()), d,
                    static_cast<std::size_t>(start), static_cast<std::size_t>(step),
                    static_cast<std::size_t>(count), /*to_whole=*/true);
    return Tensor::from_array(std::move(whole));
  });
  // Linear in grad: its adjoint is the slice itself.
  return record(
      op, out, {grad},
      [d, start, end, step](const GradContext& ctx) {
        ctx.accumulate(0,
                       slice_taped("slice", ctx.grad_output(), d, static_cast<std::size_t>(start),
                                   static_cast<std::size_t>(end), static_cast<std::size_t>(step)));
      },
      Saved::none());
}

Tensor narrow_backward(const Tensor& grad, const Shape& input_shape, std::int64_t dim,
                       std::int64_t start) {
  check_defined("narrow_backward", grad, "grad");
  const std::size_t d = wrap_dim("narrow_backward", dim, input_shape.size());
  const std::int64_t length = grad.dim() > d ? static_cast<std::int64_t>(grad.shape()[d]) : 0;
  return slice_backward(grad, input_shape, dim, start, start + length, 1);
}

Tensor slice(const Tensor& a, std::int64_t dim, std::optional<std::int64_t> start,
             std::optional<std::int64_t> end, std::int64_t step) {
  constexpr const char* op = "slice";
  check_defined(op, a);
  if (a.dim() == 0) fail(op, "slice() cannot be applied to a 0-dim tensor.");
  const std::size_t d = wrap_dim(op, dim, a.dim());
  if (step <= 0) fail(op, "slice step must be positive");
  // PyTorch's slice: negative bounds count from the end, then clamp to [0, size],
  // and an end before the start gives an empty slice.
  const auto size = static_cast<std::int64_t>(a.shape()[d]);
  std::int64_t s = start.value_or(0), e = end.value_or(size);
  if (s < 0) s += size;
  if (e < 0) e += size;
  s = std::clamp<std::int64_t>(s, 0, size);
  e = std::clamp<std::int64_t>(e, 0, size);
  if (e < s) e = s;
  return slice_taped(op, a, d, static_cast<std::size_t>(s), static_cast<std::size_t>(e),
                     static_cast<std::size_t>(step));
}

Tensor narrow(const Tensor& a, std::int64_t dim, std::int64_t start, std::int64_t length) {
  constexpr const char* op = "narrow";
  check_defined(op, a);
  if (a.dim() == 0) fail(op, "narrow() cannot be applied to a 0-dim tensor.");
  const std::size_t d = wrap_dim(op, dim, a.dim());
  if (length < 0) fail(op, "narrow(): length must be non-negative.");
  const auto size = static_cast<std::int64_t>(a.shape()[d]);
  // start == size is a valid (empty) narrow, but not a valid index to wrap.
  if (start != size) {
    if (start < -size || start >= size)
      fail(op, "start out of range (expected to be in range of [" + std::to_string(-size) + ", " +
                   std::to_string(size - 1) + "], but got " + std::to_string(start) + ")");
    if (start < 0) start += size;
  }
  if (start > size - length)
    fail(op, "start (" + std::to_string(start) + ") + length (" + std::to_string(length) +
                 ") exceeds dimension size (" + std::to_string(size) + ").");
  return slice_taped(op, a, d, static_cast<std::size_t>(start),
                     static_cast<std::size_t>(start + length), 1);
}

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim) {
  constexpr const char* op = "cat";
  if (tensors.empty()) fail(op, "torch.cat(): expected a non-empty list of Tensors");
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    check_defined(op, tensors[i], ("tensors[" + std::to_string(i) + "]").c_str());
    if (tensors[i].dim() == 0)
      fail(op, "zero-dimensional tensor (at position " + std::to_string(i) +
                   ") cannot be concatenated");
  }
  // PyTorch's legacy rule: a 1-D tensor of shape [0] joins anything (it is skipped).
  auto skipped = [](const Tensor& t) { return t.dim() == 1 && t.shape()[0] == 0; };
  std::size_t ref = 0;
  while (ref < tensors.size() && skipped(tensors[ref])) ++ref;
  if (ref == tensors.size()) ref = 0;  // all of them [0]: the result is [0]
  const Shape ref_shape = tensors[ref].shape();
  const std::size_t d = wrap_dim(op, dim, ref_shape.size());
  const Dtype dtype = tensors[ref].dtype();
  std::size_t total = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (t.dtype() != dtype)
      fail(op, std::string("expected all tensors to have dtype ") + dtype_name(dtype) +
                   ", but got " + dtype_name(t.dtype()) + " for tensor number " +
                   std::to_string(i) + " in the list");
    if (skipped(t) && ref_shape.size() != 1) continue;
    const Shape s = t.shape();
    if (s.size() != ref_shape.size())
      fail(op, "Tensors must have same number of dimensions: got " +
                   std::to_string(ref_shape.size()) + " and " + std::to_string(s.size()));
    for (std::size_t k = 0; k < s.size(); ++k) {
      if (k != d && s[k] != ref_shape[k])
        fail(op, "Sizes of tensors must match except in dimension " + std::to_string(d) +
                     ". Expected size " + std::to_string(ref_shape[k]) + " but got size " +
                     std::to_string(s[k]) + " for tensor number " + std::to_string(i) +
                     " in the list.");
    }
    total += s[d];
  }
  Shape out_shape = ref_shape;
  out_shape[d] = total;
  // Where each input lands along dim (skipped inputs get none).
  std::vector<std::int64_t> offsets(tensors.size(), -1);
  Tensor out = dispatch(dtype, [&]<class T>() {
    Array<T> res = new_array<T>(op, out_shape);
    std::size_t off = 0;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const Tensor& t = tensors[i];
      if (skipped(t) && ref_shape.size() != 1) continue;
      const std::size_t n = t.shape()[d];
      offsets[i] = static_cast<std::int64_t>(off);
      strided_copy<T>(res.data(), out_shape, const_cast<T*>(t.cvalue<T>().data()), d, off, 1, n,
                      /*to_whole=*/true);
      off += n;
    }
    return Tensor::from_array(std::move(res));
  });
  std::vector<Shape> shapes;
  for (const Tensor& t : tensors) shapes.push_back(t.shape());
  // Input i's gradient is its stretch of the output's gradient: a taped narrow.
  return record(
      op, out, tensors,
      [offsets, shapes, d](const GradContext& ctx) {
        for (std::size_t i = 0; i < offsets.size(); ++i) {
          if (!ctx.needs_grad(i)) continue;
          if (offsets[i] < 0) {
            ctx.accumulate(i, Tensor::zeros(shapes[i], ctx.grad_output().dtype()));
            continue;
          }
          const auto len = static_cast<std::int64_t>(shapes[i][d]);
          ctx.accumulate(i,
                         narrow(ctx.grad_output(), static_cast<std::int64_t>(d), offsets[i], len));
        }
      },
      Saved::none());
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim) {
  constexpr const char* op = "stack";
  if (tensors.empty()) fail(op, "stack expects a non-empty TensorList");
  for (std::size_t i = 0; i < tensors.size(); ++i)
    check_defined(op, tensors[i], ("tensors[" + std::to_string(i) + "]").c_str());
  const Shape s0 = tensors[0].shape();
  for (std::size_t i = 1; i < tensors.size(); ++i) {
    if (tensors[i].shape() != s0)
      fail(op, "stack expects each tensor to be equal size, but got " + shape_str(s0) +
                   " at entry 0 and " + shape_str(tensors[i].shape()) + " at entry " +
                   std::to_string(i));
  }
  const std::size_t d = wrap_dim(op, dim, s0.size() + 1);
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (const Tensor& t : tensors) parts.push_back(unsqueeze(t, static_cast<std::int64_t>(d)));
  return cat(parts, static_cast<std::int64_t>(d));
}

std::vector<Tensor> split(const Tensor& a, const std::vector<std::int64_t>& split_sizes,
                          std::int64_t dim) {
  constexpr const char* op = "split_with_sizes";
  check_defined(op, a);
  if (a.dim() == 0) fail(op, "split expects at least a 1-dimensional tensor");
  const std::size_t d = wrap_dim(op, dim, a.dim());
  const auto size = static_cast<std::int64_t>(a.shape()[d]);
  std::int64_t sum = 0;
  for (std::int64_t s : split_sizes) {
    if (s < 0)
      fail(op,
           "split_with_sizes expects split_sizes have only non-negative entries, but got "
           "split_sizes=" +
               list_str(split_sizes));
    sum += s;
  }
  if (sum != size)
    fail(op, "split_with_sizes expects split_sizes to sum exactly to " + std::to_string(size) +
                 " (input tensor's size at dimension " + std::to_string(d) +
                 "), but got split_sizes=" + list_str(split_sizes));
  std::vector<Tensor> out;
  std::int64_t start = 0;
  for (std::int64_t s : split_sizes) {
    out.push_back(narrow(a, static_cast<std::int64_t>(d), start, s));
    start += s;
  }
  return out;
}

std::vector<Tensor> split(const Tensor& a, std::int64_t split_size, std::int64_t dim) {
  constexpr const char* op = "split";
  check_defined(op, a);
  if (a.dim() == 0) fail(op, "split expects at least a 1-dimensional tensor");
  const std::size_t d = wrap_dim(op, dim, a.dim());
  const auto size = static_cast<std::int64_t>(a.shape()[d]);
  return split(a, split_sizes_for(op, size, split_size), static_cast<std::int64_t>(d));
}

std::vector<Tensor> chunk(const Tensor& a, std::int64_t chunks, std::int64_t dim) {
  constexpr const char* op = "chunk";
  check_defined(op, a);
  if (a.dim() == 0) fail(op, "chunk expects at least a 1-dimensional tensor");
  if (chunks <= 0)
    fail(op, "chunk expects `chunks` to be greater than 0, got: " + std::to_string(chunks));
  const std::size_t d = wrap_dim(op, dim, a.dim());
  const auto size = static_cast<std::int64_t>(a.shape()[d]);
  const std::int64_t split_size = (size + chunks - 1) / chunks;
  // An empty dim keeps the number of chunks (PyTorch calls split_with_sizes then).
  if (split_size == 0 && size == 0)
    return split(a, std::vector<std::int64_t>(static_cast<std::size_t>(chunks), 0),
                 static_cast<std::int64_t>(d));
  return split(a, split_sizes_for(op, size, split_size), static_cast<std::int64_t>(d));
}

}  // namespace tapegrad
