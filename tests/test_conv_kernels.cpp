// The convolution kernels (core/kernels) against naive loop references written
// straight from the index formulas, the adjoint identity between conv2d and
// conv_transpose2d, im2col/col2im, and every rejected argument with its message.
// No libtorch here: tests/parity_conv.cpp compares against PyTorch.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <tapegrad/core/kernels/conv2d.hpp>
#include <vector>
#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

using namespace tapegrad::kernels;
using tapegrad::Shape;
using tapegrad::shape_str;
using I = std::int64_t;

namespace {

// ---- helpers --------------------------------------------------------------------

tapegrad::Array<double> random_array(const Shape& shape, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  tapegrad::Array<double> a = tapegrad::Array<double>::from_shape(shape);
  for (double& v : a) v = dist(rng);
  return a;
}

Shape shape_of(const tapegrad::Array<double>& a) {
  return Shape(a.shape().begin(), a.shape().end());
}

// max |got − ref| relative to max(1, max |ref|): round-off in double stays ~1e-15.
double rel_error(const tapegrad::Array<double>& got, const tapegrad::Array<double>& ref) {
  REQUIRE(shape_str(shape_of(got)) == shape_str(shape_of(ref)));
  double err = 0.0, scale = 1.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    err = std::max(err, std::abs(got.data()[i] - ref.data()[i]));
    scale = std::max(scale, std::abs(ref.data()[i]));
  }
  return err / scale;
}

double dot(const tapegrad::Array<double>& a, const tapegrad::Array<double>& b) {
  REQUIRE(a.size() == b.size());
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a.data()[i] * b.data()[i];
  return s;
}

// Where padded coordinate h (h < 0 or h >= size is padding) reads from, or -1 for a
// zero. Written from the definitions of the padding modes.
I source_index(I h, I size, PaddingMode mode) {
  if (h >= 0 && h < size) return h;
  switch (mode) {
    case PaddingMode::Zeros:
      return -1;
    case PaddingMode::Reflect:
      return h < 0 ? -h : 2 * (size - 1) - h;
    case PaddingMode::Replicate:
      return h < 0 ? 0 : size - 1;
    case PaddingMode::Circular:
      return h < 0 ? h + size : h - size;
  }
  return -1;
}

// Geometry of a reference call, in the notation of the index formula.
struct Ref {
  I n, cin, h, w;  // input
  I cout, ho, wo;  // output
  I kh, kw, groups;
  I sh, sw, ph, pw;  // ph, pw: top/left padding
  I dh, dw;
  PaddingMode mode = PaddingMode::Zeros;
};

// 4-D index into a contiguous [N, C, H, W] array.
inline I at(I c_, I h_, I w_, I n, I c, I h, I w) { return ((n * c_ + c) * h_ + h) * w_ + w; }

// y[n,o,i,j] = b[o] + Σ_{c,u,v} W[o,c,u,v] · x[n, g·C_in/g + c, s·i − p + d·u, s·j − p + d·v]
// together with its three gradients for a given dL/dy, all by direct loops.
struct ConvRefResult {
  tapegrad::Array<double> y, dx, dw, db;
};

ConvRefResult conv_reference(const Ref& r, const tapegrad::Array<double>& x,
                             const tapegrad::Array<double>& w, const tapegrad::Array<double>* b,
                             const tapegrad::Array<double>& dy) {
  const I cin_g = r.cin / r.groups, cout_g = r.cout / r.groups;
  ConvRefResult out;
  out.y = xt::zeros<double>(
      {std::size_t(r.n), std::size_t(r.cout), std::size_t(r.ho), std::size_t(r.wo)});
  out.dx =
      xt::zeros<double>({std::size_t(r.n), std::size_t(r.cin), std::size_t(r.h), std::size_t(r.w)});
  out.dw = xt::zeros<double>(w.shape());
  out.db = xt::zeros<double>({std::size_t(r.cout)});
  for (I n = 0; n < r.n; ++n)
    for (I o = 0; o < r.cout; ++o) {
      const I g = o / cout_g;
      for (I i = 0; i < r.ho; ++i)
        for (I j = 0; j < r.wo; ++j) {
          const I yi = at(r.cout, r.ho, r.wo, n, o, i, j);
          double acc = b ? (*b)(o) : 0.0;
          const double gy = dy.data()[yi];
          for (I c = 0; c < cin_g; ++c)
            for (I u = 0; u < r.kh; ++u)
              for (I v = 0; v < r.kw; ++v) {
                const I hs = source_index(r.sh * i - r.ph + r.dh * u, r.h, r.mode);
                const I ws = source_index(r.sw * j - r.pw + r.dw * v, r.w, r.mode);
                if (hs < 0 || ws < 0) continue;
                const I xi = at(r.cin, r.h, r.w, n, g * cin_g + c, hs, ws);
                const I wi = at(cin_g, r.kh, r.kw, o, c, u, v);
                acc += w.data()[wi] * x.data()[xi];
                out.dx.data()[xi] += w.data()[wi] * gy;
                out.dw.data()[wi] += gy * x.data()[xi];
              }
          out.y.data()[yi] = acc;
          out.db(o) += gy;
        }
    }
  return out;
}

// The transposed convolution in its scatter form: every input element x[n, c, i, j]
// adds x · W[c, o, u, v] to y[n, g·C_out/g + o, s·i − p + d·u, s·j − p + d·v]
// (dropped when outside the output), with its gradients by the same loops.
ConvRefResult conv_transpose_reference(const Ref& r, const tapegrad::Array<double>& x,
                                       const tapegrad::Array<double>& w,
                                       const tapegrad::Array<double>* b,
                                       const tapegrad::Array<double>& dy) {
  const I cin_g = r.cin / r.groups, cout_g = r.cout / r.groups;
  ConvRefResult out;
  out.y = xt::zeros<double>(
      {std::size_t(r.n), std::size_t(r.cout), std::size_t(r.ho), std::size_t(r.wo)});
  out.dx = xt::zeros<double>(x.shape());
  out.dw = xt::zeros<double>(w.shape());
  out.db = xt::zeros<double>({std::size_t(r.cout)});
  for (I n = 0; n < r.n; ++n) {
    for (I o = 0; o < r.cout; ++o)
      for (I h = 0; h < r.ho; ++h)
        for (I q = 0; q < r.wo; ++q) {
          const I yi = at(r.cout, r.ho, r.wo, n, o, h, q);
          if (b) out.y.data()[yi] = (*b)(o);
          out.db(o) += dy.data()[yi];
        }
    for (I c = 0; c < r.cin; ++c) {
      const I g = c / cin_g;
      for (I i = 0; i < r.h; ++i)
        for (I j = 0; j < r.w; ++j) {
          const I xi = at(r.cin, r.h, r.w, n, c, i, j);
          for (I o = 0; o < cout_g; ++o)
            for (I u = 0; u < r.kh; ++u)
              for (I v = 0; v < r.kw; ++v) {
                const I h = r.sh * i - r.ph + r.dh * u;
                const I q = r.sw * j - r.pw + r.dw * v;
                if (h < 0 || h >= r.ho || q < 0 || q >= r.wo) continue;
                const I yi = at(r.cout, r.ho, r.wo, n, g * cout_g + o, h, q);
                const I wi = at(cout_g, r.kh, r.kw, c, o, u, v);
                out.y.data()[yi] += x.data()[xi] * w.data()[wi];
                out.dx.data()[xi] += w.data()[wi] * dy.data()[yi];
                out.dw.data()[wi] += x.data()[xi] * dy.data()[yi];
              }
        }
    }
  }
  return out;
}

// ---- random configurations ----------------------------------------------------------

struct ConvCase {
  Conv2dOptions opts;
  Ref ref;
  bool unbatched = false;
  bool bias = true;
  std::string text;
};

I pick(std::mt19937_64& rng, I lo, I hi) { return std::uniform_int_distribution<I>(lo, hi)(rng); }

