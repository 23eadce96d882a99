#pragma once
// Normalisation kernels (batch, layer and group norm), untaped. All three normalise
// the same way once the input is seen as [A, C, B] with statistics per middle index c
// taken over (a, b):
//   batch norm  [N, C, S]        A = N, C = C,     B = S      (S = spatial size)
//   layer norm  [M, K]           A = 1, C = M,     B = K      (K = normalized numel)
//   group norm  [1, N·G, Cg·S]   A = 1, C = N·G,   B = Cg·S   (Cg = C / G)
// They differ only in which affine element scales element (c, b), which NormLayout
// says with one formula. Statistics are accumulated in double whatever T.
#include <cstddef>

namespace tapegrad::kernels {

/// The [A, C, B] view of a normalisation and where its affine parameters sit: element
/// (c, b) uses weight[(c % cmod) · bmul + b / bdiv] (batch norm: c; layer norm: b;
/// group norm: (c % G)·Cg + b / S).
struct NormLayout {
  std::size_t A = 1, C = 1, B = 1;
  std::size_t cmod = 1, bmul = 0, bdiv = 1;
  /// True when the affine index is c itself (batch norm): the weight and bias
  /// gradients are then accumulated in the same per-channel pass as the input's.
  bool affine_per_stat = false;

  std::size_t affine_index(std::size_t c, std::size_t b) const {
    return (c % cmod) * bmul + b / bdiv;
  }
  /// Elements each statistic is taken over (A·B).
  std::size_t count() const { return A * B; }
};

/// mean[c] and the biased variance var[c] of x over (a, b), two passes per c (mean,
/// then Σ(x − mean)², which is exact for constant data). Parallel over c.
template <class T>
void norm_stats(const T* x, const NormLayout& l, double* mean, double* var);

/// y = (x − mean[c]) · invstd[c] · weight + bias; weight and bias may be null.
template <class T>
void norm_forward(const T* x, const T* weight, const T* bias, const double* mean,
                  const double* invstd, const NormLayout& l, T* y);

/// Gradients of norm_forward for upstream g. With batch_stats the mean and invstd are
/// functions of x (training): dx = invstd · (h − mean(h) − x̂ · mean(h x̂)), h = g·weight;
/// otherwise they are constants (evaluation with running statistics): dx = invstd · h.
/// dweight = Σ g x̂ and dbias = Σ g over the elements that share the affine element.
/// Any output pointer may be null (not wanted); weight may be null (taken as 1).
template <class T>
void norm_backward(const T* g, const T* x, const T* weight, const double* mean,
                   const double* invstd, bool batch_stats, const NormLayout& l,
                   std::size_t affine_numel, T* dx, T* dweight, T* dbias);

}  // namespace tapegrad::kernels
