#include <tapegrad/optim/adam.hpp>
#include <tapegrad/optim/adamw.hpp>

#include <cmath>
#include <stdexcept>

namespace tapegrad::optim {

namespace {

using detail::format_number;

/// Coefficients of one step, computed once in double (as PyTorch does in Python)
/// and then converted to the parameter's type (as ATen does for the scalars).
template <class T>
struct AdamCoeffs {
  T beta1, one_minus_beta1, beta2, one_minus_beta2;
  T weight_decay;      // coupled L2 term (Adam)
  T decay_factor;      // 1 - lr*wd (AdamW)
  T neg_step_size;     // -lr / (1 - beta1^t)
  T bias_correction2_sqrt;
  T eps;
};

// One fused pass over the parameter: each element's gradient, moments and value
// are read and written once. It rounds exactly as PyTorch's CPU kernels do, so
// results are bit-identical to PyTorch's in float32 and float64 (parity_optim
// measures 0): each expression keeps PyTorch's operation order (mul_ then
// add_/addcmul_, sqrt / bc2_sqrt + eps, addcdiv's (value*m)/denom), and where
// ATen fuses a multiply-add (add with alpha: vec::fmadd; addcmul's final
// self + (value*t1)*t2, contracted by the compiler) we use std::fma too.
template <class T>
void adam_update(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
                 T* __restrict vmax, std::size_t n, const AdamCoeffs<T>& c,
                 bool maximize, bool coupled_decay, bool decoupled_decay) {
  for (std::size_t j = 0; j < n; ++j) {
    T gj = maximize ? -g[j] : g[j];
    T pj = p[j];
    if (decoupled_decay) pj = pj * c.decay_factor;        // param.mul_(1 - lr*wd)
    if (coupled_decay) gj = std::fma(pj, c.weight_decay, gj);     // grad.add(param, alpha=wd)
    const T mj = std::fma(gj, c.one_minus_beta1, m[j] * c.beta1);  // exp_avg.mul_(b1).add_(g, alpha=1-b1)
    const T vj = std::fma(c.one_minus_beta2 * gj, gj, v[j] * c.beta2);  // .mul_(b2).addcmul_(g, g, value=1-b2)
    m[j] = mj;
    v[j] = vj;
    T second = vj;
    if (vmax) {
      // torch.maximum: NaN wins, so a NaN is not silently dropped from the running max.
      const T prev = vmax[j];
      second = (vj > prev || std::isnan(vj)) ? vj : prev;
      vmax[j] = second;
    }
    const T denom = std::sqrt(second) / c.bias_correction2_sqrt + c.eps;
    p[j] = pj + c.neg_step_size * mj / denom;  // param.addcdiv_(m, denom, value=-step_size)
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
  if (!(o.weight_decay >= 0.0)) fail("Invalid weight_decay value: " + format_number(o.weight_decay));
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
    const AdamCoeffs<T> c{static_cast<T>(o.betas.first),
                          static_cast<T>(1.0 - o.betas.first),
                          static_cast<T>(o.betas.second),
                          static_cast<T>(1.0 - o.betas.second),
                          static_cast<T>(o.weight_decay),
                          static_cast<T>(1.0 - lr * o.weight_decay),
                          static_cast<T>(-step_size),
                          static_cast<T>(bias_correction2_sqrt),
                          static_cast<T>(o.eps)};
    Tensor p = param;
    T* vmax = o.amsgrad ? state.buffers[2].value<T>().data() : nullptr;
    adam_update<T>(p.value<T>().data(), grad.value<T>().data(), state.buffers[0].value<T>().data(),
                   state.buffers[1].value<T>().data(), vmax, p.numel(), c, o.maximize,
                   !decoupled_ && o.weight_decay != 0.0, decoupled_ && o.weight_decay != 0.0);
  });
}

std::vector<std::string> AdamBase::buffer_names() const {
  if (options_.amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}

void AdamBase::save_options(StateDict& out) const {
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
  return AdamWOptions{lr(), options_.betas, options_.eps, options_.weight_decay, options_.amsgrad,
                      options_.maximize};
}

}  // namespace tapegrad::optim
