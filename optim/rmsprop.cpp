#include <cmath>
#include <stdexcept>
#include <tapegrad/optim/rmsprop.hpp>

namespace tapegrad::optim {

namespace {

using detail::format_number;

void validate(const RMSpropOptions& o) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("RMSprop: " + what); };
  // PyTorch's checks and messages, in its order (lr is checked by Optimizer first).
  // `!(x >= 0)` also rejects NaN.
  if (!(o.eps >= 0.0)) fail("Invalid epsilon value: " + format_number(o.eps));
  if (!(o.momentum >= 0.0)) fail("Invalid momentum value: " + format_number(o.momentum));
  if (!(o.weight_decay >= 0.0))
    fail("Invalid weight_decay value: " + format_number(o.weight_decay));
  if (!(o.alpha >= 0.0)) fail("Invalid alpha value: " + format_number(o.alpha));
}

template <class T>
struct RMSpropCoeffs {
  T alpha, one_minus_alpha, weight_decay, eps, momentum, neg_lr;
};

// One fused pass, instantiated per option set (branch-free body). Each line is one
// ATen kernel of PyTorch's _single_tensor_rmsprop, in its order and rounding: mul_
// rounds on its own, add(x, alpha=a) is a fused multiply-add, addcmul(t1, t2, value=c)
// is self + (c*t1)*t2 with the last step fused, addcdiv(t1, t2, value=c) is
// self + (c*t1)/t2.
template <class T, bool Decay, bool Centered, bool Momentum>
void rmsprop_update(T* __restrict p, const T* __restrict g, T* __restrict sq, T* __restrict buf,
                    T* __restrict gavg, std::size_t n, RMSpropCoeffs<T> c) {
  for (std::size_t j = 0; j < n; ++j) {
    T d = g[j];
    if constexpr (Decay) d = std::fma(p[j], c.weight_decay, d);  // grad.add(param, alpha=wd)
    const T v = std::fma(c.one_minus_alpha * d, d, sq[j] * c.alpha);
    sq[j] = v;  // square_avg.mul_(alpha).addcmul_(grad, grad, value=1-alpha)
    T avg;
    if constexpr (Centered) {
      const T m = std::fma(d, c.one_minus_alpha, gavg[j] * c.alpha);
      gavg[j] = m;  // grad_avg.mul_(alpha).add_(grad, alpha=1-alpha)
      avg = std::sqrt(
          std::fma(-m, m, v));  // square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
    } else {
      avg = std::sqrt(v);
    }
    avg = avg + c.eps;  // .add_(eps)
    if constexpr (Momentum) {
      const T b = buf[j] * c.momentum + d / avg;  // buf.mul_(momentum).addcdiv_(grad, avg)
      buf[j] = b;
      p[j] = std::fma(b, c.neg_lr, p[j]);  // param.add_(buf, alpha=-lr)
    } else {
      p[j] = p[j] + c.neg_lr * d / avg;  // param.addcdiv_(grad, avg, value=-lr)
    }
  }
}

}  // namespace

RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& options)
    : Optimizer("RMSprop", std::move(params), options.lr), options_(options) {
  validate(options_);
}

RMSpropOptions RMSprop::options() const {
  RMSpropOptions o = options_;
  o.lr = lr();
  return o;
}

void RMSprop::update(const Tensor& param, const Tensor& grad, ParamState& state) {
  const RMSpropOptions& o = options_;
  const bool with_momentum = o.momentum > 0.0;
  if (state.buffers.empty()) {
    // Lazily, as PyTorch: zeros of the parameter's shape, one per buffer name.
    for (std::size_t k = 0, n = buffer_names().size(); k < n; ++k)
      state.buffers.push_back(Tensor::zeros(param.shape(), param.dtype()));
  }
  state.step += 1;
  dispatch(param.dtype(), [&]<class T>() {
    const RMSpropCoeffs<T> c{static_cast<T>(o.alpha),        static_cast<T>(1.0 - o.alpha),
                             static_cast<T>(o.weight_decay), static_cast<T>(o.eps),
                             static_cast<T>(o.momentum),     static_cast<T>(-lr())};
    Tensor p = param;
    T* pd = p.value<T>().data();
    const T* gd = grad.value<T>().data();
    T* sq = state.buffers[0].value<T>().data();
    std::size_t k = 1;
    T* buf = with_momentum ? state.buffers[k++].value<T>().data() : nullptr;
    T* gavg = o.centered ? state.buffers[k].value<T>().data() : nullptr;
    const std::size_t n = p.numel();
    detail::with_flags(
        [&]<bool Decay, bool Centered, bool Momentum>() {
          rmsprop_update<T, Decay, Centered, Momentum>(pd, gd, sq, buf, gavg, n, c);
        },
        o.weight_decay != 0.0, o.centered, with_momentum);
  });
}

void RMSprop::set_cycled_momentum(double value) {
  RMSpropOptions o = options_;
  o.momentum = value;
  validate(o);
  options_ = o;
}

std::vector<std::string> RMSprop::buffer_names() const {
  std::vector<std::string> names{"square_avg"};
  if (options_.momentum > 0.0) names.push_back("momentum_buffer");
  if (options_.centered) names.push_back("grad_avg");
  return names;
}

void RMSprop::save_options(NamedTensors& out) const {
  detail::put_scalar(out, "param_groups.alpha", options_.alpha);
  detail::put_scalar(out, "param_groups.eps", options_.eps);
  detail::put_scalar(out, "param_groups.weight_decay", options_.weight_decay);
  detail::put_scalar(out, "param_groups.momentum", options_.momentum);
  detail::put_scalar(out, "param_groups.centered", options_.centered ? 1.0 : 0.0);
}

void RMSprop::load_options(detail::StateReader& in) {
  RMSpropOptions o;
  o.lr = lr();
  o.alpha = in.scalar("param_groups.alpha");
  o.eps = in.scalar("param_groups.eps");
  o.weight_decay = in.scalar("param_groups.weight_decay");
  o.momentum = in.scalar("param_groups.momentum");
  o.centered = in.flag("param_groups.centered");
  validate(o);
  options_ = o;
}

}  // namespace tapegrad::optim
