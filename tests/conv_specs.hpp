#pragma once
// Random and fixed convolution configurations for the parity tests, valid by PyTorch's
// rules (decided here, not by the library), and libtorch's reference for each
// (torch.nn.Conv2d's forward: F.pad, then an unpadded conv, for the non-zeros modes).
// libtorch's logging header defines a glog-style CHECK, hence the DOCTEST_ spellings in
// the files that include this.
#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <tapegrad/core/allocator.hpp>
#include <tapegrad/core/kernels/conv_options.hpp>
#include <vector>

namespace tapegrad::parity {

using I = std::int64_t;
using kernels::Conv2dOptions;
using kernels::ConvTranspose2dOptions;
using kernels::PaddingKind;
using kernels::PaddingMode;

inline I pick(std::mt19937_64& rng, I lo, I hi) {
  return std::uniform_int_distribution<I>(lo, hi)(rng);
}

inline tapegrad::Array<double> random_array(const std::vector<std::size_t>& shape,
                                            std::mt19937_64& rng) {
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  tapegrad::Array<double> a = tapegrad::Array<double>::from_shape(shape);
  for (double& v : a) v = dist(rng);
  return a;
}

inline std::string pair_text(I a, I b) {
  return a == b ? std::to_string(a) : std::to_string(a) + "," + std::to_string(b);
}

inline c10::optional<torch::Tensor> optional_tensor(bool present, const torch::Tensor& t) {
  if (present) return t;
  return c10::nullopt;
}

inline torch::Tensor grad_of(const torch::Tensor& t) {
  return t.grad().defined() ? t.grad() : torch::zeros_like(t);
}

// ---- Conv2d ------------------------------------------------------------------------

struct ConvSpec {
  I n = 1;
  bool unbatched = false;
  I cin = 1, cout = 1, h = 1, w = 1, kh = 1, kw = 1;
  I sh = 1, sw = 1, dh = 1, dw = 1, groups = 1;
  PaddingKind kind = PaddingKind::Explicit;
  I ph = 0, pw = 0;  // explicit padding
  PaddingMode mode = PaddingMode::Zeros;
  bool bias = true;

