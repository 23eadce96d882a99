#include <numeric>
#include <stdexcept>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/ops/shape.hpp>
#include <xtensor/xmanipulation.hpp>

namespace tapegrad {

using detail::new_array;
using detail::wrap_dim;

namespace {

std::vector<std::int64_t> signed_shape(const Shape& s) {
  return std::vector<std::int64_t>(s.begin(), s.end());
}

}  // namespace

Tensor reshape(const Tensor& a, const std::vector<std::int64_t>& shape) {
  check_defined("reshape", a);
  const std::size_t numel = a.numel();
  Shape s(shape.size());
  std::int64_t infer = -1;
  std::int64_t known = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0)
        throw std::invalid_argument("reshape: only one dimension can be inferred in shape " +
                                    list_str(shape));
      infer = static_cast<std::int64_t>(i);
    } else if (shape[i] < 0) {
      throw std::invalid_argument("reshape: invalid shape dimension " + std::to_string(shape[i]) +
                                  " in shape " + list_str(shape));
    } else {
      s[i] = static_cast<std::size_t>(shape[i]);
    }
  }
  // The product of the given sizes, checked: {2^62 + 1, 4} must not wrap to 4.
  for (std::size_t i = 0; i < shape.size(); ++i)
    if (static_cast<std::int64_t>(i) != infer) {
      std::int64_t p = 0;
      if (__builtin_mul_overflow(known, shape[i], &p) || p > kMaxNumel) {
        known = -1;
        break;
      }
      known = p;
    }
  auto invalid = [&] {
    return std::invalid_argument("reshape: shape " + list_str(shape) +
                                 " is invalid for input of size " + std::to_string(numel) +
                                 " (input shape " + shape_str(a.shape()) + ")");
  };
  if (known < 0) throw invalid();
  if (infer >= 0) {
    if (known == 0 || numel % static_cast<std::size_t>(known) != 0) throw invalid();
    s[static_cast<std::size_t>(infer)] = numel / static_cast<std::size_t>(known);
    known *= static_cast<std::int64_t>(s[static_cast<std::size_t>(infer)]);
  }
  if (static_cast<std::size_t>(known) != numel) throw invalid();
  const Shape in = a.shape();
  return dispatch(a.dtype(), [&]<class T>() {
    Array<T> r = new_array<T>("reshape", s);
    std::copy(a.value<T>().begin(), a.value<T>().end(), r.begin());
    return record(
        "reshape", Tensor::from_array(std::move(r)), {a},
        [in](const GradContext& ctx) {
          ctx.accumulate(0, reshape(ctx.grad_output(), signed_shape(in)));
        },
        Saved::none());
  });
}

Tensor view(const Tensor& a, const std::vector<std::int64_t>& shape) { return reshape(a, shape); }

Tensor flatten(const Tensor& a, std::int64_t start_dim, std::int64_t end_dim) {
  check_defined("flatten", a);
  if (a.dim() == 0) return reshape(a, {1});
  const std::size_t s = wrap_dim("flatten", start_dim, a.dim());
  const std::size_t e = wrap_dim("flatten", end_dim, a.dim());
  if (s > e)
    throw std::invalid_argument("flatten: start_dim (" + std::to_string(start_dim) +
                                ") cannot come after end_dim (" + std::to_string(end_dim) + ")");
  std::vector<std::int64_t> shape;
  std::int64_t merged = 1;
  const Shape in = a.shape();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (i < s || i > e) {
      shape.push_back(static_cast<std::int64_t>(in[i]));
    } else {
      merged *= static_cast<std::int64_t>(in[i]);
      if (i == e) shape.push_back(merged);
    }
  }
  return reshape(a, shape);
}

Tensor permute(const Tensor& a, const std::vector<std::int64_t>& dims) {
  check_defined("permute", a);
  if (dims.size() != a.dim())
    throw std::invalid_argument("permute: number of dims don't match in permute (input has " +
                                std::to_string(a.dim()) + " dims, dims has " +
                                std::to_string(dims.size()) + ": " + list_str(dims) + ")");
  std::vector<std::size_t> perm(dims.size());
  std::vector<std::int64_t> inverse(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    perm[i] = wrap_dim("permute", dims[i], a.dim());
    if (seen[perm[i]])
      throw std::invalid_argument("permute: repeated dim in permute " + list_str(dims));
    seen[perm[i]] = true;
    inverse[perm[i]] = static_cast<std::int64_t>(i);
  }
  return dispatch(a.dtype(), [&]<class T>() {
    Array<T> r = xt::transpose(a.value<T>(), perm);
    return record(
        "permute", Tensor::from_array(std::move(r)), {a},
        [inverse](const GradContext& ctx) {
          ctx.accumulate(0, permute(ctx.grad_output(), inverse));
        },
        Saved::none());
  });
}

Tensor transpose(const Tensor& a, std::int64_t dim0, std::int64_t dim1) {
  check_defined("transpose", a);
  if (a.dim() == 0) {
    wrap_dim("transpose", dim0, 0);
    wrap_dim("transpose", dim1, 0);
    return reshape(a, {});
  }
  std::vector<std::int64_t> dims(a.dim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[wrap_dim("transpose", dim0, a.dim())], dims[wrap_dim("transpose", dim1, a.dim())]);
  return permute(a, dims);
}

Tensor unsqueeze(const Tensor& a, std::int64_t dim) {
  check_defined("unsqueeze", a);
  const std::size_t d = wrap_dim("unsqueeze", dim, a.dim() + 1);
  std::vector<std::int64_t> s = signed_shape(a.shape());
  s.insert(s.begin() + static_cast<std::ptrdiff_t>(d), 1);
  return reshape(a, s);
}

Tensor squeeze(const Tensor& a, std::int64_t dim) {
  check_defined("squeeze", a);
  if (a.dim() == 0) {
    wrap_dim("squeeze", dim, 0);
    return reshape(a, {});
  }
  const std::size_t d = wrap_dim("squeeze", dim, a.dim());
  std::vector<std::int64_t> s = signed_shape(a.shape());
  if (s[d] != 1) return reshape(a, s);
  s.erase(s.begin() + static_cast<std::ptrdiff_t>(d));
  return reshape(a, s);
}

}  // namespace tapegrad
