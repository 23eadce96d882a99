// Explicit padding of image planes (reflect / replicate / circular), as PyTorch's
// reflection_pad2d, replication_pad2d and circular pad, and its adjoint.
#include <algorithm>
#include <tapegrad/core/kernels/padding.hpp>

namespace tapegrad::kernels {

// For each position of a padded axis (`before` + size + `after` long), the input index
// it copies, following PyTorch's reflection_pad2d, replication_pad2d and circular pad.
std::vector<std::int64_t> pad_source_index(std::int64_t size, std::int64_t before,
                                           std::int64_t after, PaddingMode mode) {
  std::vector<std::int64_t> src(static_cast<std::size_t>(before + size + after));
  for (std::int64_t i = 0; i < before + size + after; ++i) {
    std::int64_t j = i - before;
    switch (mode) {
      case PaddingMode::Reflect:  // mirror about the edge element (not repeated)
        if (j < 0) j = -j;
        if (j >= size) j = 2 * (size - 1) - j;
        break;
      case PaddingMode::Replicate:  // repeat the edge element
        j = std::clamp<std::int64_t>(j, 0, size - 1);
        break;
      case PaddingMode::Circular:  // wrap around (at most once, checked)
        j = ((j % size) + size) % size;
        break;
      case PaddingMode::Zeros:  // the constant
        if (j < 0 || j >= size) j = -1;
        break;
    }
    src[static_cast<std::size_t>(i)] = j;
  }
  return src;
}

PadMaps pad_maps(std::int64_t h, std::int64_t w, std::int64_t top, std::int64_t bottom,
                 std::int64_t left, std::int64_t right, PaddingMode mode) {
  return {pad_source_index(h, top, bottom, mode), pad_source_index(w, left, right, mode)};
}

namespace {
constexpr std::int64_t kParallelThreshold = std::int64_t(1) << 15;
}

// xp [planes, Hp, Wp] <- x [planes, H, W] through the index maps.
template <class T>
void pad_planes(const T* x, std::int64_t planes, std::int64_t h, std::int64_t w, const PadMaps& m,
                T value, T* xp) {
  const std::int64_t hp = m.padded_h(), wp = m.padded_w();
#pragma omp parallel for schedule(static) if (planes * hp * wp >= kParallelThreshold)
  for (std::int64_t p = 0; p < planes; ++p) {
    const T* src = x + p * h * w;
    T* dst = xp + p * hp * wp;
    for (std::int64_t i = 0; i < hp; ++i) {
      T* drow = dst + i * wp;
      const std::int64_t r = m.rows[std::size_t(i)];
      if (r < 0) {
        std::fill(drow, drow + wp, value);
        continue;
      }
      const T* srow = src + r * w;
      for (std::int64_t j = 0; j < wp; ++j) {
        const std::int64_t c = m.cols[std::size_t(j)];
        drow[j] = c < 0 ? value : srow[c];
      }
    }
  }
}

// The adjoint of pad_planes: dx [planes, H, W] = Σ of dxp over the padded positions
// that copy each input element (dx is overwritten).
template <class T>
void fold_planes(const T* dxp, std::int64_t planes, std::int64_t h, std::int64_t w,
                 const PadMaps& m, T* dx) {
  const std::int64_t hp = m.padded_h(), wp = m.padded_w();
#pragma omp parallel for schedule(static) if (planes * hp * wp >= kParallelThreshold)
  for (std::int64_t p = 0; p < planes; ++p) {
    const T* src = dxp + p * hp * wp;
    T* dst = dx + p * h * w;
    std::fill(dst, dst + h * w, T(0));
    for (std::int64_t i = 0; i < hp; ++i) {
      const std::int64_t r = m.rows[std::size_t(i)];
      if (r < 0) continue;
      T* drow = dst + r * w;
      const T* srow = src + i * wp;
      for (std::int64_t j = 0; j < wp; ++j)
        if (const std::int64_t c = m.cols[std::size_t(j)]; c >= 0) drow[c] += srow[j];
    }
  }
}

template void pad_planes<float>(const float*, std::int64_t, std::int64_t, std::int64_t,
                                const PadMaps&, float, float*);
template void pad_planes<double>(const double*, std::int64_t, std::int64_t, std::int64_t,
                                 const PadMaps&, double, double*);
template void fold_planes<float>(const float*, std::int64_t, std::int64_t, std::int64_t,
                                 const PadMaps&, float*);
template void fold_planes<double>(const double*, std::int64_t, std::int64_t, std::int64_t,
                                  const PadMaps&, double*);

}  // namespace tapegrad::kernels
