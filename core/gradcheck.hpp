#pragma once
// Finite-difference gradient checking, as torch.autograd.gradcheck and gradgradcheck:
// compares the Jacobian the graph computes with central differences, element by
// element; gradgradcheck does the same for the gradient itself (second derivatives).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <tapegrad/core/tensor.hpp>
#include <vector>

namespace tapegrad {

/// Result of gradcheck: overall verdict plus where the analytic and numeric
/// Jacobians disagree most.
struct GradcheckReport {
  bool passed = true;
  /// Jacobian entries compared (inputs elements x output elements).
  std::size_t checked = 0;
  /// Entries outside atol + rtol * |numeric|.
  std::size_t failures = 0;
  double max_abs_error = 0.0;
  double max_rel_error = 0.0;
  /// Location of the worst entry (largest |analytic - numeric| - rtol |numeric|).
  std::size_t worst_input = 0;
  std::size_t worst_input_index = 0;   ///< flat index into that input
  std::size_t worst_output_index = 0;  ///< flat index into the outputs, concatenated
  double worst_analytic = 0.0;
  double worst_numeric = 0.0;
  /// Human-readable summary, naming the worst element.
  std::string message;
};

/// Options of gradcheck and gradgradcheck.
struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  /// Throw std::runtime_error with the report's message on failure (like torch's
  /// raise_exception=True); otherwise just return the report.
  bool raise = false;
  /// Seed of gradgradcheck's random grad_outputs.
  std::uint64_t seed = 0;
};

/// A function of several tensors returning one tensor.
using TensorFunction = std::function<Tensor(const std::vector<Tensor>&)>;
/// A function of several tensors returning several.
using TensorsFunction = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

/// Checks d f(inputs) / d inputs for every input that requires grad. Inputs must be
/// float64 leaves. f must be deterministic and may return a tensor of any shape: the
/// Jacobian is built one output element at a time (grad() with a one-hot seed) and
/// compared with central differences (each input element perturbed by ±eps). The
/// inputs' .grad fields are left as they were.
GradcheckReport gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});
/// Same with the usual positional tolerances.
GradcheckReport gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs, double eps,
                          double atol = 1e-5, double rtol = 1e-3);
/// gradcheck of a function with several outputs (the Jacobian of their concatenation).
GradcheckReport gradcheck(const TensorsFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

/// Checks the second derivatives of f, as torch.autograd.gradgradcheck: with random
/// grad_outputs v (standard normal, from options.seed, requiring grad), the function
/// (inputs, v) -> grad(f(inputs), inputs, v, create_graph=true) is gradchecked with
/// respect to the inputs and v. Needs every op on the way to be twice differentiable.
GradcheckReport gradgradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options = {});

}  // namespace tapegrad
