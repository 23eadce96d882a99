// libFuzzer target: the convolutions' argument checks. The bytes choose a conv2d or a
// conv_transpose2d call (shapes, stride, padding incl. 'same'/'valid' and the padding
// modes, dilation, groups, output_padding, output_size, bias), with values drawn from
// small sizes and from the edges of 64-bit arithmetic. Every call must either be
// rejected with std::invalid_argument before any work (or tapegrad::OutOfMemory, naming the
// op, when it is valid but needs more memory than there is), or, on a small input, compute
// the output a naive loop computes and gradients that satisfy the adjoint identities.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <stdexcept>
#include <tapegrad/tapegrad.hpp>
#include <vector>

using namespace tapegrad;
using I = std::int64_t;

namespace {

class Bytes {
 public:
  Bytes(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  std::uint8_t next() { return i_ < n_ ? d_[i_++] : 0; }
  // A size: mostly small, sometimes at the edges of int64.
  I size(I small_max) {
    const std::uint8_t b = next();
    static const I edges[] = {0,          -1,         -7,         std::numeric_limits<I>::max(),
                              I(1) << 62, I(1) << 61, I(1) << 31, (I(1) << 31) - 1,
                              I(1) << 32, I(1) << 48};
    if (b < 224) return b % (small_max + 1);
    return edges[b % 10];
  }

 private:
  const std::uint8_t* d_;
  std::size_t n_, i_ = 0;
};

std::size_t numel(const Shape& s) {
  std::size_t n = 1;
  for (std::size_t v : s) n *= v;
  return n;
}

Tensor filled(const Shape& s, double seed) {
  Array<double> a = Array<double>::from_shape(s);
  for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = std::sin(seed + 0.7 * double(i));
  return Tensor::from(std::move(a));
}

double dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  const auto& x = a.cvalue<double>();
  const auto& y = b.cvalue<double>();
  for (std::size_t i = 0; i < x.size(); ++i) s += x.data()[i] * y.data()[i];
  return s;
}

// y[n, o, i, j] = b[o] + Σ w[o, c, u, v] · x̃[n, g·Cg + c, s·i − p + d·u, s·j − p + d·v].
Array<double> naive_conv2d(const Array<double>& x, const Array<double>& w, const Tensor& b,
                           const kernels::Conv2dGeometry& g) {
  Array<double> y = Array<double>::from_shape({std::size_t(g.batch), std::size_t(g.out_channels),
                                               std::size_t(g.out_h), std::size_t(g.out_w)});
  const I cg = g.in_channels / g.groups, og = g.out_channels / g.groups;
  auto src = [&](I v, I size) -> I {  // padded coordinate -> input coordinate, or -1
    if (v >= 0 && v < size) return v;
    switch (g.padding_mode) {
      case kernels::PaddingMode::Reflect:
        return v < 0 ? -v : 2 * (size - 1) - v;
      case kernels::PaddingMode::Replicate:
        return v < 0 ? 0 : size - 1;
      case kernels::PaddingMode::Circular:
        return ((v % size) + size) % size;
      default:
        return -1;
    }
  };
  for (I n = 0; n < g.batch; ++n)
    for (I o = 0; o < g.out_channels; ++o)
      for (I i = 0; i < g.out_h; ++i)
        for (I j = 0; j < g.out_w; ++j) {
          double acc = b.defined() ? b.cvalue<double>()(o) : 0.0;
          for (I c = 0; c < cg; ++c)
            for (I u = 0; u < g.kernel_h; ++u)
              for (I v = 0; v < g.kernel_w; ++v) {
                const I h = src(g.stride_h * i - g.pad_top + g.dilation_h * u, g.in_h);
                const I ww = src(g.stride_w * j - g.pad_left + g.dilation_w * v, g.in_w);
                if (h < 0 || ww < 0) continue;
                acc += w(o, c, u, v) * x(n, (o / og) * cg + c, h, ww);
              }
          y(n, o, i, j) = acc;
        }
  return y;
}

[[noreturn]] void wrong(const char* what) {
  std::fprintf(stderr, "fuzz_conv_args: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Bytes in(data, size);
  const bool transposed = in.next() & 1;
  const bool batched = !(in.next() % 5 == 0);
  const bool bias = in.next() & 1;
  Shape x_shape;
  if (batched) x_shape.push_back(std::size_t(in.size(3)));
  for (int k = 0; k < 3; ++k) x_shape.push_back(std::size_t(in.size(k == 0 ? 4 : 6)));
  const Shape w_shape{std::size_t(in.size(4)), std::size_t(in.size(3)), std::size_t(in.size(4)),
                      std::size_t(in.size(4))};
  const std::vector<I> stride{in.size(3), in.size(3)}, padding{in.size(3), in.size(3)},
      dilation{in.size(3), in.size(3)}, output_padding{in.size(2), in.size(2)};
  const I groups = in.size(3);
  const std::uint8_t mode_byte = in.next();
  const std::uint8_t kind = in.next();
  try {
    if (!transposed) {
      kernels::Conv2dOptions o;
      o.stride(stride).dilation(dilation).groups(groups);
      if (kind % 8 == 0)
        o.padding("same");
      else if (kind % 8 == 1)
        o.padding("valid");
      else
        o.padding(padding);
      o.padding_mode(static_cast<kernels::PaddingMode>(mode_byte % 4));
      const std::optional<Shape> b_shape =
          bias ? std::optional<Shape>(Shape{w_shape[0]}) : std::nullopt;
      const kernels::Conv2dGeometry g = kernels::check_conv2d(x_shape, w_shape, b_shape, o);
      // Valid, but too big to check by loops (or to pad explicitly in memory).
      const double padded = double(g.batch) * double(g.in_channels) *
                            double(g.in_h + g.pad_top + g.pad_bottom) *
                            double(g.in_w + g.pad_left + g.pad_right);
      if (numel(x_shape) > 4096 || numel(g.output_shape()) > 4096 || numel(w_shape) > 4096 ||
          (kernels::has_explicit_padding(g) && padded > 4096))
        return 0;
      Tensor x = filled(x_shape, 1.0), w = filled(w_shape, 2.0);
      Tensor b = bias ? filled({w_shape[0]}, 3.0) : Tensor();
      x.requires_grad_(), w.requires_grad_();
      Tensor y = conv2d(x, w, b, o);
      if (y.shape() != g.output_shape()) wrong("conv2d output shape");
      Array<double> x4 = x.cvalue<double>(), ref;
      if (!batched) x4.reshape({1, x_shape[0], x_shape[1], x_shape[2]});
      kernels::Conv2dGeometry g4 = g;
      ref = naive_conv2d(x4, w.cvalue<double>(), b, g4);
      const auto& yv = y.cvalue<double>();
      for (std::size_t i = 0; i < ref.size(); ++i)
        if (std::abs(yv.data()[i] - ref.data()[i]) > 1e-9 * (1 + std::abs(ref.data()[i])))
          wrong("conv2d forward differs from the naive loop");
      // y is linear in x and in w: ⟨∂⟨y, r⟩/∂x, dx⟩ + ⟨∂⟨y, r⟩/∂w, dw⟩ must equal
      // ⟨conv(dx, w), r⟩ + ⟨conv(x, dw), r⟩, which checks dL/dx and dL/dw.
      Tensor r = filled(y.shape(), 4.0);
      sum(y * r).backward();
      Tensor dx = filled(x_shape, 5.0), dw = filled(w_shape, 6.0);
      NoGradGuard no_grad;
      const double lhs = dot(x.grad(), dx) + dot(w.grad(), dw);
      const Tensor ydx = conv2d(dx, w.detach(), Tensor(), o),
                   ydw = conv2d(x.detach(), dw, Tensor(), o);
      const double rhs = dot(ydx, r) + dot(ydw, r);
      if (std::abs(lhs - rhs) > 1e-8 * (1 + std::abs(rhs))) wrong("conv2d gradients");
    } else {
      kernels::ConvTranspose2dOptions o;
      o.stride(stride).padding(padding).dilation(dilation).groups(groups).output_padding(
          output_padding);
      std::optional<std::vector<I>> output_size;
      if (kind % 4 == 0) output_size = std::vector<I>{in.size(12), in.size(12)};
      const kernels::Conv2dGeometry g =
          kernels::check_conv_transpose2d(x_shape, w_shape, std::nullopt, o, output_size);
      if (numel(x_shape) > 4096 || numel(g.output_shape()) > 4096 || numel(w_shape) > 4096)
        return 0;
      Tensor x = filled(x_shape, 1.0), w = filled(w_shape, 2.0);
      x.requires_grad_(), w.requires_grad_();
      Tensor y = conv_transpose2d(x, w, Tensor(), o, output_size);
      if (y.shape() != g.output_shape()) wrong("conv_transpose2d output shape");
      // conv_transpose2d is the adjoint of the convolution with the same weight:
      // ⟨T(x), z⟩ = ⟨x, C(z)⟩, with C its input gradient.
      Tensor z = filled(y.shape(), 7.0);
      sum(y * z).backward();
      const double lhs = dot(y, z);
      const double rhs = dot(x.detach(), x.grad());
      if (std::abs(lhs - rhs) > 1e-8 * (1 + std::abs(rhs))) wrong("conv_transpose2d adjoint");
    }
  } catch (const std::invalid_argument&) {
  } catch (const OutOfMemory&) {
    // Valid but beyond memory (e.g. reflect/replicate padding of 2^40 on a tiny input,
    // which like PyTorch pads explicitly): a clean, named error is the right outcome.
  }
  return 0;
}
