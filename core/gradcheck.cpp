#include <cmath>
#include <sstream>
#include <stdexcept>
#include <tapegrad/core/gradcheck.hpp>
#include <tapegrad/core/tape.hpp>

namespace tapegrad {

namespace {

void check_inputs(const char* fn, const std::vector<Tensor>& inputs) {
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    check_defined(fn, inputs[i]);
    if (inputs[i].requires_grad() && inputs[i].dtype() != Dtype::Float64)
      throw std::invalid_argument(std::string(fn) + ": input " + std::to_string(i) +
                                  " requires grad but has dtype " + dtype_name(inputs[i].dtype()) +
                                  "; gradcheck needs float64 inputs (float32 finite differences "
                                  "are too coarse)");
    if (inputs[i].requires_grad() && !inputs[i].is_leaf())
      throw std::invalid_argument(std::string(fn) + ": input " + std::to_string(i) +
                                  " must be a leaf tensor");
  }
}

std::vector<Tensor> evaluate(const char* fn, const TensorsFunction& f,
                             const std::vector<Tensor>& inputs) {
  std::vector<Tensor> outs = f(inputs);
  for (std::size_t j = 0; j < outs.size(); ++j) {
    check_defined(fn, outs[j], "output of f");
    if (outs[j].dtype() != Dtype::Float64)
      throw std::invalid_argument(std::string(fn) + ": f returned dtype " +
                                  dtype_name(outs[j].dtype()) + " for output " + std::to_string(j) +
                                  ", expected float64");
  }
  return outs;
}

// Perturbs element e of x without counting as a modification: the value is restored
// exactly afterwards, and the caller's tensor must look untouched.
double* raw(const Tensor& x) { return const_cast<double*>(x.cvalue<double>().data()); }

}  // namespace

GradcheckReport gradcheck(const TensorsFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& opt) {
  check_inputs("gradcheck", inputs);
  // A private tape keeps the graph counts of the user's tape untouched.
  Tape tape;
  Tape::Use use(tape);

  std::vector<Tensor> outs = evaluate("gradcheck", f, inputs);
  std::vector<std::size_t> out_offset(outs.size() + 1, 0);
  for (std::size_t j = 0; j < outs.size(); ++j) out_offset[j + 1] = out_offset[j] + outs[j].numel();
  const std::size_t n_out = out_offset.back();

  std::vector<std::size_t> diff;  // inputs that require grad
  std::vector<Tensor> diff_inputs;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].requires_grad()) {
      diff.push_back(i);
      diff_inputs.push_back(inputs[i]);
    }

  // Analytic Jacobian, one row per output element: analytic[in][out][elem].
  std::vector<std::vector<std::vector<double>>> analytic(inputs.size());
  for (std::size_t i : diff) analytic[i].assign(n_out, std::vector<double>(inputs[i].numel(), 0.0));
  std::vector<Tensor> live_outs;
  std::vector<std::size_t> live_index;
  for (std::size_t j = 0; j < outs.size(); ++j)
    if (outs[j].requires_grad()) {
      live_outs.push_back(outs[j]);
      live_index.push_back(j);
    }
  if (!diff.empty()) {
    for (std::size_t lj = 0; lj < live_outs.size(); ++lj) {
      const std::size_t j = live_index[lj];
      for (std::size_t o = 0; o < outs[j].numel(); ++o) {
        std::vector<Tensor> seeds(live_outs.size());
        for (std::size_t k = 0; k < live_outs.size(); ++k)
          seeds[k] = Tensor::zeros(live_outs[k].shape(), Dtype::Float64);
        seeds[lj].mutable_value<double>().data()[o] = 1.0;
        GradOptions go;
        go.retain_graph = true;
        go.allow_unused = true;
        const std::vector<Tensor> g = grad(live_outs, diff_inputs, seeds, go);
        for (std::size_t k = 0; k < diff.size(); ++k) {
          if (!g[k].defined()) continue;
          const auto& gv = g[k].value<double>();
          std::copy(gv.data(), gv.data() + gv.size(), analytic[diff[k]][out_offset[j] + o].begin());
        }
      }
    }
  }
  outs.clear();
  live_outs.clear();

  // Numeric Jacobian by central differences, compared entry by entry.
  GradcheckReport rep;
  double worst_score = -INFINITY;
  {
    // Grad mode stays on: f may itself differentiate (gradgradcheck's f does).
    auto flat = [&](const std::vector<Tensor>& ts) {
      std::vector<double> v;
      v.reserve(n_out);
      for (const Tensor& t : ts) {
        const auto& a = t.value<double>();
        v.insert(v.end(), a.data(), a.data() + a.size());
      }
      if (v.size() != n_out)
        throw std::invalid_argument("gradcheck: f changed its output size under perturbation");
      return v;
    };
    for (std::size_t i : diff) {
      double* x = raw(inputs[i]);
      for (std::size_t e = 0; e < inputs[i].numel(); ++e) {
        const double orig = x[e];
        x[e] = orig + opt.eps;
        const std::vector<double> plus = flat(evaluate("gradcheck", f, inputs));
        x[e] = orig - opt.eps;
        const std::vector<double> minus = flat(evaluate("gradcheck", f, inputs));
        x[e] = orig;
        for (std::size_t o = 0; o < n_out; ++o) {
          const double num = (plus[o] - minus[o]) / (2.0 * opt.eps);
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

GradcheckReport gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  return gradcheck(
      TensorsFunction([&](const std::vector<Tensor>& in) { return std::vector<Tensor>{f(in)}; }),
      inputs, options);
}

GradcheckReport gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs, double eps,
                          double atol, double rtol) {
  GradcheckOptions o;
  o.eps = eps;
  o.atol = atol;
  o.rtol = rtol;
  return gradcheck(f, inputs, o);
}

GradcheckReport gradgradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options) {
  check_inputs("gradgradcheck", inputs);
  Shape out_shape;
  {
    Tape tape;
    Tape::Use use(tape);
    out_shape = f(inputs).shape();
  }
  Generator gen(options.seed);
  Tensor v = Tensor::randn(out_shape, gen, Dtype::Float64, /*requires_grad=*/true);
  std::vector<std::size_t> diff;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].requires_grad()) diff.push_back(i);
  const std::size_t n = inputs.size();
  // (inputs, v) -> the vector-Jacobian product of f at inputs with v, for every input
  // that requires grad (zeros where f does not depend on it).
  auto vjp = [&f, &diff, n](const std::vector<Tensor>& all) {
    const std::vector<Tensor> in(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
    const Tensor& seed = all[n];
    const Tensor y = f(in);
    std::vector<Tensor> wrt;
    for (std::size_t i : diff) wrt.push_back(in[i]);
    std::vector<Tensor> g(diff.size());
    if (y.requires_grad() && !wrt.empty()) {
      GradOptions go;
      go.create_graph = true;
      go.allow_unused = true;
      g = grad({y}, wrt, {seed}, go);
    }
    for (std::size_t k = 0; k < g.size(); ++k)
      if (!g[k].defined()) g[k] = Tensor::zeros_like(wrt[k]);
    return g;
  };
  std::vector<Tensor> all = inputs;
  all.push_back(v);
  GradcheckReport rep = gradcheck(TensorsFunction(vjp), all, options);
  rep.message = "gradgradcheck: " + rep.message;
  return rep;
}

}  // namespace tapegrad