// A valid conv2d configuration; validity is decided here from PyTorch's rules, not by
// the library's check.
ConvCase random_conv_case(std::mt19937_64& rng) {
  ConvCase cc;
  Ref& r = cc.ref;
  r.groups = std::vector<I>{1, 1, 2, 3}[std::size_t(pick(rng, 0, 3))];
  r.cin = r.groups * pick(rng, 1, 3);
  r.cout = r.groups * pick(rng, 1, 3);
  r.kh = pick(rng, 1, 4);
  r.kw = pick(rng, 1, 4);
  r.dh = pick(rng, 1, 3);
  r.dw = pick(rng, 1, 3);
  r.sh = pick(rng, 1, 3);
  r.sw = pick(rng, 1, 3);
  const I kind = pick(rng, 0, 9);  // 0-6 explicit, 7-8 same, 9 valid
  I pt, pb, pl, pr;
  if (kind <= 6) {
    pt = pb = pick(rng, 0, 2);
    pl = pr = pick(rng, 0, 2);
    cc.opts.padding({pt, pl});
  } else if (kind <= 8) {
    r.sh = r.sw = 1;
    const I th = r.dh * (r.kh - 1), tw = r.dw * (r.kw - 1);
    pt = th / 2, pb = th - pt, pl = tw / 2, pr = tw - pl;
    cc.opts.padding("same");
  } else {
    pt = pb = pl = pr = 0;
    cc.opts.padding("valid");
  }
  const I m = pick(rng, 0, 9);
  r.mode = m < 5 ? PaddingMode::Zeros
                 : std::vector<PaddingMode>{PaddingMode::Reflect, PaddingMode::Replicate,
                                            PaddingMode::Circular}[std::size_t(m % 3)];
  // Sizes: the padded input must hold the dilated kernel; reflect needs pad < size,
  // circular pad <= size.
  const I need_h = std::max<I>(1, r.dh * (r.kh - 1) + 1 - pt - pb);
  const I need_w = std::max<I>(1, r.dw * (r.kw - 1) + 1 - pl - pr);
  const I mode_h = r.mode == PaddingMode::Reflect    ? std::max(pt, pb) + 1
                   : r.mode == PaddingMode::Circular ? std::max(pt, pb)
                                                     : 1;
  const I mode_w = r.mode == PaddingMode::Reflect    ? std::max(pl, pr) + 1
                   : r.mode == PaddingMode::Circular ? std::max(pl, pr)
                                                     : 1;
  r.h = std::max(need_h, mode_h) + pick(rng, 0, 5);
  r.w = std::max(need_w, mode_w) + pick(rng, 0, 5);
  r.ph = pt;
  r.pw = pl;
  r.ho = (r.h + pt + pb - r.dh * (r.kh - 1) - 1) / r.sh + 1;
  r.wo = (r.w + pl + pr - r.dw * (r.kw - 1) - 1) / r.sw + 1;
  const I nb = pick(rng, 0, 9);
  cc.unbatched = nb == 0;
  r.n = cc.unbatched ? 1 : (nb == 1 ? 0 : pick(rng, 1, 3));
  cc.bias = pick(rng, 0, 3) != 0;
  cc.opts.stride({r.sh, r.sw}).dilation({r.dh, r.dw}).groups(r.groups).padding_mode(r.mode);
  cc.text = "conv2d N=" + std::to_string(r.n) + (cc.unbatched ? "(unbatched)" : "") +
            " C_in=" + std::to_string(r.cin) + " C_out=" + std::to_string(r.cout) +
            " HxW=" + std::to_string(r.h) + "x" + std::to_string(r.w) +
            " k=" + std::to_string(r.kh) + "x" + std::to_string(r.kw) +
            " s=" + std::to_string(r.sh) + "," + std::to_string(r.sw) +
            " pad=" + std::to_string(pt) + "/" + std::to_string(pb) + "," + std::to_string(pl) +
            "/" + std::to_string(pr) + " d=" + std::to_string(r.dh) + "," + std::to_string(r.dw) +
            " g=" + std::to_string(r.groups) + " mode=" + padding_mode_name(r.mode);
  return cc;
}

struct TransposeCase {
  ConvTranspose2dOptions opts;
  std::optional<std::vector<I>> output_size;
  Ref ref;
  bool unbatched = false;
  bool bias = true;
  std::string text;
};

TransposeCase random_transpose_case(std::mt19937_64& rng) {
  TransposeCase tc;
  Ref& r = tc.ref;
  for (;;) {
    r.groups = std::vector<I>{1, 1, 2, 3}[std::size_t(pick(rng, 0, 3))];
    r.cin = r.groups * pick(rng, 1, 3);
    r.cout = r.groups * pick(rng, 1, 3);
    r.kh = pick(rng, 1, 4);
    r.kw = pick(rng, 1, 4);
    r.dh = pick(rng, 1, 3);
    r.dw = pick(rng, 1, 3);
    r.sh = pick(rng, 1, 3);
    r.sw = pick(rng, 1, 3);
    r.ph = pick(rng, 0, 2);
    r.pw = pick(rng, 0, 2);
    r.h = pick(rng, 1, 6);
    r.w = pick(rng, 1, 6);
    // output_padding: anything below the stride or the dilation.
    I oph = pick(rng, 0, std::max(r.sh, r.dh) - 1), opw = pick(rng, 0, std::max(r.sw, r.dw) - 1);
    const bool use_output_size = pick(rng, 0, 4) == 0;
    if (use_output_size) {  // output_size allows [min, min + stride − 1]
      oph = pick(rng, 0, r.sh - 1);
      opw = pick(rng, 0, r.sw - 1);
    }
    r.ho = (r.h - 1) * r.sh - 2 * r.ph + r.dh * (r.kh - 1) + oph + 1;
    r.wo = (r.w - 1) * r.sw - 2 * r.pw + r.dw * (r.kw - 1) + opw + 1;
    if (r.ho < 1 || r.wo < 1) continue;
    const I nb = pick(rng, 0, 9);
    tc.unbatched = nb == 0;
    r.n = tc.unbatched ? 1 : (nb == 1 ? 0 : pick(rng, 1, 3));
    tc.bias = pick(rng, 0, 3) != 0;
    tc.opts.stride({r.sh, r.sw}).padding({r.ph, r.pw}).dilation({r.dh, r.dw}).groups(r.groups);
    if (use_output_size) {
      tc.output_size = std::vector<I>{r.ho, r.wo};
      if (pick(rng, 0, 1) == 0) {  // the full shape form
        if (tc.unbatched)
          tc.output_size = std::vector<I>{r.cout, r.ho, r.wo};
        else
          tc.output_size = std::vector<I>{r.n, r.cout, r.ho, r.wo};
      }
    } else {
      tc.opts.output_padding({oph, opw});
    }
    tc.text = "conv_transpose2d N=" + std::to_string(r.n) + (tc.unbatched ? "(unbatched)" : "") +
              " C_in=" + std::to_string(r.cin) + " C_out=" + std::to_string(r.cout) +
              " HxW=" + std::to_string(r.h) + "x" + std::to_string(r.w) +
              " k=" + std::to_string(r.kh) + "x" + std::to_string(r.kw) +
              " s=" + std::to_string(r.sh) + "," + std::to_string(r.sw) +
              " p=" + std::to_string(r.ph) + "," + std::to_string(r.pw) +
              " op=" + std::to_string(oph) + "," + std::to_string(opw) +
              (use_output_size ? "(output_size)" : "") + " d=" + std::to_string(r.dh) + "," +
              std::to_string(r.dw) + " g=" + std::to_string(r.groups);
    return tc;
  }
}

Shape input_shape_of(const Ref& r, bool unbatched) {
  if (unbatched) return {std::size_t(r.cin), std::size_t(r.h), std::size_t(r.w)};
  return {std::size_t(r.n), std::size_t(r.cin), std::size_t(r.h), std::size_t(r.w)};
}

Shape output_shape_of(const Ref& r, bool unbatched) {
  if (unbatched) return {std::size_t(r.cout), std::size_t(r.ho), std::size_t(r.wo)};
  return {std::size_t(r.n), std::size_t(r.cout), std::size_t(r.ho), std::size_t(r.wo)};
}