  Conv2dOptions options() const {
    Conv2dOptions o;
    o.stride({sh, sw}).dilation({dh, dw}).groups(groups).padding_mode(mode);
    if (kind == PaddingKind::Same)
      o.padding("same");
    else if (kind == PaddingKind::Valid)
      o.padding("valid");
    else
      o.padding({ph, pw});
    return o;
  }
  // Per-side padding {top, bottom, left, right}, as nn.Conv2d computes it for F.pad.
  std::array<I, 4> sides() const {
    if (kind == PaddingKind::Valid) return {0, 0, 0, 0};
    if (kind == PaddingKind::Explicit) return {ph, ph, pw, pw};
    const I th = dh * (kh - 1), tw = dw * (kw - 1);
    return {th / 2, th - th / 2, tw / 2, tw - tw / 2};
  }
  std::vector<std::size_t> input_shape() const {
    if (unbatched) return {std::size_t(cin), std::size_t(h), std::size_t(w)};
    return {std::size_t(n), std::size_t(cin), std::size_t(h), std::size_t(w)};
  }
  std::vector<std::size_t> weight_shape() const {
    return {std::size_t(cout), std::size_t(cin / groups), std::size_t(kh), std::size_t(kw)};
  }
  std::string text() const {
    std::string pad = kind == PaddingKind::Same    ? "'same'"
                      : kind == PaddingKind::Valid ? "'valid'"
                                                   : pair_text(ph, pw);
    return "Conv2d(" + std::to_string(cin) + ", " + std::to_string(cout) +
           ", k=" + pair_text(kh, kw) + ", s=" + pair_text(sh, sw) + ", p=" + pad +
           ", d=" + pair_text(dh, dw) + ", g=" + std::to_string(groups) +
           ", mode=" + padding_mode_name(mode) + (bias ? "" : ", bias=False") + ") on " +
           (unbatched ? "[" : "[" + std::to_string(n) + ", ") + std::to_string(cin) + ", " +
           std::to_string(h) + ", " + std::to_string(w) + "]";
  }
};

// A valid configuration by PyTorch's rules (decided here, not by the library).
inline ConvSpec random_conv(std::mt19937_64& rng) {
  ConvSpec s;
  const I shape_kind = pick(rng, 0, 9);
  if (shape_kind <= 3) {
    s.groups = 1, s.cin = pick(rng, 1, 4), s.cout = pick(rng, 1, 4);
  } else if (shape_kind <= 5) {
    s.groups = pick(rng, 2, 3), s.cin = s.groups * pick(rng, 1, 3),
    s.cout = s.groups * pick(rng, 1, 3);
  } else if (shape_kind <= 7) {  // depthwise, with channel multiplier 1 or 2
    s.groups = s.cin = pick(rng, 2, 6), s.cout = s.cin * pick(rng, 1, 2);
  } else {
    s.groups = pick(rng, 2, 4), s.cin = s.groups * pick(rng, 1, 2),
    s.cout = s.groups * pick(rng, 1, 2);
  }
  s.kh = pick(rng, 1, 5), s.kw = pick(rng, 1, 5);
  s.sh = pick(rng, 1, 4), s.sw = pick(rng, 1, 4);
  s.dh = pick(rng, 1, 3), s.dw = pick(rng, 1, 3);
  const I kind = pick(rng, 0, 19);
  if (kind <= 14) {
    s.kind = PaddingKind::Explicit, s.ph = pick(rng, 0, 3), s.pw = pick(rng, 0, 3);
  } else if (kind <= 17) {
    s.kind = PaddingKind::Same, s.sh = s.sw = 1;
  } else {
    s.kind = PaddingKind::Valid;
  }
  const I mode = pick(rng, 0, 19);
  s.mode = mode < 11 ? PaddingMode::Zeros
                     : std::array<PaddingMode, 3>{PaddingMode::Reflect, PaddingMode::Replicate,
                                                  PaddingMode::Circular}[std::size_t(mode % 3)];
  const auto [pt, pb, pl, pr] = s.sides();
  const I need_h = std::max<I>(1, s.dh * (s.kh - 1) + 1 - pt - pb);
  const I need_w = std::max<I>(1, s.dw * (s.kw - 1) + 1 - pl - pr);
  const I mode_h = s.mode == PaddingMode::Reflect    ? std::max(pt, pb) + 1
                   : s.mode == PaddingMode::Circular ? std::max<I>(1, std::max(pt, pb))
                                                     : 1;
  const I mode_w = s.mode == PaddingMode::Reflect    ? std::max(pl, pr) + 1
                   : s.mode == PaddingMode::Circular ? std::max<I>(1, std::max(pl, pr))
                                                     : 1;
  s.h = std::max(need_h, mode_h) + pick(rng, 0, 6);
  s.w = std::max(need_w, mode_w) + pick(rng, 0, 6);
  const I batch_kind = pick(rng, 0, 19);
  s.unbatched = batch_kind == 1 || batch_kind == 2;
  s.n = s.unbatched ? 1 : (batch_kind == 0 ? 0 : pick(rng, 1, 3));
  s.bias = pick(rng, 0, 3) != 0;
  return s;
}

// torch.nn.Conv2d's forward: F.pad + unpadded conv for the non-zeros modes, else
// conv2d with numeric or string padding.
inline torch::Tensor torch_conv(const ConvSpec& s, const torch::Tensor& x, const torch::Tensor& w,
                                const c10::optional<torch::Tensor>& b) {
  if (s.mode != PaddingMode::Zeros) {
    const auto [pt, pb, pl, pr] = s.sides();
    namespace F = torch::nn::functional;
    F::PadFuncOptions::mode_t mode = torch::kReflect;
    if (s.mode == PaddingMode::Replicate) mode = torch::kReplicate;
    if (s.mode == PaddingMode::Circular) mode = torch::kCircular;
    // libtorch 1.13's circular pad only takes batched input ("Invalid padding size,
    // expected 2 but got 4" for [C, H, W]); padding [1, C, H, W] is the same thing.
    const bool add_batch = s.unbatched && s.mode == PaddingMode::Circular;
    torch::Tensor xp =
        F::pad(add_batch ? x.unsqueeze(0) : x, F::PadFuncOptions({pl, pr, pt, pb}).mode(mode));
    if (add_batch) xp = xp.squeeze(0);
    return torch::conv2d(xp, w, b, {s.sh, s.sw}, std::vector<I>{0, 0}, {s.dh, s.dw}, s.groups);
  }
  if (s.kind == PaddingKind::Same)
    return torch::conv2d(x, w, b, {s.sh, s.sw}, "same", {s.dh, s.dw}, s.groups);
  if (s.kind == PaddingKind::Valid)
    return torch::conv2d(x, w, b, {s.sh, s.sw}, "valid", {s.dh, s.dw}, s.groups);
  return torch::conv2d(x, w, b, {s.sh, s.sw}, {s.ph, s.pw}, {s.dh, s.dw}, s.groups);
}

inline ConvSpec conv_spec(I n, I cin, I cout, I h, I w, I k, I s, I p, I d = 1, I g = 1,
                          PaddingMode mode = PaddingMode::Zeros) {
  ConvSpec c;
  c.n = n, c.cin = cin, c.cout = cout, c.h = h, c.w = w, c.kh = c.kw = k, c.sh = c.sw = s;
  c.ph = c.pw = p, c.dh = c.dw = d, c.groups = g, c.mode = mode;
  return c;
}

// The autoencoder's encoder, the padding modes on a fixed shape, and cases from
// PyTorch's regression tests (test_nn.py / test_convolution.py).
inline std::vector<ConvSpec> fixed_conv_specs() {
  std::vector<ConvSpec> v = {
      conv_spec(8, 1, 16, 28, 28, 3, 2, 1),   // Conv2d(1, 16, 3, s2, p1) on 28×28
      conv_spec(8, 16, 32, 14, 14, 3, 2, 1),  // Conv2d(16, 32, 3, s2, p1) on 14×14
      conv_spec(8, 32, 64, 7, 7, 7, 1, 0),    // Conv2d(32, 64, 7) on 7×7
      // 1×1 kernel with stride > 1 or padding > 0
      conv_spec(2, 3, 4, 7, 6, 1, 2, 0),
      conv_spec(2, 3, 4, 5, 5, 1, 1, 1),
      conv_spec(2, 3, 4, 8, 8, 1, 3, 2),
      // grouped 1×1 conv 4 -> 16, groups 2
      conv_spec(2, 4, 16, 5, 5, 1, 1, 0, 1, 2),
  };
  // depthwise, groups 23/24/25/48, stride 2, dilation 1 and 2, multiplier 1 and 2
  for (I c : {23, 24, 25, 48})
    for (I d : {1, 2})
      for (I mult : {1, 2}) v.push_back(conv_spec(2, c, c * mult, 10, 10, 3, 2, 1, d, c));
  for (PaddingMode m : {PaddingMode::Reflect, PaddingMode::Replicate, PaddingMode::Circular}) {
    v.push_back(conv_spec(2, 3, 4, 6, 7, 3, 1, 2, 1, 1, m));
    ConvSpec same = conv_spec(2, 2, 2, 6, 5, 4, 1, 0, 1, 1, m);  // even kernel: asymmetric pad
    same.kind = PaddingKind::Same;
    v.push_back(same);
  }
  ConvSpec unbatched = conv_spec(1, 3, 4, 6, 6, 3, 2, 1);
  unbatched.unbatched = true;
  v.push_back(unbatched);
  v.push_back(conv_spec(0, 3, 4, 6, 6, 3, 1, 1));  // empty batch
  return v;
}

// ---- ConvTranspose2d ---------------------------------------------------------------------

struct TransposeSpec {
  I n = 1;
  bool unbatched = false;
  I cin = 1, cout = 1, h = 1, w = 1, kh = 1, kw = 1;
  I sh = 1, sw = 1, ph = 0, pw = 0, oph = 0, opw = 0, dh = 1, dw = 1, groups = 1;
  bool bias = true;
  std::optional<std::vector<I>> output_size;  // replaces oph/opw when set

