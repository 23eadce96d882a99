// Parity of the convolution kernels with libtorch: forward, dL/dx, dL/dw and dL/db of
// conv2d and conv_transpose2d over randomised sweeps (fixed seeds) covering every
// option, the autoencoder's layers, and cases from PyTorch's own regression tests.
// The references are torch::conv2d / torch::conv_transpose2d with autograd; the
// padding modes are applied the way torch.nn.Conv2d does (F.pad, then an unpadded
// conv). Tolerances (DESIGN.md §3): relative error ≤ 1e-10 in float64 and ≤ 1e-4 of
// each quantity's scale in float32. Each test case prints the table of worst errors.
// libtorch's logging header defines a glog-style CHECK that aborts instead of
// reporting, hence the DOCTEST_ spellings throughout.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <tapegrad/core/kernels/conv2d.hpp>
#include <vector>
#include <xtensor/xarray.hpp>

#include "conv_specs.hpp"
#include "parity_helpers.hpp"

using namespace tapegrad::kernels;
using tapegrad::Shape;
using tapegrad::shape_str;
using namespace tapegrad::parity;
using I = std::int64_t;

namespace {

constexpr double kTolFloat64 = 1e-10;
constexpr double kTolFloat32 = 1e-4;

template <class T>
double tolerance() {
  return std::is_same_v<T, double> ? kTolFloat64 : kTolFloat32;
}

void record(ParityTable& table, const std::string& quantity, const std::string& dtype,
            const ErrorStats& e, double tol, const std::string& text) {
  table.add(quantity, dtype, e);
  DOCTEST_CAPTURE(text);
  DOCTEST_CAPTURE(quantity);
  DOCTEST_CAPTURE(dtype);
  DOCTEST_CHECK(e.same_shape);
  DOCTEST_CHECK(e.rel <= tol);
}

template <class T>
void run_conv(const ConvSpec& s, std::uint64_t seed, ParityTable& table) {
  std::mt19937_64 rng(seed);
  const tapegrad::Array<T> x = random_array(s.input_shape(), rng);
  const tapegrad::Array<T> w = random_array(s.weight_shape(), rng);
  const tapegrad::Array<T> b = random_array({std::size_t(s.cout)}, rng);
  const Conv2dOptions opts = s.options();

  // Reference first: its output shape gives the shape of dL/dy.
  const torch::Tensor xt_ = to_torch(x).requires_grad_(true);
  const torch::Tensor wt = to_torch(w).requires_grad_(true);
  const torch::Tensor bt = to_torch(b).requires_grad_(true);
  const torch::Tensor y_ref = torch_conv(s, xt_, wt, optional_tensor(s.bias, bt));
  const std::vector<std::size_t> y_shape(y_ref.sizes().begin(), y_ref.sizes().end());
  const tapegrad::Array<T> dy = random_array(y_shape, rng);
  y_ref.backward(to_torch(dy));

  const tapegrad::Array<T> y = conv2d_forward(x, w, s.bias ? &b : nullptr, opts);
  const tapegrad::Array<T> dx = conv2d_backward_input(dy, w, s.input_shape(), opts);
  const tapegrad::Array<T> dw = conv2d_backward_weight(dy, x, s.weight_shape(), opts);
  const std::string dtype = dtype_label<T>(), text = s.text();
  record(table, "Conv2d y", dtype, compare(y, y_ref), tolerance<T>(), text);
  record(table, "Conv2d dL/dx", dtype, compare(dx, grad_of(xt_)), tolerance<T>(), text);
  record(table, "Conv2d dL/dw", dtype, compare(dw, grad_of(wt)), tolerance<T>(), text);
  if (s.bias)
    record(table, "Conv2d dL/db", dtype, compare(conv2d_backward_bias(dy), grad_of(bt)),
           tolerance<T>(), text);
}

template <class T>
void run_transpose(const TransposeSpec& s, std::uint64_t seed, ParityTable& table) {
  std::mt19937_64 rng(seed);
  const tapegrad::Array<T> x = random_array(s.input_shape(), rng);
  const tapegrad::Array<T> w = random_array(s.weight_shape(), rng);
  const tapegrad::Array<T> b = random_array({std::size_t(s.cout)}, rng);
  const ConvTranspose2dOptions opts = s.options();

  const torch::Tensor xt_ = to_torch(x).requires_grad_(true);
  const torch::Tensor wt = to_torch(w).requires_grad_(true);
  const torch::Tensor bt = to_torch(b).requires_grad_(true);
  const torch::Tensor y_ref = torch_transpose(s, xt_, wt, optional_tensor(s.bias, bt));
  const std::vector<std::size_t> y_shape(y_ref.sizes().begin(), y_ref.sizes().end());
  const tapegrad::Array<T> dy = random_array(y_shape, rng);
  y_ref.backward(to_torch(dy));

  const tapegrad::Array<T> y =
      conv_transpose2d_forward(x, w, s.bias ? &b : nullptr, opts, s.output_size);
  const tapegrad::Array<T> dx = conv_transpose2d_backward_input(dy, w, s.input_shape(), opts);
  const tapegrad::Array<T> dw = conv_transpose2d_backward_weight(dy, x, s.weight_shape(), opts);
  const std::string dtype = dtype_label<T>(), text = s.text();
  record(table, "ConvTranspose2d y", dtype, compare(y, y_ref), tolerance<T>(), text);
  record(table, "ConvTranspose2d dL/dx", dtype, compare(dx, grad_of(xt_)), tolerance<T>(), text);
  record(table, "ConvTranspose2d dL/dw", dtype, compare(dw, grad_of(wt)), tolerance<T>(), text);
  if (s.bias)
    record(table, "ConvTranspose2d dL/db", dtype,
           compare(conv_transpose2d_backward_bias(dy), grad_of(bt)), tolerance<T>(), text);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

constexpr int kRandomConfigs = 420;

}  // namespace

TEST_CASE("conv2d parity: forward and gradients vs libtorch, random sweep") {
  const auto t0 = std::chrono::steady_clock::now();
  ParityTable table;
  std::mt19937_64 rng(1234);
  std::vector<ConvSpec> specs = fixed_conv_specs();
  for (int i = 0; i < kRandomConfigs; ++i) specs.push_back(random_conv(rng));
  std::uint64_t seed = 1;
  for (const ConvSpec& s : specs) {
    run_conv<double>(s, seed, table);
    run_conv<float>(s, seed, table);
    ++seed;
  }
  table.print(std::cout, "Conv2d parity vs libtorch (" + std::to_string(specs.size()) +
                             " configurations per dtype):");
  std::cout << "(" << seconds_since(t0) << " s)\n";
}

TEST_CASE("conv_transpose2d parity: forward and gradients vs libtorch, random sweep") {
  const auto t0 = std::chrono::steady_clock::now();
  ParityTable table;
  std::mt19937_64 rng(5678);
  std::vector<TransposeSpec> specs = fixed_transpose_specs();
  for (int i = 0; i < kRandomConfigs; ++i) specs.push_back(random_transpose(rng));
  std::uint64_t seed = 100001;
  for (const TransposeSpec& s : specs) {
    run_transpose<double>(s, seed, table);
    run_transpose<float>(s, seed, table);
    ++seed;
  }
  table.print(std::cout, "ConvTranspose2d parity vs libtorch (" + std::to_string(specs.size()) +
                             " configurations per dtype):");
  std::cout << "(" << seconds_since(t0) << " s)\n";
}

TEST_CASE("conv2d parity: the sweeps cover every option") {
  // Guards the generators: a sweep that silently stopped drawing some option would
  // still pass.
  std::mt19937_64 rng(1234);
  bool same = false, valid = false, reflect = false, replicate = false, circular = false;
  bool depthwise = false, multiplier = false, unbatched = false, empty = false, no_bias = false;
  bool stride_gt_kernel = false, asym = false, k5 = false, nonsquare = false;
  for (int i = 0; i < kRandomConfigs; ++i) {
    const ConvSpec s = random_conv(rng);
    same |= s.kind == PaddingKind::Same;
    valid |= s.kind == PaddingKind::Valid;
    reflect |= s.mode == PaddingMode::Reflect;
    replicate |= s.mode == PaddingMode::Replicate;
    circular |= s.mode == PaddingMode::Circular;
    depthwise |= s.groups == s.cin && s.cin > 1;
    multiplier |= s.groups == s.cin && s.cout == 2 * s.cin;
    unbatched |= s.unbatched;
    empty |= s.n == 0;
    no_bias |= !s.bias;
    stride_gt_kernel |= s.sh > s.kh;
    asym |= s.sh != s.sw && s.ph != s.pw && s.dh != s.dw;
    k5 |= s.kh == 5 && s.kw == 5;
    nonsquare |= s.kh != s.kw;
  }
  DOCTEST_CHECK((same && valid && reflect && replicate && circular));
  DOCTEST_CHECK((depthwise && multiplier && unbatched && empty && no_bias));
  DOCTEST_CHECK((stride_gt_kernel && asym && k5 && nonsquare));
  std::mt19937_64 rng2(5678);
  bool out_size = false, out_size4 = false, op_dil = false, t_unbatched = false, t_empty = false;
  for (int i = 0; i < kRandomConfigs; ++i) {
    const TransposeSpec s = random_transpose(rng2);
    out_size |= s.output_size.has_value();
    out_size4 |= s.output_size && s.output_size->size() == 4;
    op_dil |= s.oph >= s.sh;  // allowed only because it is below the dilation
    t_unbatched |= s.unbatched;
    t_empty |= s.n == 0;
  }
  DOCTEST_CHECK((out_size && out_size4 && op_dil && t_unbatched && t_empty));
}
