#include <cmath>
#include <stdexcept>
#include <tapegrad/optim/adam.hpp>
#include <tapegrad/optim/adamw.hpp>

// Explicit SIMD for the bulk of the Adam loop, only where it rounds exactly like the
// scalar code: xsimd present (the library defines XTENSOR_USE_XSIMD when it links
// xsimd) and an architecture whose xsimd::fma is a true fused multiply-add. xsimd
// 8's AVX-512 fma is a plain x*y + z, which the compiler may contract either way
// round (measured: different bits), so AVX-512 machines use the FMA3/AVX2 batches;
// the loop is memory-bound, so the narrower vectors cost nothing.
#if defined(XTENSOR_USE_XSIMD)
#include <xsimd/xsimd.hpp>
#if XSIMD_WITH_FMA3_AVX2
#define TAPEGRAD_OPTIM_SIMD 1
namespace tapegrad::optim {
using SimdArch = xsimd::fma3<xsimd::avx2>;
}
#elif XSIMD_WITH_FMA3_SSE
#define TAPEGRAD_OPTIM_SIMD 1
namespace tapegrad::optim {
using SimdArch = xsimd::fma3<xsimd::sse4_2>;
}
#endif
#endif
#ifndef TAPEGRAD_OPTIM_SIMD
#define TAPEGRAD_OPTIM_SIMD 0
#endif