  ConvTranspose2dOptions options() const {
    ConvTranspose2dOptions o;
    o.stride({sh, sw}).padding({ph, pw}).dilation({dh, dw}).groups(groups);
    if (!output_size) o.output_padding({oph, opw});
    return o;
  }
  I min_h() const { return (h - 1) * sh - 2 * ph + dh * (kh - 1) + 1; }
  I min_w() const { return (w - 1) * sw - 2 * pw + dw * (kw - 1) + 1; }
  // The output_padding in effect, as torch.nn.ConvTranspose2d._output_padding picks it.
  std::array<I, 2> effective_output_padding() const {
    if (!output_size) return {oph, opw};
    const std::vector<I>& o = *output_size;
    return {o[o.size() - 2] - min_h(), o[o.size() - 1] - min_w()};
  }
  std::vector<std::size_t> input_shape() const {
    if (unbatched) return {std::size_t(cin), std::size_t(h), std::size_t(w)};
    return {std::size_t(n), std::size_t(cin), std::size_t(h), std::size_t(w)};
  }
  std::vector<std::size_t> weight_shape() const {
    return {std::size_t(cin), std::size_t(cout / groups), std::size_t(kh), std::size_t(kw)};
  }
  std::string text() const {
    std::string os;
    if (output_size) {
      os = ", output_size=[";
      for (std::size_t i = 0; i < output_size->size(); ++i)
        os += (i ? ", " : "") + std::to_string((*output_size)[i]);
      os += "]";
    }
    return "ConvTranspose2d(" + std::to_string(cin) + ", " + std::to_string(cout) +
           ", k=" + pair_text(kh, kw) + ", s=" + pair_text(sh, sw) + ", p=" + pair_text(ph, pw) +
           ", op=" + pair_text(oph, opw) + ", d=" + pair_text(dh, dw) +
           ", g=" + std::to_string(groups) + (bias ? "" : ", bias=False") + ") on " +
           (unbatched ? "[" : "[" + std::to_string(n) + ", ") + std::to_string(cin) + ", " +
           std::to_string(h) + ", " + std::to_string(w) + "]" + os;
  }
};

inline TransposeSpec random_transpose(std::mt19937_64& rng) {
  for (;;) {
    TransposeSpec s;
    const I shape_kind = pick(rng, 0, 9);
    if (shape_kind <= 3) {
      s.groups = 1, s.cin = pick(rng, 1, 4), s.cout = pick(rng, 1, 4);
    } else if (shape_kind <= 5) {
      s.groups = pick(rng, 2, 3), s.cin = s.groups * pick(rng, 1, 3),
      s.cout = s.groups * pick(rng, 1, 3);
    } else if (shape_kind <= 7) {  // depthwise, with multiplier 1 or 2
      s.groups = s.cin = pick(rng, 2, 6), s.cout = s.cin * pick(rng, 1, 2);
    } else {
      s.groups = pick(rng, 2, 4), s.cin = s.groups * pick(rng, 1, 2),
      s.cout = s.groups * pick(rng, 1, 2);
    }
    s.kh = pick(rng, 1, 5), s.kw = pick(rng, 1, 5);
    s.sh = pick(rng, 1, 4), s.sw = pick(rng, 1, 4);
    s.dh = pick(rng, 1, 3), s.dw = pick(rng, 1, 3);
    s.ph = pick(rng, 0, 3), s.pw = pick(rng, 0, 3);
    s.h = pick(rng, 1, 7), s.w = pick(rng, 1, 7);
    // output_padding below the stride or the dilation
    s.oph = pick(rng, 0, std::max(s.sh, s.dh) - 1);
    s.opw = pick(rng, 0, std::max(s.sw, s.dw) - 1);
    const I batch_kind = pick(rng, 0, 19);
    s.unbatched = batch_kind == 1 || batch_kind == 2;
    s.n = s.unbatched ? 1 : (batch_kind == 0 ? 0 : pick(rng, 1, 3));
    if (pick(rng, 0, 4) == 0) {  // output_size in [min, min + stride − 1]
      s.oph = s.opw = 0;
      const I oh = s.min_h() + pick(rng, 0, s.sh - 1), ow = s.min_w() + pick(rng, 0, s.sw - 1);
      const I form = pick(rng, 0, 2);
      if (form == 0)
        s.output_size = std::vector<I>{oh, ow};
      else if (s.unbatched)
        s.output_size = std::vector<I>{s.cout, oh, ow};
      else
        s.output_size = std::vector<I>{s.n, s.cout, oh, ow};
    }
    const auto op = s.effective_output_padding();
    if (s.min_h() + op[0] < 1 || s.min_w() + op[1] < 1) continue;
    s.bias = pick(rng, 0, 3) != 0;
    return s;
  }
}

/// torch::conv_transpose2d with the options of `s` (output_size resolved).
inline torch::Tensor torch_transpose(const TransposeSpec& s, const torch::Tensor& x,
                                     const torch::Tensor& w,
                                     const c10::optional<torch::Tensor>& b) {
  const auto op = s.effective_output_padding();
  return torch::conv_transpose2d(x, w, b, {s.sh, s.sw}, {s.ph, s.pw}, {op[0], op[1]}, s.groups,
                                 {s.dh, s.dw});
}

inline TransposeSpec transpose_spec(I n, I cin, I cout, I h, I w, I k, I s, I p, I op = 0, I d = 1,
                                    I g = 1) {
  TransposeSpec t;
  t.n = n, t.cin = cin, t.cout = cout, t.h = h, t.w = w, t.kh = t.kw = k, t.sh = t.sw = s;
  t.ph = t.pw = p, t.oph = t.opw = op, t.dh = t.dw = d, t.groups = g;
  return t;
}

inline std::vector<TransposeSpec> fixed_transpose_specs() {
  std::vector<TransposeSpec> v = {
      transpose_spec(8, 64, 32, 1, 1, 7, 1, 0),      // ConvTranspose2d(64, 32, 7) on 1×1
      transpose_spec(8, 32, 16, 7, 7, 3, 2, 1, 1),   // ConvTranspose2d(32, 16, 3, s2, p1, op1)
      transpose_spec(8, 16, 1, 14, 14, 3, 2, 1, 1),  // ConvTranspose2d(16, 1, 3, s2, p1, op1)
      // 1×1 kernel, stride 2 (PyTorch's backward-input regression), with output_padding
      transpose_spec(2, 3, 4, 5, 5, 1, 2, 0),
      transpose_spec(2, 3, 4, 5, 4, 1, 2, 0, 1),
      // output_padding below the dilation but not the stride
      transpose_spec(2, 2, 3, 4, 4, 3, 1, 1, 1, 2),
      // depthwise
      transpose_spec(2, 24, 24, 5, 5, 3, 2, 1, 1, 1, 24),
      transpose_spec(2, 25, 50, 5, 5, 3, 2, 1, 0, 2, 25),
  };
  // output_size with dilation: every size in the valid range
  for (I oh = 0; oh < 2; ++oh)
    for (I ow = 0; ow < 2; ++ow) {
      TransposeSpec t = transpose_spec(2, 2, 3, 5, 6, 3, 2, 1, 0, 2);
      t.output_size = std::vector<I>{t.min_h() + oh, t.min_w() + ow};
      v.push_back(t);
    }
  // output_size with unbatched input, in its 2- and 3-element forms
  for (int form = 0; form < 2; ++form) {
    TransposeSpec t = transpose_spec(1, 3, 2, 4, 4, 3, 3, 1);
    t.unbatched = true;
    t.output_size = form == 0 ? std::vector<I>{t.min_h() + 2, t.min_w() + 1}
                              : std::vector<I>{2, t.min_h() + 1, t.min_w() + 2};
    v.push_back(t);
  }
  v.push_back(transpose_spec(0, 3, 4, 4, 4, 3, 2, 1, 1));  // empty batch
  return v;
}

}  // namespace tapegrad::parity
