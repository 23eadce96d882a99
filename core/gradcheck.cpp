#include <tapegrad/core/gradcheck.hpp>

#include <cmath>
#include <sstream>
#include <stdexcept>

#include <tapegrad/core/tape.hpp>

namespace tapegrad {

GradcheckReport gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    check_defined("gradcheck", inputs[i]);
    if (inputs[i].requires_grad() && inputs[i].dtype() != Dtype::Float64)
      throw std::invalid_argument("gradcheck: input " + std::to_string(i) +
                                  " requires grad but has dtype " + dtype_name(inputs[i].dtype()) +
                                  "; gradcheck needs float64 inputs (float32 finite differences "
                                  "are too coarse)");
    if (inputs[i].requires_grad() && !inputs[i].is_leaf())
      throw std::invalid_argument("gradcheck: input " + std::to_string(i) + " must be a leaf tensor");
  }
  // A private tape keeps the user's tape and the inputs' gradients untouched.
  Tape tape;
  Tape::Use use(tape);
  std::vector<Tensor> saved_grads;
  for (const auto& in : inputs) {
    saved_grads.push_back(in.has_grad() ? in.grad().clone_detached() : Tensor());
    in.node()->grad.reset();
  }

  Tensor out0 = f(inputs);
  check_defined("gradcheck", out0, "output of f");
  if (out0.dtype() != Dtype::Float64)
    throw std::invalid_argument(std::string("gradcheck: f returned dtype ") +
                                dtype_name(out0.dtype()) + ", expected float64");
  const std::size_t n_out = out0.numel();
  const Shape out_shape = out0.shape();

  // Analytic Jacobian, one row per output element: J_a[in][out][elem].
  std::vector<std::vector<std::vector<double>>> analytic(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].requires_grad())
      analytic[i].assign(n_out, std::vector<double>(inputs[i].numel(), 0.0));
  if (out0.requires_grad()) {
    for (std::size_t o = 0; o < n_out; ++o) {
      Tensor seed = Tensor::zeros(out_shape, Dtype::Float64);
      seed.value<double>().data()[o] = 1.0;
      out0.backward(seed, /*retain_graph=*/true);
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (!inputs[i].requires_grad() || !inputs[i].has_grad()) continue;
        const auto& g = inputs[i].grad().value<double>();
        std::copy(g.data(), g.data() + g.size(), analytic[i][o].begin());
        inputs[i].node()->grad.reset();
      }
    }
  }
  tape.clear();

  // Numeric Jacobian by central differences, compared entry by entry.
  GradcheckReport rep;
  double worst_score = -INFINITY;
  {
    NoGradGuard no_grad;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].requires_grad()) continue;
      auto& x = const_cast<Tensor&>(inputs[i]).value<double>();
      for (std::size_t e = 0; e < x.size(); ++e) {
        const double orig = x.data()[e];
        x.data()[e] = orig + opt.eps;
        xt::xarray<double> plus = f(inputs).value<double>();
        x.data()[e] = orig - opt.eps;
        xt::xarray<double> minus = f(inputs).value<double>();
        x.data()[e] = orig;
        if (plus.size() != n_out || minus.size() != n_out)
          throw std::invalid_argument("gradcheck: f changed its output size under perturbation");
        for (std::size_t o = 0; o < n_out; ++o) {
          const double num = (plus.data()[o] - minus.data()[o]) / (2.0 * opt.eps);
          const double ana = analytic[i][o][e];
          const double abs_err = std::fabs(ana - num);
          const double rel_err = abs_err / std::max(std::fabs(num), 1e-300);
          ++rep.checked;
          rep.max_abs_error = std::max(rep.max_abs_error, abs_err);
          if (std::fabs(num) > 0) rep.max_rel_error = std::max(rep.max_rel_error, rel_err);
          const bool ok = abs_err <= opt.atol + opt.rtol * std::fabs(num);
          if (!ok) ++rep.failures;
          const double score = abs_err - opt.rtol * std::fabs(num);
          if (score > worst_score || std::isnan(abs_err)) {
            worst_score = std::isnan(abs_err) ? INFINITY : score;
            rep.worst_input = i;
            rep.worst_input_index = e;
            rep.worst_output_index = o;
            rep.worst_analytic = ana;
            rep.worst_numeric = num;
          }
        }
      }
    }
  }
  for (std::size_t i = 0; i < inputs.size(); ++i)
    inputs[i].node()->grad = saved_grads[i].defined() ? saved_grads[i].node()->value : nullptr;

  rep.passed = rep.failures == 0;
  std::ostringstream os;
  os << "gradcheck " << (rep.passed ? "passed" : "FAILED") << ": " << rep.checked
     << " Jacobian entries, " << rep.failures << " outside atol=" << opt.atol
     << " + rtol=" << opt.rtol << "*|numeric|; max abs error " << rep.max_abs_error
     << ", max rel error " << rep.max_rel_error;
  if (rep.checked > 0)
    os << "; worst: input " << rep.worst_input << " element " << rep.worst_input_index
       << ", output element " << rep.worst_output_index << ": analytic " << rep.worst_analytic
       << " vs numeric " << rep.worst_numeric;
  rep.message = os.str();
  if (!rep.passed && opt.raise) throw std::runtime_error(rep.message);
  return rep;
}

GradcheckReport gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, double eps, double atol, double rtol) {
  GradcheckOptions o;
  o.eps = eps;
  o.atol = atol;
  o.rtol = rtol;
  return gradcheck(f, inputs, o);
}

}  // namespace tapegrad