// The reference works on 4-D arrays; unbatched arrays are the same data with N = 1.
tapegrad::Array<double> as_shape(const tapegrad::Array<double>& a, const Shape& s) {
  tapegrad::Array<double> b = tapegrad::Array<double>::from_shape(s);
  std::copy(a.data(), a.data() + a.size(), b.data());
  return b;
}

constexpr double kTol = 1e-12;

void run_conv_case(const ConvCase& cc, std::mt19937_64& rng) {
  CAPTURE(cc.text);
  const Ref& r = cc.ref;
  const Shape xs = input_shape_of(r, cc.unbatched), ys = output_shape_of(r, cc.unbatched);
  const tapegrad::Array<double> x = random_array(xs, rng);
  const tapegrad::Array<double> w = random_array(
      {std::size_t(r.cout), std::size_t(r.cin / r.groups), std::size_t(r.kh), std::size_t(r.kw)},
      rng);
  const tapegrad::Array<double> b = random_array({std::size_t(r.cout)}, rng);
  const tapegrad::Array<double> dy = random_array(ys, rng);
  const tapegrad::Array<double>* bp = cc.bias ? &b : nullptr;

  const ConvRefResult ref = conv_reference(r, x, w, bp, dy);
  CHECK(shape_str(conv2d_output_shape(xs, shape_of(w), cc.opts)) == shape_str(ys));
  CHECK(rel_error(conv2d_forward(x, w, bp, cc.opts), as_shape(ref.y, ys)) < kTol);
  CHECK(rel_error(conv2d_backward_input(dy, w, xs, cc.opts), as_shape(ref.dx, xs)) < kTol);
  CHECK(rel_error(conv2d_backward_weight(dy, x, shape_of(w), cc.opts), ref.dw) < kTol);
  CHECK(rel_error(conv2d_backward_bias(dy), ref.db) < kTol);
}

void run_transpose_case(const TransposeCase& tc, std::mt19937_64& rng) {
  CAPTURE(tc.text);
  const Ref& r = tc.ref;
  const Shape xs = input_shape_of(r, tc.unbatched), ys = output_shape_of(r, tc.unbatched);
  const tapegrad::Array<double> x = random_array(xs, rng);
  const tapegrad::Array<double> w = random_array(
      {std::size_t(r.cin), std::size_t(r.cout / r.groups), std::size_t(r.kh), std::size_t(r.kw)},
      rng);
  const tapegrad::Array<double> b = random_array({std::size_t(r.cout)}, rng);
  const tapegrad::Array<double> dy = random_array(ys, rng);
  const tapegrad::Array<double>* bp = tc.bias ? &b : nullptr;

  const ConvRefResult ref = conv_transpose_reference(r, x, w, bp, dy);
  CHECK(shape_str(conv_transpose2d_output_shape(xs, shape_of(w), tc.opts, tc.output_size)) ==
        shape_str(ys));
  CHECK(rel_error(conv_transpose2d_forward(x, w, bp, tc.opts, tc.output_size),
                  as_shape(ref.y, ys)) < kTol);
  CHECK(rel_error(conv_transpose2d_backward_input(dy, w, xs, tc.opts), as_shape(ref.dx, xs)) <
        kTol);
  CHECK(rel_error(conv_transpose2d_backward_weight(dy, x, shape_of(w), tc.opts), ref.dw) < kTol);
  CHECK(rel_error(conv_transpose2d_backward_bias(dy), ref.db) < kTol);
}

}  // namespace

// ---- against the naive references --------------------------------------------------------

TEST_CASE("conv2d kernels: forward and gradients match the naive loops, random sweep") {
  std::mt19937_64 rng(20240601);
  for (int i = 0; i < 300; ++i) run_conv_case(random_conv_case(rng), rng);
}

TEST_CASE("conv_transpose2d kernels: forward and gradients match the naive loops, random sweep") {
  std::mt19937_64 rng(20240602);
  for (int i = 0; i < 300; ++i) run_transpose_case(random_transpose_case(rng), rng);
}

namespace {

ConvCase fixed_conv_case(I n, I cin, I cout, I h, I w, I k, I s, I p, I d, I g,
                         PaddingMode mode = PaddingMode::Zeros) {
  ConvCase cc;
  Ref& r = cc.ref;
  r = Ref{n, cin, h, w, cout, 0, 0, k, k, g, s, s, p, p, d, d, mode};
  r.ho = (h + 2 * p - d * (k - 1) - 1) / s + 1;
  r.wo = (w + 2 * p - d * (k - 1) - 1) / s + 1;
  cc.opts.stride(s).padding(p).dilation(d).groups(g).padding_mode(mode);
  cc.text = "fixed conv2d N=" + std::to_string(n) + " " + std::to_string(cin) + "->" +
            std::to_string(cout) + " " + std::to_string(h) + "x" + std::to_string(w) +
            " k=" + std::to_string(k) + " s=" + std::to_string(s) + " p=" + std::to_string(p) +
            " d=" + std::to_string(d) + " g=" + std::to_string(g);
  return cc;
}

TransposeCase fixed_transpose_case(I n, I cin, I cout, I h, I w, I k, I s, I p, I op, I d, I g) {
  TransposeCase tc;
  Ref& r = tc.ref;
  r = Ref{n, cin, h, w, cout, 0, 0, k, k, g, s, s, p, p, d, d, PaddingMode::Zeros};
  r.ho = (h - 1) * s - 2 * p + d * (k - 1) + op + 1;
  r.wo = (w - 1) * s - 2 * p + d * (k - 1) + op + 1;
  tc.opts.stride(s).padding(p).output_padding(op).dilation(d).groups(g);
  tc.text = "fixed conv_transpose2d N=" + std::to_string(n) + " " + std::to_string(cin) + "->" +
            std::to_string(cout) + " " + std::to_string(h) + "x" + std::to_string(w) +
            " k=" + std::to_string(k) + " s=" + std::to_string(s) + " p=" + std::to_string(p) +
            " op=" + std::to_string(op) + " d=" + std::to_string(d) + " g=" + std::to_string(g);
  return tc;
}

}  // namespace

TEST_CASE("conv2d kernels: pointwise 1x1 path, with and without groups and batch") {
  std::mt19937_64 rng(7);
  for (I n : {1, 3})
    for (I g : {1, 2}) {
      run_conv_case(fixed_conv_case(n, 4, 6, 5, 3, 1, 1, 0, 1, g), rng);
      run_transpose_case(fixed_transpose_case(n, 4, 6, 5, 3, 1, 1, 0, 0, 1, g), rng);
    }
  // 1×1 but not pointwise: stride, padding, and output_padding below the dilation
  // (the transposed output then has one row more than the conv formula maps back).
  run_conv_case(fixed_conv_case(2, 3, 2, 6, 6, 1, 2, 0, 1, 1), rng);
  run_conv_case(fixed_conv_case(2, 3, 2, 6, 6, 1, 1, 1, 1, 1), rng);
  run_transpose_case(fixed_transpose_case(2, 3, 2, 4, 4, 1, 2, 0, 1, 1, 1), rng);
  run_transpose_case(fixed_transpose_case(1, 3, 2, 4, 4, 1, 1, 0, 1, 2, 1), rng);
  run_transpose_case(fixed_transpose_case(2, 3, 2, 4, 4, 3, 1, 1, 1, 2, 1), rng);
}

TEST_CASE("conv2d kernels: window covering the whole plane (dense path) and near misses") {
  std::mt19937_64 rng(17);
  for (I n : {1, 4}) {
    run_conv_case(fixed_conv_case(n, 6, 4, 5, 5, 5, 1, 0, 1, 1), rng);  // dense
    run_conv_case(fixed_conv_case(n, 6, 4, 5, 5, 5, 2, 0, 1, 2), rng);  // dense, groups
    run_transpose_case(fixed_transpose_case(n, 6, 4, 1, 1, 5, 1, 0, 0, 1, 2), rng);
    run_transpose_case(fixed_transpose_case(n, 6, 4, 1, 1, 5, 3, 0, 0, 1, 1), rng);
    // not dense: padding, dilation gaps, a 2×2 output
    run_conv_case(fixed_conv_case(n, 3, 4, 5, 5, 5, 1, 1, 1, 1), rng);
    run_conv_case(fixed_conv_case(n, 3, 4, 5, 5, 3, 1, 0, 2, 1), rng);
    run_conv_case(fixed_conv_case(n, 3, 4, 6, 6, 5, 1, 0, 1, 1), rng);
    run_transpose_case(fixed_transpose_case(n, 3, 4, 1, 1, 3, 1, 0, 0, 2, 1), rng);
  }
}

