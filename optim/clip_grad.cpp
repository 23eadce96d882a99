#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <tapegrad/optim/clip_grad.hpp>
#include <tapegrad/optim/optimizer.hpp>

namespace tapegrad::optim {

namespace {

/// The defined gradients of `params` (PyTorch skips parameters whose grad is None).
std::vector<Tensor> defined_grads(const char* op, const std::vector<Tensor>& params) {
  std::vector<Tensor> grads;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (!params[i].defined())
      throw std::invalid_argument(std::string(op) + ": parameter " + std::to_string(i) +
                                  " is an undefined tensor");
    Tensor g = params[i].grad();
    if (g.defined()) grads.push_back(g);
  }
  return grads;
}

/// torch.norm(x, p) of one gradient, in T (accumulated in double: only the rounding of
/// the sum differs from PyTorch's, far below the float32 tolerance).
template <class T>
T norm_of(const Array<T>& a, double p) {
  const T* x = a.data();
  const std::size_t n = a.size();
  if (std::isinf(p)) {
    // PyTorch takes max(|g|) (min for -inf) of the whole tensor, which has no value
    // for an empty one.
    if (n == 0)
      throw std::invalid_argument(
          "clip_grad_norm_: max(): Expected reduction dim to be specified for input.numel() "
          "== 0. Specify the reduction dim with the 'dim' argument.");
    T m = std::abs(x[0]);
    for (std::size_t j = 1; j < n; ++j) {
      const T v = std::abs(x[j]);
      // torch.max/min propagate NaN.
      if (std::isnan(v) || (p > 0 ? v > m : v < m)) m = v;
      if (std::isnan(m)) break;
    }
    return m;
  }
  if (p == 0.0) {  // the number of non-zero entries
    double c = 0;
    for (std::size_t j = 0; j < n; ++j) c += x[j] != T(0) ? 1.0 : 0.0;
    return static_cast<T>(c);
  }
  double s = 0;
  if (p == 2.0) {
    for (std::size_t j = 0; j < n; ++j) s += static_cast<double>(x[j]) * static_cast<double>(x[j]);
    return static_cast<T>(std::sqrt(s));
  }
  if (p == 1.0) {
    for (std::size_t j = 0; j < n; ++j) s += std::abs(static_cast<double>(x[j]));
    return static_cast<T>(s);
  }
  for (std::size_t j = 0; j < n; ++j) s += std::pow(std::abs(static_cast<double>(x[j])), p);
  return static_cast<T>(std::pow(s, 1.0 / p));
}

/// Python's str of a float: "2.0", "0.5", "inf".
std::string python_float(double v) {
  std::string s = detail::format_number(v);
  if (std::isfinite(v) && s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  constexpr const char* op = "clip_grad_norm_";
  if (std::isnan(norm_type)) throw std::invalid_argument(std::string(op) + ": norm_type is nan");
  const std::vector<Tensor> grads = defined_grads(op, params);
  if (grads.empty()) return 0.0;
  const Dtype dtype = grads[0].dtype();
  for (const Tensor& g : grads) {
    // PyTorch would stack the per-gradient norms, which needs one dtype.
    if (g.dtype() != dtype)
      throw std::invalid_argument(std::string(op) + ": expected all gradients to have dtype " +
                                  dtype_name(dtype) + ", but got " + dtype_name(g.dtype()));
  }
  return dispatch(dtype, [&]<class T>() -> double {
    // total = norm(stack(norm(g_i, p)), p), or max_i max|g_i| for p = inf.
    Array<T> norms = Array<T>::from_shape({grads.size()});
    for (std::size_t i = 0; i < grads.size(); ++i)
      norms(i) = norm_of<T>(grads[i].cvalue<T>(), norm_type);
    const T total = grads.size() == 1 ? norms(0) : norm_of<T>(norms, norm_type);
    if (error_if_nonfinite && !std::isfinite(total)) {
      throw std::invalid_argument(
          std::string(op) + ": The total norm of order " + python_float(norm_type) +
          " for gradients from `parameters` is non-finite, so it cannot be clipped. To disable "
          "this error and scale the gradients by the non-finite norm anyway, set "
          "`error_if_nonfinite=False`");
    }
    // clip_coef = max_norm / (total + 1e-6), clamped to at most 1 (NaN passes through).
    // A number divided by a tensor is reciprocal(tensor) * number in PyTorch; so here.
    const T coef = (T(1) / (total + static_cast<T>(1e-6))) * static_cast<T>(max_norm);
    const T clamped = coef > T(1) ? T(1) : coef;
    for (const Tensor& g : grads) {
      Tensor h = g;
      Array<T>& a = h.value<T>();  // a write: bumps the gradient's version
      for (T& v : a) v = v * clamped;
    }
    return static_cast<double>(total);
  });
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  const std::vector<Tensor> grads = defined_grads("clip_grad_value_", params);
  for (const Tensor& g : grads) {
    dispatch(g.dtype(), [&]<class T>() {
      const T lo = static_cast<T>(-clip_value), hi = static_cast<T>(clip_value);
      Tensor h = g;
      // torch.clamp(x, min, max) = min(max(x, lo), hi): NaN stays NaN, and hi wins
      // when lo > hi (a negative clip_value), as in PyTorch.
      for (T& v : h.value<T>()) {
        T x = v;
        if (x < lo) x = lo;
        if (x > hi) x = hi;
        v = x;
      }
    });
  }
}

}  // namespace tapegrad::optim
