#pragma once
// Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_: both
// rescale or clamp the parameters' .grad in place, outside autograd.
#include <limits>
#include <tapegrad/core/tensor.hpp>
#include <vector>

namespace tapegrad::optim {

/// Scales every defined gradient of `params` by min(1, max_norm/(total + 1e-6)), where
/// total is the norm_type-norm of all gradients taken together (norm_type may be
/// +inf: the largest |g|), and returns total (0 when no parameter has a gradient).
/// The coefficient and the scaling are computed in the gradients' dtype, as PyTorch.
/// With error_if_nonfinite, a NaN or infinite total throws std::invalid_argument
/// (PyTorch's RuntimeError message) and leaves the gradients untouched. With an infinite
/// norm_type an empty gradient throws, as PyTorch's max() of an empty tensor does.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

/// Clamps every defined gradient of `params` into [-clip_value, clip_value] in place
/// (NaN stays NaN, as torch.clamp).
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace tapegrad::optim