TEST_CASE("conv2d kernels: batches split into several chunks") {
  // Big enough that the column matrix of the whole batch exceeds the workspace budget,
  // so the batch is processed in chunks (2, 2, 1 samples here; 1 at a time for the
  // second) and the weight gradient accumulates across chunks.
  std::mt19937_64 rng(8);
  run_conv_case(fixed_conv_case(5, 32, 4, 70, 70, 3, 1, 1, 1, 1), rng);
  run_conv_case(fixed_conv_case(3, 64, 2, 64, 64, 3, 1, 1, 1, 2), rng);
  run_transpose_case(fixed_transpose_case(5, 4, 32, 70, 70, 3, 1, 1, 0, 1, 1), rng);
  // A sample's columns above the band budget (2^18 elements) go in bands of output
  // rows whose windows overlap: stride, dilation, padding larger than the band's first
  // rows, a last band shorter than the others, and a batch of one (serial bands with
  // the GEMMs split over the threads).
  run_conv_case(fixed_conv_case(1, 32, 8, 67, 67, 3, 2, 2, 2, 1), rng);
  run_conv_case(fixed_conv_case(3, 40, 6, 61, 59, 5, 1, 3, 1, 1), rng);
  run_transpose_case(fixed_transpose_case(2, 8, 32, 60, 60, 3, 1, 1, 0, 1, 1), rng);
  run_transpose_case(fixed_transpose_case(1, 6, 36, 31, 31, 3, 2, 1, 1, 2, 1), rng);
}

TEST_CASE("conv2d kernels: depthwise convolutions (direct kernels), every path") {
  // groups = C_in goes to core/kernels/depthwise.cpp: stride 1 takes the flat
  // padded-plane path, other strides the row-by-row one. Channel multipliers 1-3,
  // padding smaller and larger than the kernel reach, dilation, non-square planes and
  // batches both smaller and larger than the thread count.
  std::mt19937_64 rng(10);
  for (I s : {1, 2, 3})
    for (I p : {0, 1, 3})
      for (I d : {1, 2})
        for (I mult : {1, 3}) {
          if (19 + 2 * p - d * 2 - 1 < 0) continue;
          run_conv_case(fixed_conv_case(3, 4, 4 * mult, 19, 19, 3, s, p, d, 4), rng);
          run_transpose_case(
              fixed_transpose_case(3, 4, 4 * mult, 9, 9, 3, s, std::min<I>(p, 1), 0, d, 4), rng);
        }
  // rectangular kernels and planes, "same" padding with an even kernel
  ConvCase cc = fixed_conv_case(2, 6, 12, 11, 7, 3, 1, 1, 1, 6);
  cc.ref.kw = 2, cc.ref.pw = 0, cc.ref.wo = 7 - 2 + 1;
  cc.opts = Conv2dOptions{}.padding({1, 0}).groups(6);
  run_conv_case(cc, rng);
  ConvCase same = fixed_conv_case(2, 5, 5, 8, 9, 4, 1, 0, 1, 5);
  same.ref.ph = same.ref.pw = 1;  // the reference pads top/left by 1 (total 3: 1 + 2)
  same.ref.ho = 8, same.ref.wo = 9;
  same.opts = Conv2dOptions{}.padding("same").groups(5);
  run_conv_case(same, rng);
}

TEST_CASE("conv2d kernels: the autoencoder's layers") {
  std::mt19937_64 rng(9);
  run_conv_case(fixed_conv_case(2, 1, 16, 28, 28, 3, 2, 1, 1, 1), rng);
  run_conv_case(fixed_conv_case(2, 16, 32, 14, 14, 3, 2, 1, 1, 1), rng);
  run_conv_case(fixed_conv_case(2, 32, 64, 7, 7, 7, 1, 0, 1, 1), rng);
  run_transpose_case(fixed_transpose_case(2, 64, 32, 1, 1, 7, 1, 0, 0, 1, 1), rng);
  run_transpose_case(fixed_transpose_case(2, 32, 16, 7, 7, 3, 2, 1, 1, 1, 1), rng);
  run_transpose_case(fixed_transpose_case(2, 16, 1, 14, 14, 3, 2, 1, 1, 1, 1), rng);
}

TEST_CASE("conv2d kernels: same padding with an even kernel pads the bottom/right") {
  std::mt19937_64 rng(10);
  const tapegrad::Array<double> x = random_array({1, 1, 5, 6}, rng);
  const tapegrad::Array<double> w = random_array({1, 1, 4, 2}, rng);
  const auto y = conv2d_forward(x, w, nullptr, Conv2dOptions{}.padding("same"));
  CHECK(shape_str(shape_of(y)) == "[1, 1, 5, 6]");
  // Total padding 3 rows: 1 on top, 2 below; 1 column: 0 left, 1 right.
  tapegrad::Array<double> xp = xt::zeros<double>({1, 1, 8, 7});
  for (I i = 0; i < 5; ++i)
    for (I j = 0; j < 6; ++j) xp(0, 0, i + 1, j) = x(0, 0, i, j);
  const auto ref = conv2d_forward(xp, w, nullptr, Conv2dOptions{});
  CHECK(rel_error(y, ref) < kTol);
  CHECK(rel_error(conv2d_forward(x, w, nullptr, Conv2dOptions{}.padding("valid")),
                  conv2d_forward(x, w, nullptr, Conv2dOptions{}.padding(0))) < kTol);
}

TEST_CASE("conv2d kernels: empty batch gives an empty output and zero gradients") {
  const tapegrad::Array<double> x = xt::zeros<double>({0, 4, 5, 5});
  const tapegrad::Array<double> w = xt::ones<double>({6, 2, 3, 3});
  const tapegrad::Array<double> b = xt::ones<double>({6});
  const auto opts = Conv2dOptions{}.groups(2).padding(1);
  const auto y = conv2d_forward(x, w, &b, opts);
  CHECK(shape_str(shape_of(y)) == "[0, 6, 5, 5]");
  const auto dx = conv2d_backward_input(y, w, shape_of(x), opts);
  CHECK(shape_str(shape_of(dx)) == "[0, 4, 5, 5]");
  const auto dw = conv2d_backward_weight(y, x, shape_of(w), opts);
  CHECK(shape_str(shape_of(dw)) == "[6, 2, 3, 3]");
  CHECK(std::all_of(dw.begin(), dw.end(), [](double v) { return v == 0.0; }));
  const auto db = conv2d_backward_bias(y);
  CHECK(shape_str(shape_of(db)) == "[6]");
  CHECK(std::all_of(db.begin(), db.end(), [](double v) { return v == 0.0; }));

  const tapegrad::Array<double> wt = xt::ones<double>({4, 3, 3, 3});
  const auto topts = ConvTranspose2dOptions{}.stride(2).padding(1).output_padding(1);
  const auto yt = conv_transpose2d_forward(x, wt, nullptr, topts);
  CHECK(shape_str(shape_of(yt)) == "[0, 3, 10, 10]");
  CHECK(shape_str(shape_of(conv_transpose2d_backward_input(yt, wt, shape_of(x), topts))) ==
        "[0, 4, 5, 5]");
  const auto dwt = conv_transpose2d_backward_weight(yt, x, shape_of(wt), topts);
  CHECK(std::all_of(dwt.begin(), dwt.end(), [](double v) { return v == 0.0; }));
}

