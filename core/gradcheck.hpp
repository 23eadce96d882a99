#pragma once
// Finite-difference gradient checking, as torch.autograd.gradcheck: compares the
// Jacobian the tape computes with central differences, element by element.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <tapegrad/core/tensor.hpp>

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
  std::size_t worst_input_index = 0;   // flat index into that input
  std::size_t worst_output_index = 0;  // flat index into the output
  double worst_analytic = 0.0;
  double worst_numeric = 0.0;
  /// Human-readable summary, naming the worst element.
  std::string message;
};

/// Options of gradcheck.
struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  /// Throw std::runtime_error with the report's message on failure (like torch's
  /// raise_exception=True); otherwise just return the report.
  bool raise = false;
};

/// Checks d f(inputs) / d inputs for every input that requires grad. Inputs must be
/// float64. f must be deterministic and may return a tensor of any shape: each
/// output element is back-propagated separately (full Jacobian), and each input
/// element is perturbed by ±eps. Runs on a private tape; the inputs' own gradients
/// are left as they were.
GradcheckReport gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

/// Same with the usual positional tolerances.
GradcheckReport gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, double eps, double atol = 1e-5,
                          double rtol = 1e-3);

}  // namespace tapegrad
