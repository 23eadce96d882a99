#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/ops/arithmetic.hpp>
#include <tapegrad/core/ops/comparison.hpp>

namespace tapegrad {

using detail::new_array;

namespace {

// Calls f(out_index, a_index, b_index) over the broadcast shape `out` of shapes a, b.
template <class F>
void broadcast_walk(const Shape& a, const Shape& b, const Shape& out, F f) {
  const std::size_t r = out.size();
  std::vector<std::size_t> sa(r, 0), sb(r, 0), idx(r, 0);
  // Strides in elements, 0 along dimensions that are broadcast.
  for (std::size_t k = 0, stride = 1; k < a.size(); ++k) {
    const std::size_t d = a.size() - 1 - k;
    sa[r - 1 - k] = a[d] == 1 ? 0 : stride;
    stride *= a[d];
  }
  for (std::size_t k = 0, stride = 1; k < b.size(); ++k) {
    const std::size_t d = b.size() - 1 - k;
    sb[r - 1 - k] = b[d] == 1 ? 0 : stride;
    stride *= b[d];
  }
  std::size_t n = 1;
  for (std::size_t e : out) n *= e;
  std::size_t ia = 0, ib = 0;
  for (std::size_t i = 0; i < n; ++i) {
    f(i, ia, ib);
    for (std::size_t k = r; k-- > 0;) {  // odometer increment
      ++idx[k];
      ia += sa[k];
      ib += sb[k];
      if (idx[k] < out[k]) break;
      ia -= sa[k] * idx[k];
      ib -= sb[k] * idx[k];
      idx[k] = 0;
    }
  }
}

template <class Cmp>
Tensor compare(const char* op, const Tensor& a, const Tensor& b, Cmp cmp) {
  check_defined(op, a, "self");
  check_defined(op, b, "other");
  check_same_dtype(op, a, b);
  const Shape out = broadcast_shapes(op, a.shape(), b.shape());
  return dispatch(a.dtype(), [&]<class T>() {
    const T* pa = a.value<T>().data();
    const T* pb = b.value<T>().data();
    Array<T> r = new_array<T>(op, out);
    T* o = r.data();
    broadcast_walk(a.shape(), b.shape(), out, [&](std::size_t i, std::size_t ia, std::size_t ib) {
      o[i] = cmp(pa[ia], pb[ib]) ? T(1) : T(0);
    });
    return Tensor::from_array(std::move(r));
  });
}

}  // namespace

IndexTensor argmax(const Tensor& input, std::int64_t dim, bool keepdim) {
  constexpr const char* op = "argmax";
  check_defined(op, input);
  const Shape in = input.shape();
  const std::size_t d = detail::wrap_dim(op, dim, in.size());
  std::size_t outer = 1, n = 1, inner = 1;
  Shape out;
  if (!in.empty()) {
    for (std::size_t i = 0; i < d; ++i) outer *= in[i];
    n = in[d];
    for (std::size_t i = d + 1; i < in.size(); ++i) inner *= in[i];
    if (n == 0)
      throw std::invalid_argument(std::string(op) + ": Expected reduction dim " +
                                  std::to_string(d) + " to have non-zero size.");
    for (std::size_t i = 0; i < in.size(); ++i)
      if (i != d)
        out.push_back(in[i]);
      else if (keepdim)
        out.push_back(1);
  }
  std::vector<std::int64_t> idx(outer * inner);
  dispatch(input.dtype(), [&]<class T>() {
    const T* x = input.value<T>().data();
    for (std::size_t o = 0; o < outer; ++o)
      for (std::size_t i = 0; i < inner; ++i) {
        const T* p = x + o * n * inner + i;
        std::size_t best = 0;
        T m = p[0];
        if (!std::isnan(m))
          for (std::size_t c = 1; c < n; ++c) {
            const T v = p[c * inner];
            if (std::isnan(v)) {  // the first NaN is the maximum
              best = c;
              break;
            }
            if (v > m) {
              m = v;
              best = c;
            }
          }
        idx[o * inner + i] = static_cast<std::int64_t>(best);
      }
  });
  return IndexTensor(out, std::move(idx));
}

IndexTensor argmax(const Tensor& input) {
  check_defined("argmax", input);
  if (input.numel() == 0)
    throw std::invalid_argument(
        "argmax: Expected reduction dim to be specified for input.numel() == 0.");
  const auto n = static_cast<std::int64_t>(input.numel());
  const Tensor flat = Tensor::from_storage(
      dispatch(input.dtype(),
               [&]<class T>() {
                 Array<T> a = Array<T>::from_shape({static_cast<std::size_t>(n)});
                 std::copy(input.value<T>().begin(), input.value<T>().end(), a.begin());
                 return std::make_shared<detail::Storage>(std::move(a));
               }),
      false);
  IndexTensor r = argmax(flat, 0, false);
  return IndexTensor(Shape{}, {r[0]});
}

Tensor eq(const Tensor& a, const Tensor& b) {
  return compare("eq", a, b, [](auto x, auto y) { return x == y; });
}
Tensor ne(const Tensor& a, const Tensor& b) {
  return compare("ne", a, b, [](auto x, auto y) { return x != y; });
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return compare("lt", a, b, [](auto x, auto y) { return x < y; });
}
Tensor le(const Tensor& a, const Tensor& b) {
  return compare("le", a, b, [](auto x, auto y) { return x <= y; });
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return compare("gt", a, b, [](auto x, auto y) { return x > y; });
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return compare("ge", a, b, [](auto x, auto y) { return x >= y; });
}

IndexTensor eq(const IndexTensor& a, const IndexTensor& b) {
  const Shape out = broadcast_shapes("eq", a.shape(), b.shape());
  std::vector<std::int64_t> r(checked_numel("eq", out));
  broadcast_walk(a.shape(), b.shape(), out, [&](std::size_t i, std::size_t ia, std::size_t ib) {
    r[i] = a[ia] == b[ib] ? 1 : 0;
  });
  return IndexTensor(out, std::move(r));
}

}  // namespace tapegrad