TEST_CASE("conv2d kernels: float matches double") {
  std::mt19937_64 rng(11);
  const tapegrad::Array<double> x = random_array({2, 4, 9, 8}, rng);
  const tapegrad::Array<double> w = random_array({6, 2, 3, 2}, rng);
  const tapegrad::Array<double> b = random_array({6}, rng);
  const auto opts = Conv2dOptions{}.stride({2, 1}).padding({1, 2}).dilation({1, 2}).groups(2);
  const auto yd = conv2d_forward(x, w, &b, opts);
  const tapegrad::Array<float> xf = xt::cast<float>(x), wf = xt::cast<float>(w),
                               bf = xt::cast<float>(b);
  const tapegrad::Array<float> yf = conv2d_forward(xf, wf, &bf, opts);
  CHECK(rel_error(xt::cast<double>(yf), yd) < 1e-5);
  const auto dwd = conv2d_backward_weight(yd, x, shape_of(w), opts);
  const tapegrad::Array<float> dwf = conv2d_backward_weight(yf, xf, Shape{6, 2, 3, 2}, opts);
  CHECK(rel_error(xt::cast<double>(dwf), dwd) < 1e-5);
  const auto topts = ConvTranspose2dOptions{}.stride(2).padding(1).groups(2);
  const tapegrad::Array<double> wt = random_array({4, 3, 3, 3}, rng);
  const tapegrad::Array<float> wtf = xt::cast<float>(wt);
  CHECK(rel_error(xt::cast<double>(conv_transpose2d_forward(xf, wtf, nullptr, topts)),
                  conv_transpose2d_forward(x, wt, nullptr, topts)) < 1e-5);
}

// ---- the adjoint identity -------------------------------------------------------------------

TEST_CASE("conv2d kernels: conv_transpose2d is the adjoint of conv2d, random sweep") {
  // ⟨conv2d(x, W), y⟩ = ⟨x, conv_transpose2d(y, W)⟩ with the same W (a conv weight
  // [C_out, C_in/g, kH, kW] is a transposed-conv weight from C_out to C_in channels),
  // and output_padding chosen so the transposed output has x's size.
  std::mt19937_64 rng(12);
  double worst = 0.0;
  for (int it = 0; it < 300; ++it) {
    const I g = pick(rng, 1, 3);
    const I cin = g * pick(rng, 1, 3), cout = g * pick(rng, 1, 3);
    const I kh = pick(rng, 1, 5), kw = pick(rng, 1, 5);
    const I sh = pick(rng, 1, 3), sw = pick(rng, 1, 3);
    const I dh = pick(rng, 1, 3), dw = pick(rng, 1, 3);
    const I ph = pick(rng, 0, 2), pw = pick(rng, 0, 2);
    const I h = std::max<I>(1, dh * (kh - 1) + 1 - 2 * ph) + pick(rng, 0, 6);
    const I w = std::max<I>(1, dw * (kw - 1) + 1 - 2 * pw) + pick(rng, 0, 6);
    const I n = pick(rng, 1, 3);
    const auto copts =
        Conv2dOptions{}.stride({sh, sw}).padding({ph, pw}).dilation({dh, dw}).groups(g);
    const Shape xs{std::size_t(n), std::size_t(cin), std::size_t(h), std::size_t(w)};
    const Shape ws{std::size_t(cout), std::size_t(cin / g), std::size_t(kh), std::size_t(kw)};
    const Shape ys = conv2d_output_shape(xs, ws, copts);
    const I ho = I(ys[2]), wo = I(ys[3]);
    const I oph = h - ((ho - 1) * sh - 2 * ph + dh * (kh - 1) + 1);
    const I opw = w - ((wo - 1) * sw - 2 * pw + dw * (kw - 1) + 1);
    const auto topts = ConvTranspose2dOptions{}
                           .stride({sh, sw})
                           .padding({ph, pw})
                           .dilation({dh, dw})
                           .groups(g)
                           .output_padding({oph, opw});
    const auto x = random_array(xs, rng), wt = random_array(ws, rng), y = random_array(ys, rng);
    const double lhs = dot(conv2d_forward(x, wt, nullptr, copts), y);
    const double rhs = dot(x, conv_transpose2d_forward(y, wt, nullptr, topts));
    const double rel = std::abs(lhs - rhs) / std::max(1.0, std::abs(lhs));
    worst = std::max(worst, rel);
    CHECK(rel < 1e-12);
  }
  MESSAGE("adjoint identity: worst relative mismatch " << worst);
}

TEST_CASE("im2col kernels: col2im is the adjoint of im2col and im2col follows the formula") {
  std::mt19937_64 rng(13);
  for (int it = 0; it < 50; ++it) {
    Im2colParams p;
    p.kernel = {pick(rng, 1, 4), pick(rng, 1, 4)};
    p.stride = {pick(rng, 1, 3), pick(rng, 1, 3)};
    p.dilation = {pick(rng, 1, 2), pick(rng, 1, 2)};
    p.padding = {pick(rng, 0, 2), pick(rng, 0, 2)};
    const I c = pick(rng, 1, 3), n = pick(rng, 1, 2);
    const I h =
        std::max<I>(1, p.dilation[0] * (p.kernel[0] - 1) + 1 - 2 * p.padding[0]) + pick(rng, 0, 4);
    const I w =
        std::max<I>(1, p.dilation[1] * (p.kernel[1] - 1) + 1 - 2 * p.padding[1]) + pick(rng, 0, 4);
    const Shape xs{std::size_t(n), std::size_t(c), std::size_t(h), std::size_t(w)};
    const auto x = random_array(xs, rng);
    const auto cols = im2col(x, p);
    const I ho = (h + 2 * p.padding[0] - p.dilation[0] * (p.kernel[0] - 1) - 1) / p.stride[0] + 1;
    const I wo = (w + 2 * p.padding[1] - p.dilation[1] * (p.kernel[1] - 1) - 1) / p.stride[1] + 1;
    REQUIRE(cols.shape()[0] == std::size_t(c * p.kernel[0] * p.kernel[1]));
    REQUIRE(cols.shape()[1] == std::size_t(n * ho * wo));
    bool formula_ok = true;
    for (I nn = 0; nn < n; ++nn)
      for (I cc = 0; cc < c; ++cc)
        for (I u = 0; u < p.kernel[0]; ++u)
          for (I v = 0; v < p.kernel[1]; ++v)
            for (I i = 0; i < ho; ++i)
              for (I j = 0; j < wo; ++j) {
                const I hh = p.stride[0] * i - p.padding[0] + p.dilation[0] * u;
                const I ww = p.stride[1] * j - p.padding[1] + p.dilation[1] * v;
                const double want =
                    (hh < 0 || hh >= h || ww < 0 || ww >= w) ? 0.0 : x(nn, cc, hh, ww);
                const double got =
                    cols((cc * p.kernel[0] + u) * p.kernel[1] + v, nn * ho * wo + i * wo + j);
                formula_ok = formula_ok && got == want;
              }
    CHECK(formula_ok);
    const auto z = random_array(shape_of(cols), rng);
    const double lhs = dot(cols, z), rhs = dot(x, col2im(z, xs, p));
    CHECK(std::abs(lhs - rhs) <= 1e-12 * std::max(1.0, std::abs(lhs)));
  }
  // Unbatched input: N = 1 columns.
  const auto x3 = random_array({2, 4, 4}, rng);
  CHECK(shape_str(shape_of(im2col(x3, Im2colParams{{3, 3}, {1, 1}, {1, 1}, {1, 1}}))) ==
        "[18, 16]");
}

// ---- rejected arguments -------------------------------------------------------------------

namespace {
tapegrad::Array<double> zeros(const Shape& s) { return xt::zeros<double>(s); }
}  // namespace

