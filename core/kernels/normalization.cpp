#include <omp.h>

#include <algorithm>
#include <tapegrad/core/kernels/normalization.hpp>
#include <vector>

namespace tapegrad::kernels {

namespace {

// A nested call (inside a user's parallel region) runs on one thread.
int team_size() { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

}  // namespace

template <class T>
void norm_stats(const T* x, const NormLayout& l, double* mean, double* var) {
  const std::ptrdiff_t C = static_cast<std::ptrdiff_t>(l.C);
  const double n = double(l.count());
#pragma omp parallel for schedule(static) num_threads(team_size())
  for (std::ptrdiff_t c = 0; c < C; ++c) {
    double s = 0.0;
    for (std::size_t a = 0; a < l.A; ++a) {
      const T* p = x + (a * l.C + std::size_t(c)) * l.B;
      for (std::size_t b = 0; b < l.B; ++b) s += double(p[b]);
    }
    const double m = s / n;
    double q = 0.0;
    for (std::size_t a = 0; a < l.A; ++a) {
      const T* p = x + (a * l.C + std::size_t(c)) * l.B;
      for (std::size_t b = 0; b < l.B; ++b) {
        const double d = double(p[b]) - m;
        q += d * d;
      }
    }
    mean[c] = m;
    var[c] = q / n;
  }
}

template <class T>
void norm_forward(const T* x, const T* weight, const T* bias, const double* mean,
                  const double* invstd, const NormLayout& l, T* y) {
  const std::ptrdiff_t C = static_cast<std::ptrdiff_t>(l.C);
#pragma omp parallel for schedule(static) num_threads(team_size())
  for (std::ptrdiff_t c = 0; c < C; ++c) {
    const double m = mean[c], r = invstd[c];
    for (std::size_t a = 0; a < l.A; ++a) {
      const std::size_t base = (a * l.C + std::size_t(c)) * l.B;
      for (std::size_t b = 0; b < l.B; ++b) {
        const std::size_t k = l.affine_index(std::size_t(c), b);
        double v = (double(x[base + b]) - m) * r;
        if (weight) v *= double(weight[k]);
        if (bias) v += double(bias[k]);
        y[base + b] = T(v);
      }
    }
  }
}

template <class T>
void norm_backward(const T* g, const T* x, const T* weight, const double* mean,
                   const double* invstd, bool batch_stats, const NormLayout& l,
                   std::size_t affine_numel, T* dx, T* dweight, T* dbias) {
  const std::ptrdiff_t C = static_cast<std::ptrdiff_t>(l.C);
  const double n = double(l.count());
  const bool fused = l.affine_per_stat;
  // One pass per statistic c: Σh and Σh·x̂ (h = g·weight) for dx, and, for batch norm,
  // Σg and Σg·x̂, which are dbias[c] and dweight[c]; then a second sweep writes dx.
#pragma omp parallel for schedule(static) num_threads(team_size())
  for (std::ptrdiff_t c = 0; c < C; ++c) {
    const double m = mean[c], r = invstd[c];
    double sh = 0.0, shx = 0.0, sg = 0.0, sgx = 0.0;
    if (batch_stats || fused) {
      for (std::size_t a = 0; a < l.A; ++a) {
        const std::size_t base = (a * l.C + std::size_t(c)) * l.B;
        for (std::size_t b = 0; b < l.B; ++b) {
          const double gv = double(g[base + b]);
          const double xh = (double(x[base + b]) - m) * r;
          const double h = weight ? gv * double(weight[l.affine_index(std::size_t(c), b)]) : gv;
          sh += h;
          shx += h * xh;
          sg += gv;
          sgx += gv * xh;
        }
      }
    }
    if (fused) {
      if (dweight) dweight[c] = T(sgx);
      if (dbias) dbias[c] = T(sg);
    }
    if (!dx) continue;
    const double mh = sh / n, mhx = shx / n;
    for (std::size_t a = 0; a < l.A; ++a) {
      const std::size_t base = (a * l.C + std::size_t(c)) * l.B;
      for (std::size_t b = 0; b < l.B; ++b) {
        const double gv = double(g[base + b]);
        const double h = weight ? gv * double(weight[l.affine_index(std::size_t(c), b)]) : gv;
        if (batch_stats) {
          const double xh = (double(x[base + b]) - m) * r;
          dx[base + b] = T(r * (h - mh - xh * mhx));
        } else {
          dx[base + b] = T(r * h);
        }
      }
    }
  }
  if (fused || (!dweight && !dbias)) return;
  // Layer and group norm: several statistics share an affine element, so the affine
  // gradients are summed in a separate, serial pass in double (deterministic).
  std::vector<double> sw(affine_numel, 0.0), sb(affine_numel, 0.0);
  for (std::size_t a = 0; a < l.A; ++a)
    for (std::size_t c = 0; c < l.C; ++c) {
      const double m = mean[c], r = invstd[c];
      const std::size_t base = (a * l.C + c) * l.B;
      for (std::size_t b = 0; b < l.B; ++b) {
        const std::size_t k = l.affine_index(c, b);
        const double gv = double(g[base + b]);
        sw[k] += gv * (double(x[base + b]) - m) * r;
        sb[k] += gv;
      }
    }
  for (std::size_t k = 0; k < affine_numel; ++k) {
    if (dweight) dweight[k] = T(sw[k]);
    if (dbias) dbias[k] = T(sb[k]);
  }
}

#define TAPEGRAD_NORM_INSTANTIATE(T)                                                               \
  template void norm_stats<T>(const T*, const NormLayout&, double*, double*);                      \
  template void norm_forward<T>(const T*, const T*, const T*, const double*, const double*,        \
                                const NormLayout&, T*);                                            \
  template void norm_backward<T>(const T*, const T*, const T*, const double*, const double*, bool, \
                                 const NormLayout&, std::size_t, T*, T*, T*);
TAPEGRAD_NORM_INSTANTIATE(float)
TAPEGRAD_NORM_INSTANTIATE(double)
#undef TAPEGRAD_NORM_INSTANTIATE

}  // namespace tapegrad::kernels
