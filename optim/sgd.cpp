#include <cmath>
#include <stdexcept>
#include <tapegrad/optim/sgd.hpp>

namespace tapegrad::optim {

namespace {

using detail::format_number;

// PyTorch's SGD has no default learning rate; say so rather than "Invalid learning rate: nan".
double required_lr(const SGDOptions& o) {
  if (std::isnan(o.lr))
    throw std::invalid_argument("SGD: a learning rate is required (SGDOptions::lr)");
  return o.lr;
}

void validate(const SGDOptions& o) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("SGD: " + what); };
  // PyTorch's checks and messages, in its order. `!(x >= 0)` also rejects NaN.
  if (!(o.momentum >= 0.0)) fail("Invalid momentum value: " + format_number(o.momentum));
  if (!(o.weight_decay >= 0.0))
    fail("Invalid weight_decay value: " + format_number(o.weight_decay));
  if (std::isnan(o.dampening)) fail("Invalid dampening value: nan");
  if (o.nesterov && (o.momentum <= 0.0 || o.dampening != 0.0)) {
    fail("Nesterov momentum requires a momentum and zero dampening");
  }
}

/// Scalars of one SGD step, converted to the parameter's type as ATen converts them.
template <class T>
struct SGDCoeffs {
  T weight_decay, momentum, one_minus_dampening, neg_lr;
};

// One fused pass over the parameter, instantiated per option set so the loop body
// has no branches and vectorizes. It rounds exactly as PyTorch's CPU kernels do,
// so results are bit-identical to PyTorch's in float32 and float64 (parity_optim
// measures 0): scalars are converted to T first, as ATen does for a tensor of type
// T; each expression keeps PyTorch's operation order; and `x.add(y, alpha=a)` is a
// fused multiply-add (ATen computes it with vec::fmadd), hence std::fma below.
// (With -march=native std::fma is one instruction; without, a libm call.)
template <class T, bool Maximize, bool Decay, bool Momentum, bool First, bool Nesterov>
void sgd_update(T* __restrict p, const T* __restrict g, T* __restrict buf, std::size_t n,
                SGDCoeffs<T> c) {
  for (std::size_t j = 0; j < n; ++j) {
    T d = Maximize ? -g[j] : g[j];
    if constexpr (Decay) d = std::fma(p[j], c.weight_decay, d);  // grad.add(param, alpha=wd)
    if constexpr (Momentum) {
      // The buffer starts as a copy of the first (decayed) gradient: no dampening then.
      const T b = First ? d : std::fma(d, c.one_minus_dampening, buf[j] * c.momentum);
      buf[j] = b;
      d = Nesterov ? std::fma(b, c.momentum, d) : b;
    }
    p[j] = std::fma(d, c.neg_lr, p[j]);  // param.add_(d_p, alpha=-lr)
  }
}

}  // namespace

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options)
    : Optimizer("SGD", std::move(params), required_lr(options)), options_(options) {
  validate(options_);
}

SGDOptions SGD::options() const {
  SGDOptions o = options_;
  o.lr = lr();
  return o;
}

void SGD::update(const Tensor& param, const Tensor& grad, ParamState& state) {
  const bool with_momentum = options_.momentum != 0.0;
  const bool first = state.buffers.empty();
  if (with_momentum && first) {
    // Allocated once, filled by the first update (buf = clone(d_p) in PyTorch).
    state.buffers.push_back(Tensor::zeros(param.shape(), param.dtype()));
  }
  dispatch(param.dtype(), [&]<class T>() {
    const SGDCoeffs<T> c{static_cast<T>(options_.weight_decay), static_cast<T>(options_.momentum),
                         static_cast<T>(1.0 - options_.dampening), static_cast<T>(-lr())};
    Tensor p = param;
    T* pd = p.value<T>().data();
    const T* gd = grad.value<T>().data();
    T* buf = with_momentum ? state.buffers[0].value<T>().data() : nullptr;
    const std::size_t n = p.numel();
    detail::with_flags(
        [&]<bool Maximize, bool Decay, bool Momentum, bool First, bool Nesterov>() {
          sgd_update<T, Maximize, Decay, Momentum, First, Nesterov>(pd, gd, buf, n, c);
        },
        options_.maximize, options_.weight_decay != 0.0, with_momentum, first, options_.nesterov);
  });
}

void SGD::set_cycled_momentum(double value) {
  SGDOptions o = options_;
  o.momentum = value;
  validate(o);
  options_ = o;
}

std::vector<std::string> SGD::buffer_names() const {
  if (options_.momentum != 0.0) return {"momentum_buffer"};
  return {};
}

void SGD::save_options(NamedTensors& out) const {
  detail::put_scalar(out, "param_groups.momentum", options_.momentum);
  detail::put_scalar(out, "param_groups.dampening", options_.dampening);
  detail::put_scalar(out, "param_groups.weight_decay", options_.weight_decay);
  detail::put_scalar(out, "param_groups.nesterov", options_.nesterov ? 1.0 : 0.0);
  detail::put_scalar(out, "param_groups.maximize", options_.maximize ? 1.0 : 0.0);
}

void SGD::load_options(detail::StateReader& in) {
  SGDOptions o;
  o.lr = lr();
  o.momentum = in.scalar("param_groups.momentum");
  o.dampening = in.scalar("param_groups.dampening");
  o.weight_decay = in.scalar("param_groups.weight_decay");
  o.nesterov = in.flag("param_groups.nesterov");
  o.maximize = in.flag("param_groups.maximize");
  validate(o);
  options_ = o;
}

}  // namespace tapegrad::optim
