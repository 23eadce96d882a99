// Per-plane sparse maps, gathers and scatters (see plane_map.hpp).
#include <algorithm>
#include <tapegrad/core/kernels/plane_map.hpp>

namespace tapegrad::kernels {

namespace {
// Below this many touched elements the OpenMP fork costs more than the loop.
constexpr std::int64_t kParallelThreshold = 1 << 15;
}  // namespace

template <class T>
void apply_plane_map(const PlaneMap& m, std::int64_t planes, const T* x, T* y) {
  const std::int64_t work = planes * static_cast<std::int64_t>(m.src.size());
#pragma omp parallel for schedule(static) if (work >= kParallelThreshold)
  for (std::int64_t p = 0; p < planes; ++p) {
    const T* xp = x + p * m.in_size;
    T* yp = y + p * m.out_size;
    for (std::int64_t o = 0; o < m.out_size; ++o) {
      T acc = T(0);
      for (std::int64_t k = m.offsets[o]; k < m.offsets[o + 1]; ++k)
        acc += static_cast<T>(m.weight[k]) * xp[m.src[k]];
      yp[o] = m.divisor.empty() ? acc : acc / static_cast<T>(m.divisor[o]);
    }
  }
}

template <class T>
void apply_plane_map_transpose(const PlaneMap& m, std::int64_t planes, const T* dy, T* dx) {
  const std::int64_t work = planes * static_cast<std::int64_t>(m.src.size());
#pragma omp parallel for schedule(static) if (work >= kParallelThreshold)
  for (std::int64_t p = 0; p < planes; ++p) {
    const T* gp = dy + p * m.out_size;
    T* dp = dx + p * m.in_size;
    std::fill(dp, dp + m.in_size, T(0));
    for (std::int64_t o = 0; o < m.out_size; ++o) {
      const T g = m.divisor.empty() ? gp[o] : gp[o] / static_cast<T>(m.divisor[o]);
      for (std::int64_t k = m.offsets[o]; k < m.offsets[o + 1]; ++k)
        dp[m.src[k]] += static_cast<T>(m.weight[k]) * g;
    }
  }
}

template <class T>
void gather_planes(std::int64_t planes, std::int64_t in_size, std::int64_t out_size,
                   const std::int64_t* idx, const T* src, T* dst) {
#pragma omp parallel for schedule(static) if (planes * out_size >= kParallelThreshold)
  for (std::int64_t p = 0; p < planes; ++p)
    for (std::int64_t o = 0; o < out_size; ++o)
      dst[p * out_size + o] = src[p * in_size + idx[p * out_size + o]];
}

template <class T>
void scatter_add_planes(std::int64_t planes, std::int64_t in_size, std::int64_t out_size,
                        const std::int64_t* idx, const T* src, T* dst) {
#pragma omp parallel for schedule(static) if (planes * out_size >= kParallelThreshold)
  for (std::int64_t p = 0; p < planes; ++p) {
    T* dp = dst + p * in_size;
    std::fill(dp, dp + in_size, T(0));
    for (std::int64_t o = 0; o < out_size; ++o) dp[idx[p * out_size + o]] += src[p * out_size + o];
  }
}

template <class T>
void scatter_planes(std::int64_t planes, std::int64_t in_size, std::int64_t out_size,
                    const std::int64_t* idx, const T* src, T* dst) {
#pragma omp parallel for schedule(static) if (planes * out_size >= kParallelThreshold)
  for (std::int64_t p = 0; p < planes; ++p) {
    T* dp = dst + p * in_size;
    std::fill(dp, dp + in_size, T(0));
    for (std::int64_t o = 0; o < out_size; ++o) dp[idx[p * out_size + o]] = src[p * out_size + o];
  }
}

#define TAPEGRAD_INSTANTIATE(T)                                                                  \
  template void apply_plane_map<T>(const PlaneMap&, std::int64_t, const T*, T*);                 \
  template void apply_plane_map_transpose<T>(const PlaneMap&, std::int64_t, const T*, T*);       \
  template void gather_planes<T>(std::int64_t, std::int64_t, std::int64_t, const std::int64_t*,  \
                                 const T*, T*);                                                  \
  template void scatter_add_planes<T>(std::int64_t, std::int64_t, std::int64_t,                  \
                                      const std::int64_t*, const T*, T*);                        \
  template void scatter_planes<T>(std::int64_t, std::int64_t, std::int64_t, const std::int64_t*, \
                                  const T*, T*);
TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)
#undef TAPEGRAD_INSTANTIATE

}  // namespace tapegrad::kernels
