#include <cmath>
#include <stdexcept>
#include <tapegrad/optim/adagrad.hpp>

namespace tapegrad::optim {

namespace {

using detail::format_number;

void validate(const AdagradOptions& o) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("Adagrad: " + what); };
  // PyTorch's checks and messages, in its order (lr is checked by Optimizer first).
  if (!(o.lr_decay >= 0.0)) fail("Invalid lr_decay value: " + format_number(o.lr_decay));
  if (!(o.weight_decay >= 0.0))
    fail("Invalid weight_decay value: " + format_number(o.weight_decay));
  if (!(o.initial_accumulator_value >= 0.0))
    fail("Invalid initial_accumulator_value value: " + format_number(o.initial_accumulator_value));
  if (!(o.eps >= 0.0)) fail("Invalid epsilon value: " + format_number(o.eps));
}

// One pass, rounding as PyTorch's kernels (see rmsprop.cpp for the conventions).
template <class T, bool Decay>
void adagrad_update(T* __restrict p, const T* __restrict g, T* __restrict sum, std::size_t n,
                    T weight_decay, T eps, T neg_clr) {
  for (std::size_t j = 0; j < n; ++j) {
    T d = g[j];
    if constexpr (Decay) d = std::fma(p[j], weight_decay, d);  // grad.add(param, alpha=wd)
    const T s = std::fma(d, d, sum[j]);                        // sum.addcmul_(grad, grad, value=1)
    sum[j] = s;
    const T std_ = std::sqrt(s) + eps;  // sum.sqrt().add_(eps)
    p[j] = p[j] + neg_clr * d / std_;   // param.addcdiv_(grad, std, value=-clr)
  }
}

}  // namespace

Adagrad::Adagrad(std::vector<Tensor> params, const AdagradOptions& options)
    : Optimizer("Adagrad", std::move(params), options.lr), options_(options) {
  validate(options_);
}

AdagradOptions Adagrad::options() const {
  AdagradOptions o = options_;
  o.lr = lr();
  return o;
}

void Adagrad::update(const Tensor& param, const Tensor& grad, ParamState& state) {
  const AdagradOptions& o = options_;
  if (state.buffers.empty())
    state.buffers.push_back(
        Tensor::full(param.shape(), o.initial_accumulator_value, param.dtype()));
  state.step += 1;
  // In double, as PyTorch computes it in Python.
  const double clr = lr() / (1 + static_cast<double>(state.step - 1) * o.lr_decay);
  dispatch(param.dtype(), [&]<class T>() {
    Tensor p = param;
    T* pd = p.value<T>().data();
    const T* gd = grad.value<T>().data();
    T* sum = state.buffers[0].value<T>().data();
    const std::size_t n = p.numel();
    const T wd = static_cast<T>(o.weight_decay), eps = static_cast<T>(o.eps),
            neg_clr = static_cast<T>(-clr);
    if (o.weight_decay != 0.0) {
      adagrad_update<T, true>(pd, gd, sum, n, wd, eps, neg_clr);
    } else {
      adagrad_update<T, false>(pd, gd, sum, n, wd, eps, neg_clr);
    }
  });
}

void Adagrad::save_options(NamedTensors& out) const {
  detail::put_scalar(out, "param_groups.lr_decay", options_.lr_decay);
  detail::put_scalar(out, "param_groups.weight_decay", options_.weight_decay);
  detail::put_scalar(out, "param_groups.initial_accumulator_value",
                     options_.initial_accumulator_value);
  detail::put_scalar(out, "param_groups.eps", options_.eps);
}

void Adagrad::load_options(detail::StateReader& in) {
  AdagradOptions o;
  o.lr = lr();
  o.lr_decay = in.scalar("param_groups.lr_decay");
  o.weight_decay = in.scalar("param_groups.weight_decay");
  o.initial_accumulator_value = in.scalar("param_groups.initial_accumulator_value");
  o.eps = in.scalar("param_groups.eps");
  validate(o);
  options_ = o;
}

}  // namespace tapegrad::optim
