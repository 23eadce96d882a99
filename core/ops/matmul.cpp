#include <algorithm>
#include <stdexcept>
#include <tapegrad/core/blas/gemm.hpp>
#include <tapegrad/core/detail/ops_common.hpp>
#include <tapegrad/core/ops/arithmetic.hpp>
#include <tapegrad/core/ops/matmul.hpp>
#include <tapegrad/core/ops/shape.hpp>

namespace tapegrad {

using detail::new_array;

namespace {

// Offsets of each output batch into a broadcast operand's batch dims.
std::vector<std::size_t> batch_offsets(const Shape& out_batch, const Shape& in_batch,
                                       std::size_t matrix_size) {
  const std::size_t n = out_batch.size();
  std::vector<std::size_t> stride(n, 0);
  std::size_t s = matrix_size;
  for (std::size_t i = n; i-- > 0;) {
    const std::size_t k = i + in_batch.size() >= n ? i + in_batch.size() - n : SIZE_MAX;
    const std::size_t extent = k == SIZE_MAX ? 1 : in_batch[k];
    stride[i] = extent == 1 ? 0 : s;
    s *= extent;
  }
  std::size_t total = 1;
  for (auto d : out_batch) total *= d;
  std::vector<std::size_t> offs(total);
  for (std::size_t b = 0; b < total; ++b) {
    std::size_t rem = b, off = 0;
    for (std::size_t i = n; i-- > 0;) {
      off += (rem % out_batch[i]) * stride[i];
      rem /= out_batch[i];
    }
    offs[b] = off;
  }
  return offs;
}

}  // namespace

Tensor matmul_t(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  check_defined("matmul", a, "first operand");
  check_defined("matmul", b, "second operand");
  check_same_dtype("matmul", a, b);
  const Shape sa = a.shape(), sb = b.shape();
  if (sa.size() < 2 || sb.size() < 2)
    throw std::invalid_argument("matmul_t: both operands need at least 2 dimensions, got " +
                                shape_str(sa) + " and " + shape_str(sb));
  const std::size_t ra = sa[sa.size() - 2], ca = sa.back(), rb = sb[sb.size() - 2], cb = sb.back();
  const std::size_t m = ta ? ca : ra, k = ta ? ra : ca, n = tb ? rb : cb;
  if ((tb ? cb : rb) != k)
    throw std::invalid_argument("matmul: mat1 and mat2 shapes cannot be multiplied (" +
                                std::to_string(m) + "x" + std::to_string(k) + " and " +
                                std::to_string(tb ? cb : rb) + "x" + std::to_string(n) + ")");
  const Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  Shape so = broadcast_shapes("matmul", ba, bb);
  const auto offa = batch_offsets(so, ba, m * k);
  const auto offb = batch_offsets(so, bb, k * n);
  so.push_back(m);
  so.push_back(n);
  Tensor out = dispatch(a.dtype(), [&]<class T>() {
    Array<T> y = new_array<T>("matmul", so);
    const T* pa = a.value<T>().data();
    const T* pb = b.value<T>().data();
    if (k == 0)
      std::fill(y.begin(), y.end(), T(0));
    else
      for (std::size_t i = 0; i < offa.size(); ++i)
        blas::gemm<T>(ta, tb, m, n, k, T(1), pa + offa[i], ta ? m : k, pb + offb[i], tb ? k : n,
                      T(0), y.data() + i * m * n, n);
    return Tensor::from_array(std::move(y));
  });
  // C = op(A)·op(B): dop(A) = dC·op(B)ᵀ, dop(B) = op(A)ᵀ·dC, then undo the transposes
  // and sum over batch dims that were broadcast.
  return record(
      "matmul", out, {a, b},
      [ta, tb](const GradContext& ctx) {
        const Tensor& g = ctx.grad_output();
        const Tensor& x = ctx.input(0);
        const Tensor& y = ctx.input(1);
        if (ctx.needs_grad(0)) {
          const Tensor da = ta ? matmul_t(y, g, tb, true) : matmul_t(g, y, false, !tb);
          ctx.accumulate(0, sum_to(da, x.shape()));
        }
        if (ctx.needs_grad(1)) {
          const Tensor db = tb ? matmul_t(g, x, true, ta) : matmul_t(x, g, !ta, false);
          ctx.accumulate(1, sum_to(db, y.shape()));
        }
      },
      Saved{(b.requires_grad() ? 1u : 0u) | (a.requires_grad() ? 2u : 0u), false});
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_defined("matmul", a, "first operand");
  check_defined("matmul", b, "second operand");
  check_same_dtype("matmul", a, b);
  if (a.dim() == 0 || b.dim() == 0)
    throw std::invalid_argument("matmul: both arguments need to be at least 1D, but they are " +
                                std::to_string(a.dim()) + "D and " + std::to_string(b.dim()) + "D");
  // 1-d operands become a row (left) or a column (right), and that dim is removed after.
  const bool va = a.dim() == 1, vb = b.dim() == 1;
  if (va && vb && a.size(0) != b.size(0))
    throw std::invalid_argument(
        "matmul: inconsistent tensor size, expected tensor [" + std::to_string(a.size(0)) +
        "] and src [" + std::to_string(b.size(0)) +
        "] to have the same number of elements, but got " + std::to_string(a.size(0)) + " and " +
        std::to_string(b.size(0)) + " elements respectively");
  Tensor a2 = va ? reshape(a, {1, static_cast<std::int64_t>(a.size(0))}) : a;
  Tensor b2 = vb ? reshape(b, {static_cast<std::int64_t>(b.size(0)), 1}) : b;
  Tensor y = matmul_t(a2, b2, false, false);
  if (!va && !vb) return y;
  const Shape ys = y.shape();
  std::vector<std::int64_t> s(ys.begin(), ys.end());
  if (vb) s.erase(s.end() - 1);
  if (va) s.erase(s.end() - 1 - (vb ? 0 : 1));
  return reshape(y, s);
}

}  // namespace tapegrad