namespace tapegrad::optim {

namespace {

using detail::format_number;

/// Coefficients of one step, computed once in double (as PyTorch does in Python)
/// and then converted to the parameter's type (as ATen does for the scalars).
/// V is the element type, or a SIMD batch of it holding the same value in every lane.
template <class V>
struct AdamCoeffs {
  V beta1, one_minus_beta1, beta2, one_minus_beta2;
  V weight_decay;   // coupled L2 term (Adam)
  V decay_factor;   // 1 - lr*wd (AdamW)
  V neg_step_size;  // -lr / (1 - beta1^t)
  V bias_correction2_sqrt;
  V eps;
};

// Scalar and SIMD versions of the three non-arithmetic operations, so one
// element function serves both loops below.
template <class T>
T fused_multiply_add(T a, T b, T c) {
  return std::fma(a, b, c);
}
template <class T>
T square_root(T a) {
  return std::sqrt(a);
}
// torch.maximum: NaN wins, so a NaN is not silently dropped from the running max.
template <class T>
T nan_propagating_max(T a, T b) {
  return (a > b || std::isnan(a)) ? a : b;
}
#if TAPEGRAD_OPTIM_SIMD
template <class T, class A>
xsimd::batch<T, A> fused_multiply_add(xsimd::batch<T, A> a, xsimd::batch<T, A> b,
                                      xsimd::batch<T, A> c) {
  return xsimd::fma(a, b, c);
}
template <class T, class A>
xsimd::batch<T, A> square_root(xsimd::batch<T, A> a) {
  return xsimd::sqrt(a);
}
template <class T, class A>
xsimd::batch<T, A> nan_propagating_max(xsimd::batch<T, A> a, xsimd::batch<T, A> b) {
  return xsimd::select((a > b) | xsimd::isnan(a), a, b);
}
#endif

// One element (or one SIMD batch of elements) of an Adam/AdamW step. It rounds
// exactly as PyTorch's CPU kernels do, so results are bit-identical to PyTorch's
// in float32 and float64 (parity_optim measures 0): each expression keeps
// PyTorch's operation order (mul_ then add_/addcmul_, sqrt / bc2_sqrt + eps,
// addcdiv's (value*m)/denom), and where ATen fuses a multiply-add (add with alpha:
// vec::fmadd; addcmul's final self + (value*t1)*t2, contracted by the compiler)
// we fuse too.
template <bool Maximize, bool Coupled, bool Decoupled, bool Amsgrad, class V>
inline void adam_element(V& p, V g, V& m, V& v, V& vmax, const AdamCoeffs<V>& c) {
  if constexpr (Maximize) g = -g;
  // param.mul_(1 - lr*wd) is its own kernel in PyTorch, so its product is rounded
  // before the final addition. A plain p*decay here would let the compiler contract
  // it with that addition into one FMA (GCC does in C++ by default); an FMA with -0
  // is exactly the rounded product (signs of zero included) and cannot be contracted.
  if constexpr (Decoupled) p = fused_multiply_add(p, c.decay_factor, V(-0.0f));
  if constexpr (Coupled) g = fused_multiply_add(p, c.weight_decay, g);  // grad.add(param, alpha=wd)
  m = fused_multiply_add(g, c.one_minus_beta1,
                         m * c.beta1);  // exp_avg.mul_(b1).add_(g, alpha=1-b1)
  v = fused_multiply_add(c.one_minus_beta2 * g, g,
                         v * c.beta2);  // .mul_(b2).addcmul_(g, g, value=1-b2)
  V second = v;
  if constexpr (Amsgrad) {
    vmax = nan_propagating_max(v, vmax);
    second = vmax;
  }
  const V denom = square_root(second) / c.bias_correction2_sqrt + c.eps;
  p = p + c.neg_step_size * m / denom;  // param.addcdiv_(exp_avg, denom, value=-step_size)
}

// One fused pass over the parameter: each element's gradient, moments and value are
// read and written once. The compiler cannot vectorize std::sqrt (it may set errno),
// so the bulk runs on explicit SIMD batches when xsimd is there and the CPU fuses
// multiply-adds (the same rounding as the scalar tail); otherwise everything is scalar.
template <class T, bool Maximize, bool Coupled, bool Decoupled, bool Amsgrad>
void adam_update(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                 T* __restrict vmax, std::size_t n, const AdamCoeffs<T>& c) {
  std::size_t j = 0;
#if TAPEGRAD_OPTIM_SIMD
  using B = xsimd::batch<T, SimdArch>;
  constexpr std::size_t width = B::size;
  const AdamCoeffs<B> cb{B(c.beta1),           B(c.one_minus_beta1),       B(c.beta2),
                         B(c.one_minus_beta2), B(c.weight_decay),          B(c.decay_factor),
                         B(c.neg_step_size),   B(c.bias_correction2_sqrt), B(c.eps)};
  for (; j + width <= n; j += width) {
    B pj = B::load_unaligned(p + j);
    B mj = B::load_unaligned(m + j);
    B vj = B::load_unaligned(v + j);
    B vmaxj = Amsgrad ? B::load_unaligned(vmax + j) : B(T(0));
    adam_element<Maximize, Coupled, Decoupled, Amsgrad>(pj, B::load_unaligned(g + j), mj, vj, vmaxj,
                                                        cb);
    pj.store_unaligned(p + j);
    mj.store_unaligned(m + j);
    vj.store_unaligned(v + j);
    if constexpr (Amsgrad) vmaxj.store_unaligned(vmax + j);
  }
#endif
  for (; j < n; ++j) {
    T pj = p[j], mj = m[j], vj = v[j];
    T vmaxj = Amsgrad ? vmax[j] : T(0);
    adam_element<Maximize, Coupled, Decoupled, Amsgrad>(pj, g[j], mj, vj, vmaxj, c);
    p[j] = pj;
    m[j] = mj;
    v[j] = vj;
    if constexpr (Amsgrad) vmax[j] = vmaxj;
  }
}

}  // namespace

namespace detail {

AdamBase::AdamBase(const char* name, bool decoupled, std::vector<Tensor> params,
                   const AdamOptions& options)
    : Optimizer(name, std::move(params), options.lr), options_(options), decoupled_(decoupled) {
  validate(options_);
}

void AdamBase::validate(const AdamOptions& o) const {
  auto fail = [&](const std::string& what) { throw std::invalid_argument(name() + ": " + what); };
  // PyTorch's checks and messages, in its order (lr is checked by Optimizer).
  // `!(x >= 0)` also rejects NaN.
  if (!(o.eps >= 0.0)) fail("Invalid epsilon value: " + format_number(o.eps));
  if (!(o.betas.first >= 0.0 && o.betas.first < 1.0)) {
    fail("Invalid beta parameter at index 0: " + format_number(o.betas.first));
  }
  if (!(o.betas.second >= 0.0 && o.betas.second < 1.0)) {
    fail("Invalid beta parameter at index 1: " + format_number(o.betas.second));
  }
  if (!(o.weight_decay >= 0.0))
    fail("Invalid weight_decay value: " + format_number(o.weight_decay));
}

void AdamBase::update(const Tensor& param, const Tensor& grad, ParamState& state) {
  if (state.buffers.empty()) {
    // Lazily, like PyTorch: a parameter that never gets a gradient costs no memory.
    const std::size_t count = options_.amsgrad ? 3 : 2;
    for (std::size_t k = 0; k < count; ++k) {
      state.buffers.push_back(Tensor::zeros(param.shape(), param.dtype()));
    }
  }
  state.step += 1;

  const AdamOptions& o = options_;
  const double lr = this->lr();
  const double t = static_cast<double>(state.step);
  const double bias_correction1 = 1.0 - std::pow(o.betas.first, t);
  const double bias_correction2 = 1.0 - std::pow(o.betas.second, t);
  const double step_size = lr / bias_correction1;
  const double bias_correction2_sqrt = std::sqrt(bias_correction2);

  dispatch(param.dtype(), [&]<class T>() {
    const AdamCoeffs<T> c{static_cast<T>(o.betas.first),  static_cast<T>(1.0 - o.betas.first),
                          static_cast<T>(o.betas.second), static_cast<T>(1.0 - o.betas.second),
                          static_cast<T>(o.weight_decay), static_cast<T>(1.0 - lr * o.weight_decay),
                          static_cast<T>(-step_size),     static_cast<T>(bias_correction2_sqrt),
                          static_cast<T>(o.eps)};
    Tensor p = param;
    T* pd = p.value<T>().data();
    const T* gd = grad.value<T>().data();
    T* m = state.buffers[0].value<T>().data();
    T* v = state.buffers[1].value<T>().data();
    T* vmax = o.amsgrad ? state.buffers[2].value<T>().data() : nullptr;
    const std::size_t n = p.numel();
    const bool decay = o.weight_decay != 0.0;
    detail::with_flags(
        [&]<bool Maximize, bool Coupled, bool Decoupled, bool Amsgrad>() {
          adam_update<T, Maximize, Coupled, Decoupled, Amsgrad>(pd, gd, m, v, vmax, n, c);
        },
        o.maximize, decay && !decoupled_, decay && decoupled_, o.amsgrad);
  });
}

void AdamBase::set_cycled_momentum(double value) {
  AdamOptions o = options_;
  o.betas.first = value;
  validate(o);
  options_ = o;
}

std::vector<std::string> AdamBase::buffer_names() const {
  if (options_.amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}

void AdamBase::save_options(NamedTensors& out) const {
  out.emplace_back("param_groups.betas",
                   Tensor::from(xt::xarray<double>{options_.betas.first, options_.betas.second}));
  put_scalar(out, "param_groups.eps", options_.eps);
  put_scalar(out, "param_groups.weight_decay", options_.weight_decay);
  put_scalar(out, "param_groups.amsgrad", options_.amsgrad ? 1.0 : 0.0);
  put_scalar(out, "param_groups.maximize", options_.maximize ? 1.0 : 0.0);
}

void AdamBase::load_options(StateReader& in) {
  AdamOptions o;
  o.lr = lr();
  const auto& betas = in.tensor("param_groups.betas", Shape{2}, Dtype::Float64).value<double>();
  o.betas = {betas(0), betas(1)};
  o.eps = in.scalar("param_groups.eps");
  o.weight_decay = in.scalar("param_groups.weight_decay");
  o.amsgrad = in.flag("param_groups.amsgrad");
  o.maximize = in.flag("param_groups.maximize");
  validate(o);
  options_ = o;
}

}  // namespace detail

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options)
    : AdamBase("Adam", /*decoupled=*/false, std::move(params), options) {}

AdamOptions Adam::options() const {
  AdamOptions o = options_;
  o.lr = lr();
  return o;
}

namespace {
AdamOptions as_adam_options(const AdamWOptions& w) {
  return AdamOptions{w.lr, w.betas, w.eps, w.weight_decay, w.amsgrad, w.maximize};
}
}  // namespace

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& options)
    : AdamBase("AdamW", /*decoupled=*/true, std::move(params), as_adam_options(options)) {}

AdamWOptions AdamW::options() const {
  return AdamWOptions{lr(),
                      options_.betas,
                      options_.eps,
                      options_.weight_decay,
                      options_.amsgrad,
                      options_.maximize};
}

}  // namespace tapegrad::optim