TEST_CASE("conv2d kernels: bad input rank and weight rank") {
  const auto w = zeros({6, 2, 3, 3});
  CHECK_THROWS_WITH_AS(conv2d_forward(zeros({4, 5}), w, nullptr),
                       doctest::Contains("conv2d: Expected 3D (unbatched) or 4D (batched) input "
                                         "to conv2d, but got input of size: [4, 5]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d_forward(zeros({1, 1, 4, 5, 5}), w, nullptr),
                       doctest::Contains("got input of size: [1, 1, 4, 5, 5]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d_forward(zeros({1, 4, 5, 5}), zeros({6, 2, 3}), nullptr),
                       doctest::Contains("conv2d: Expected 3-dimensional input for 3-dimensional "
                                         "weight [6, 2, 3], but got 4-dimensional input of size "
                                         "[1, 4, 5, 5] instead"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      conv_transpose2d_forward(zeros({4, 5}), w, nullptr),
      doctest::Contains("conv_transpose2d: Expected 3D (unbatched) or 4D (batched) "
                        "input to conv_transpose2d"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv_transpose2d_forward(zeros({1, 6, 5, 5}), zeros({6, 2}), nullptr),
                       doctest::Contains("conv_transpose2d: Expected 2-dimensional input for "
                                         "2-dimensional weight [6, 2], but got 4-dimensional "
                                         "input of size [1, 6, 5, 5] instead"),
                       std::invalid_argument);
}

TEST_CASE("conv2d kernels: option lists of the wrong length") {
  const auto x = zeros({1, 2, 5, 5}), w = zeros({2, 2, 3, 3});
  CHECK_THROWS_WITH_AS(conv2d_forward(x, w, nullptr, Conv2dOptions{}.stride({1, 2, 3})),
                       doctest::Contains("conv2d: expected stride to be a single integer value or "
                                         "a list of 2 values to match the convolution dimensions, "
                                         "but got stride=[1, 2, 3]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      conv2d_forward(x, w, nullptr, Conv2dOptions{}.padding(std::vector<I>{})),
      doctest::Contains("conv2d: expected padding to be a single integer value or a list of 2 "
                        "values to match the convolution dimensions, but got padding=[]"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d_forward(x, w, nullptr, Conv2dOptions{}.dilation({1, 1, 1})),
                       doctest::Contains("conv2d: expected dilation to be a single integer value "
                                         "or a list of 2 values"),
                       std::invalid_argument);
  const auto wt = zeros({2, 2, 3, 3});
  CHECK_THROWS_WITH_AS(
      conv_transpose2d_forward(x, wt, nullptr, ConvTranspose2dOptions{}.output_padding({0, 0, 0})),
      doctest::Contains("conv_transpose2d: expected output_padding to be a single integer value "
                        "or a list of 2 values to match the convolution dimensions, but got "
                        "output_padding=[0, 0, 0]"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      conv_transpose2d_forward(x, wt, nullptr, ConvTranspose2dOptions{}.stride({2, 2, 2})),
      doctest::Contains("conv_transpose2d: expected stride to be a single integer value"),
      std::invalid_argument);
}

TEST_CASE("conv2d kernels: non-positive stride, dilation, groups and negative padding") {
  const auto x = zeros({1, 2, 5, 5}), w = zeros({2, 2, 3, 3});
  CHECK_THROWS_WITH_AS(conv2d_forward(x, w, nullptr, Conv2dOptions{}.stride({0, 1})),
                       doctest::Contains("conv2d: non-positive stride is not supported, but got "
                                         "stride=[0, 1]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      conv2d_forward(x, w, nullptr, Conv2dOptions{}.stride(-2)),
      doctest::Contains("non-positive stride is not supported, but got stride=[-2]"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d_forward(x, w, nullptr, Conv2dOptions{}.dilation(0)),
                       doctest::Contains("conv2d: dilation should be greater than zero, but got "
                                         "dilation=[0]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d_forward(x, w, nullptr, Conv2dOptions{}.padding({1, -1})),
                       doctest::Contains("conv2d: negative padding is not supported, but got "
                                         "padding=[1, -1]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d_forward(x, w, nullptr, Conv2dOptions{}.groups(0)),
                       doctest::Contains("conv2d: non-positive groups is not supported, but got "
                                         "groups=0"),
                       std::invalid_argument);
  const auto wt = zeros({2, 2, 3, 3});
  CHECK_THROWS_WITH_AS(
      conv_transpose2d_forward(x, wt, nullptr, ConvTranspose2dOptions{}.output_padding(-1)),
      doctest::Contains("conv_transpose2d: negative output_padding is not supported, but got "
                        "output_padding=[-1]"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      conv_transpose2d_forward(x, wt, nullptr, ConvTranspose2dOptions{}.groups(-1)),
      doctest::Contains("conv_transpose2d: non-positive groups is not supported"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      conv_transpose2d_forward(x, wt, nullptr, ConvTranspose2dOptions{}.dilation(0)),
      doctest::Contains("conv_transpose2d: dilation should be greater than zero"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      conv_transpose2d_forward(x, wt, nullptr, ConvTranspose2dOptions{}.padding(-1)),
      doctest::Contains("conv_transpose2d: negative padding is not supported"),
      std::invalid_argument);
}

TEST_CASE("conv2d kernels: channels not divisible by groups or not matching the weight") {
  CHECK_THROWS_WITH_AS(
      conv2d_forward(zeros({1, 2, 5, 5}), zeros({3, 1, 3, 3}), nullptr, Conv2dOptions{}.groups(2)),
      doctest::Contains("conv2d: Given groups=2, expected weight to be divisible by 2 at "
                        "dimension 0, but got weight of size [3, 1, 3, 3] instead"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      conv2d_forward(zeros({1, 4, 5, 5}), zeros({6, 2, 3, 3}), nullptr, Conv2dOptions{}.groups(3)),
      doctest::Contains("conv2d: Given groups=3, weight of size [6, 2, 3, 3], expected "
                        "input[1, 4, 5, 5] to have 6 channels, but got 4 channels instead"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv_transpose2d_forward(zeros({1, 3, 5, 5}), zeros({3, 2, 3, 3}), nullptr,
                                                ConvTranspose2dOptions{}.groups(2)),
                       doctest::Contains("conv_transpose2d: Given groups=2, expected weight to be "
                                         "divisible by 2 at dimension 0, but got weight of size "
                                         "[3, 2, 3, 3] instead"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv_transpose2d_forward(zeros({1, 3, 5, 5}), zeros({4, 2, 3, 3}), nullptr),
                       doctest::Contains("conv_transpose2d: Given transposed=1, weight of size "
                                         "[4, 2, 3, 3], expected input[1, 3, 5, 5] to have 4 "
                                         "channels, but got 3 channels instead"),
                       std::invalid_argument);
}

TEST_CASE("conv2d kernels: bias of the wrong shape") {
  const auto b5 = zeros({5}), b22 = zeros({2, 3});
  CHECK_THROWS_WITH_AS(
      conv2d_forward(zeros({1, 6, 5, 5}), zeros({6, 2, 3, 3}), &b5, Conv2dOptions{}.groups(3)),
      doctest::Contains("conv2d: Given weight of size [6, 2, 3, 3], expected "
                        "bias to be 1-dimensional with 6 elements, but got bias "
                        "of size [5] instead"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      conv2d_forward(zeros({1, 6, 5, 5}), zeros({6, 2, 3, 3}), &b22, Conv2dOptions{}.groups(3)),
      doctest::Contains("got bias of size [2, 3] instead"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv_transpose2d_forward(zeros({1, 4, 5, 5}), zeros({4, 2, 3, 3}), &b5,
                                                ConvTranspose2dOptions{}.groups(2)),
                       doctest::Contains("conv_transpose2d: Given transposed=1, weight of size "
                                         "[4, 2, 3, 3], expected bias to be 1-dimensional with 4 "
                                         "elements, but got bias of size [5] instead"),
                       std::invalid_argument);
}

TEST_CASE("conv2d kernels: kernel larger than the padded input") {
  CHECK_THROWS_WITH_AS(conv2d_forward(zeros({1, 1, 3, 3}), zeros({1, 1, 5, 5}), nullptr),
                       doctest::Contains("conv2d: Calculated padded input size per channel: "
                                         "(3 x 3). Kernel size: (5 x 5). Kernel size can't be "
                                         "greater than actual input size"),
                       std::invalid_argument);
  // The dilated kernel counts: 3 taps with dilation 3 span 7.
  CHECK_THROWS_WITH_AS(
      conv2d_forward(zeros({1, 1, 5, 5}), zeros({1, 1, 3, 3}), nullptr,
                     Conv2dOptions{}.dilation(3).padding({1, 0})),
      doctest::Contains("Calculated padded input size per channel: (7 x 5). Kernel size: "
                        "(7 x 7). Kernel size can't be greater than actual input size"),
      std::invalid_argument);
  // Padding helps: the same call with padding 1 on both is fine.
  CHECK_NOTHROW(conv2d_forward(zeros({1, 1, 5, 5}), zeros({1, 1, 3, 3}), nullptr,
                               Conv2dOptions{}.dilation(3).padding(1)));
}

TEST_CASE(
    "conv2d kernels: empty spatial extents and kernels are rejected after the channel checks") {
  CHECK_THROWS_WITH_AS(conv2d_forward(zeros({1, 1, 0, 5}), zeros({1, 1, 1, 1}), nullptr),
                       doctest::Contains("conv2d: Expected input with non-zero height and width "
                                         "(the batch and the channels may be empty), but got input "
                                         "of size: [1, 1, 0, 5]"),
                       std::invalid_argument);
  // PyTorch's test_conv_empty_channel: the channel mismatch is reported first.
  CHECK_THROWS_WITH_AS(conv2d_forward(zeros({2, 1, 40, 0}), zeros({33, 0, 3, 3}), nullptr),
                       doctest::Contains("conv2d: Given groups=1, weight of size [33, 0, 3, 3], "
                                         "expected input[2, 1, 40, 0] to have 0 channels, but got "
                                         "1 channels instead"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      conv2d_forward(zeros({1, 1, 5, 5}), zeros({1, 1, 0, 3}), nullptr),
      doctest::Contains("conv2d: Expected a kernel with non-zero height and width, "
                        "but got weight of size: [1, 1, 0, 3]"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv_transpose2d_forward(zeros({2, 1, 5, 0}), zeros({1, 1, 3, 3}), nullptr),
                       doctest::Contains("conv_transpose2d: Expected input with non-zero height"),
                       std::invalid_argument);
}

TEST_CASE("conv2d kernels: fewer weight rows than groups is PyTorch's error") {
  // Zero output channels of conv2d, zero input channels of conv_transpose2d.
  CHECK_THROWS_WITH_AS(conv2d_forward(zeros({1, 1, 5, 5}), zeros({0, 1, 3, 3}), nullptr),
                       doctest::Contains("conv2d: Given groups=1, expected weight to be at least 1 "
                                         "at dimension 0, but got weight of size [0, 1, 3, 3] "
                                         "instead"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      conv2d_forward(zeros({1, 4, 5, 5}), zeros({2, 1, 3, 3}), nullptr, Conv2dOptions{}.groups(4)),
      doctest::Contains("conv2d: Given groups=4, expected weight to be at least 4 at dimension 0, "
                        "but got weight of size [2, 1, 3, 3] instead"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv_transpose2d_forward(zeros({1, 0, 5, 5}), zeros({0, 2, 3, 3}), nullptr),
                       doctest::Contains("conv_transpose2d: Given groups=1, expected weight to be "
                                         "at least 1 at dimension 0"),
                       std::invalid_argument);
}

TEST_CASE("conv2d kernels: padding strings and padding modes") {
  const auto x = zeros({1, 1, 5, 5}), w = zeros({1, 1, 3, 3});
  CHECK_THROWS_WITH_AS(Conv2dOptions{}.padding("full"),
                       doctest::Contains("conv2d: Invalid padding string 'full', should be one of "
                                         "'valid' or 'same'"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      conv2d_forward(x, w, nullptr, Conv2dOptions{}.padding("same").stride({1, 2})),
      doctest::Contains("conv2d: padding='same' is not supported for strided convolutions, but "
                        "got stride=[1, 2]"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(Conv2dOptions{}.padding_mode("mirror"),
                       doctest::Contains("conv2d: padding_mode must be one of 'zeros', 'reflect', "
                                         "'replicate' or 'circular', but got "
                                         "padding_mode='mirror'"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(parse_padding_mode("Zeros", "conv_transpose2d"),
                       doctest::Contains("conv_transpose2d: padding_mode must be one of"),
                       std::invalid_argument);
  CHECK(parse_padding_mode("circular") == PaddingMode::Circular);
  CHECK_THROWS_WITH_AS(
      conv_transpose2d_forward(x, w, nullptr, ConvTranspose2dOptions{}.padding_mode("reflect")),
      doctest::Contains("conv_transpose2d: Only 'zeros' padding mode is supported for "
                        "conv_transpose2d, but got padding_mode='reflect'"),
      std::invalid_argument);
  // reflect: pad < size; circular: pad <= size.
  const auto x2 = zeros({1, 1, 2, 6});
  CHECK_THROWS_WITH_AS(
      conv2d_forward(x2, w, nullptr, Conv2dOptions{}.padding(2).padding_mode("reflect")),
      doctest::Contains("conv2d: padding_mode='reflect': Padding size should be less than the "
                        "corresponding input dimension, but got: padding (2, 2) at dimension 2 "
                        "of input [1, 1, 2, 6]"),
      std::invalid_argument);
  CHECK_NOTHROW(
      conv2d_forward(x2, w, nullptr, Conv2dOptions{}.padding({1, 2}).padding_mode("reflect")));
  CHECK_THROWS_WITH_AS(
      conv2d_forward(x2, w, nullptr, Conv2dOptions{}.padding({3, 0}).padding_mode("circular")),
      doctest::Contains("conv2d: padding_mode='circular': Padding value causes wrapping around "
                        "more than once"),
      std::invalid_argument);
  CHECK_NOTHROW(
      conv2d_forward(x2, w, nullptr, Conv2dOptions{}.padding({2, 0}).padding_mode("circular")));
  CHECK_NOTHROW(
      conv2d_forward(x2, w, nullptr, Conv2dOptions{}.padding(4).padding_mode("replicate")));
  // Unbatched input: the spatial dimensions are 1 and 2.
  CHECK_THROWS_WITH_AS(conv2d_forward(zeros({1, 6, 2}), w, nullptr,
                                      Conv2dOptions{}.padding(2).padding_mode("reflect")),
                       doctest::Contains("padding (2, 2) at dimension 2 of input [1, 6, 2]"),
                       std::invalid_argument);
}

TEST_CASE("conv_transpose2d kernels: output_padding, output_size and empty outputs") {
  const auto x = zeros({1, 2, 4, 4}), w = zeros({2, 3, 3, 3});
  CHECK_THROWS_WITH_AS(
      conv_transpose2d_forward(x, w, nullptr,
                               ConvTranspose2dOptions{}.stride({2, 1}).output_padding({1, 1})),
      doctest::Contains("conv_transpose2d: output padding must be smaller than either stride or "
                        "dilation, but got output_padding_height: 1 output_padding_width: 1 "
                        "stride_height: 2 stride_width: 1 dilation_height: 1 dilation_width: 1"),
      std::invalid_argument);
  // Below the dilation is fine even at stride 1.
  CHECK(shape_str(conv_transpose2d_output_shape(
            Shape{1, 2, 4, 4}, Shape{2, 3, 3, 3},
            ConvTranspose2dOptions{}.dilation(2).output_padding(1))) == "[1, 3, 9, 9]");
  CHECK_THROWS_WITH_AS(
      conv_transpose2d_forward(zeros({1, 1, 1, 1}), zeros({1, 1, 1, 1}), nullptr,
                               ConvTranspose2dOptions{}.padding(1)),
      doctest::Contains("conv_transpose2d: Given input size per channel: (1 x 1). Calculated "
                        "output size per channel: (-1 x -1). Output size is too small"),
      std::invalid_argument);
  // output_size: min = (4−1)·2 − 2 + 2 + 1 = 7, max = 8.
  const auto opts = ConvTranspose2dOptions{}.stride(2).padding(1);
  CHECK(shape_str(conv_transpose2d_output_shape(Shape{1, 2, 4, 4}, Shape{2, 3, 3, 3}, opts,
                                                std::vector<I>{8, 7})) == "[1, 3, 8, 7]");
  CHECK(shape_str(conv_transpose2d_output_shape(Shape{1, 2, 4, 4}, Shape{2, 3, 3, 3}, opts,
                                                std::vector<I>{1, 3, 8, 8})) == "[1, 3, 8, 8]");
  CHECK(shape_str(conv_transpose2d_output_shape(Shape{2, 4, 4}, Shape{2, 3, 3, 3}, opts,
                                                std::vector<I>{3, 8, 8})) == "[3, 8, 8]");
  CHECK_THROWS_WITH_AS(
      conv_transpose2d_forward(x, w, nullptr, opts, std::vector<I>{9, 7}),
      doctest::Contains("conv_transpose2d: requested an output size of [9, 7], but valid sizes "
                        "range from [7, 7] to [8, 8] (for an input of [4, 4])"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv_transpose2d_forward(x, w, nullptr, opts, std::vector<I>{6, 7}),
                       doctest::Contains("requested an output size of [6, 7]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      conv_transpose2d_forward(x, w, nullptr, opts, std::vector<I>{3, 8, 8}),
      doctest::Contains("conv_transpose2d: for 4D input, output_size must have 2 or 4 elements "
                        "(got 3)"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      conv_transpose2d_forward(zeros({2, 4, 4}), w, nullptr, opts, std::vector<I>{1, 3, 8, 8}),
      doctest::Contains("conv_transpose2d: for 3D input, output_size must have 2 or 3 elements "
                        "(got 4)"),
      std::invalid_argument);
}

TEST_CASE("conv2d kernels: backward kernels share the check and verify grad_output") {
  const auto x = zeros({2, 4, 5, 5}), w = zeros({6, 2, 3, 3});
  const auto opts = Conv2dOptions{}.groups(2);
  CHECK_THROWS_WITH_AS(conv2d_backward_input(zeros({2, 6, 4, 4}), w, Shape{2, 4, 5, 5}, opts),
                       doctest::Contains("conv2d_backward_input: expected grad_output of size "
                                         "[2, 6, 3, 3], but got grad_output of size [2, 6, 4, 4]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      conv2d_backward_weight(zeros({2, 6, 3, 3}), x, Shape{6, 2, 3, 3}, Conv2dOptions{}.groups(3)),
      doctest::Contains("conv2d_backward_weight: Given groups=3, weight of size "
                        "[6, 2, 3, 3], expected input[2, 4, 5, 5] to have 6 "
                        "channels, but got 4 channels instead"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d_backward_bias(zeros({6, 3})),
                       doctest::Contains("conv2d_backward_bias: Expected 3D (unbatched) or 4D "
                                         "(batched) grad_output"),
                       std::invalid_argument);
  // Transposed: the output size comes from grad_output.
  const auto xt_ = zeros({1, 2, 4, 4}), wt = zeros({2, 3, 3, 3});
  const auto topts = ConvTranspose2dOptions{}.stride(2).padding(1);
  CHECK_NOTHROW(conv_transpose2d_backward_input(zeros({1, 3, 8, 8}), wt, Shape{1, 2, 4, 4}, topts));
  CHECK_THROWS_WITH_AS(
      conv_transpose2d_backward_input(zeros({1, 3, 9, 8}), wt, Shape{1, 2, 4, 4}, topts),
      doctest::Contains("conv_transpose2d_backward_input: grad_output of spatial size [9, 8] does "
                        "not fit input [1, 2, 4, 4]: expected [7, 7] (from output_padding) or an "
                        "output_size from [7, 7] to [8, 8]"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      conv_transpose2d_backward_weight(zeros({1, 4, 7, 7}), xt_, Shape{2, 3, 3, 3}, topts),
      doctest::Contains("conv_transpose2d_backward_weight: expected grad_output of size "
                        "[1, 3, 7, 7], but got grad_output of size [1, 4, 7, 7]"),
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      conv_transpose2d_backward_weight(zeros({3, 7, 7}), xt_, Shape{2, 3, 3, 3}, topts),
      doctest::Contains("conv_transpose2d_backward_weight: expected grad_output with the rank of "
                        "the input [1, 2, 4, 4]"),
      std::invalid_argument);
}

TEST_CASE("im2col kernels: bad arguments") {
  CHECK_THROWS_WITH_AS(im2col(zeros({4, 4}), Im2colParams{}),
                       doctest::Contains("im2col: expected a 3D [C, H, W] or 4D [N, C, H, W] input "
                                         "shape, but got [4, 4]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(im2col(zeros({1, 3, 3}), Im2colParams{{5, 5}, {1, 1}, {0, 0}, {1, 1}}),
                       doctest::Contains("im2col: Calculated padded input size per channel: "
                                         "(3 x 3). Kernel size: (5 x 5)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(im2col(zeros({1, 3, 3}), Im2colParams{{1, 1}, {0, 1}, {0, 0}, {1, 1}}),
                       doctest::Contains("im2col: stride must be positive, but got (0, 1)"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      col2im(zeros({9, 5}), Shape{1, 3, 3}, Im2colParams{{3, 3}, {1, 1}, {1, 1}, {1, 1}}),
      doctest::Contains("col2im: expected cols of size [9, 9] for input [1, 3, 3], "
                        "but got [9, 5]"),
      std::invalid_argument);
}

// ---- thread count ------------------------------------------------------------------------

namespace {

// Every conv kernel's float32 results, computed with `threads` OpenMP threads.
std::vector<tapegrad::Array<float>> conv_results(const ConvCase& cc, int threads) {
  const Ref& r = cc.ref;
  std::mt19937_64 rng(99);  // the same inputs for every thread count
  const Shape xs = input_shape_of(r, false), ys = output_shape_of(r, false);
  const tapegrad::Array<float> x = xt::cast<float>(random_array(xs, rng));
  const tapegrad::Array<float> w = xt::cast<float>(random_array(
      {std::size_t(r.cout), std::size_t(r.cin / r.groups), std::size_t(r.kh), std::size_t(r.kw)},
      rng));
  const tapegrad::Array<float> b = xt::cast<float>(random_array({std::size_t(r.cout)}, rng));
  const tapegrad::Array<float> dy = xt::cast<float>(random_array(ys, rng));
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  std::vector<tapegrad::Array<float>> out{
      conv2d_forward(x, w, &b, cc.opts), conv2d_backward_input(dy, w, xs, cc.opts),
      conv2d_backward_weight(dy, x, shape_of(w), cc.opts), conv2d_backward_bias(dy),
      // the same tensors through the transposed conv (its adjoint problem)
      conv_transpose2d_forward(dy, w, static_cast<const tapegrad::Array<float>*>(nullptr),
                               ConvTranspose2dOptions{}
                                   .stride({r.sh, r.sw})
                                   .padding({r.ph, r.pw})
                                   .dilation({r.dh, r.dw})
                                   .groups(r.groups),
                               std::vector<I>{r.h, r.w})};
  omp_set_num_threads(saved);
  return out;
}

}  // namespace

TEST_CASE("conv2d kernels: results do not depend on the number of threads, bit for bit") {
  // Chunked batches (the autoencoder's layers at batch 64), the dense path, row bands of
  // one large sample, a batch smaller than the thread count and a depthwise layer.
  const std::vector<ConvCase> cases = {
      fixed_conv_case(64, 1, 16, 28, 28, 3, 2, 1, 1, 1),
      fixed_conv_case(64, 16, 32, 14, 14, 3, 2, 1, 1, 1),
      fixed_conv_case(64, 32, 64, 7, 7, 7, 1, 0, 1, 1),
      fixed_conv_case(3, 40, 24, 61, 59, 3, 1, 1, 1, 1),
      fixed_conv_case(1, 32, 16, 40, 40, 3, 1, 1, 1, 1),
      fixed_conv_case(5, 12, 24, 30, 30, 3, 1, 1, 1, 12),
  };
  for (const ConvCase& cc : cases) {
    CAPTURE(cc.text);
    const auto one = conv_results(cc, 1);
    for (int threads : {2, 3}) {
      CAPTURE(threads);
      const auto many = conv_results(cc, threads);
      for (std::size_t i = 0; i < one.size(); ++i) {
        CAPTURE(i);
        CHECK(one[i] == many[i]);
      }
    }
  }
}
