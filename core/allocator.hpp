#pragma once
// Memory of tensor values and gradients. A training step allocates the same buffers
// every step; glibc hands blocks above its mmap threshold back to the kernel when they
// are freed, so every step would page-fault its activations in again (twice the time
// of a whole autoencoder step). tapegrad keeps the freed blocks of its own tensors in a
// cache instead and reuses them, which leaves glibc's process-wide policy alone.
//
// Blocks of at least kCachedMinBytes are rounded up to a size class (four classes per
// power of two, at most 25 % slack) and kept in a free list per class when freed, up
// to a cache limit; smaller blocks go straight to the system allocator. All blocks are
// 64-byte aligned (one cache line, one AVX-512 vector).
#include <cstddef>
#include <cstdint>
#include <new>
#include <xtensor/xarray.hpp>

namespace tapegrad {

namespace memory {

/// Blocks smaller than this are not cached (the system allocator is fast for them).
inline constexpr std::size_t kCachedMinBytes = std::size_t(64) << 10;
/// Alignment of every block handed out.
inline constexpr std::size_t kAlignment = 64;

/// A block of at least `bytes` bytes, 64-byte aligned. Throws tapegrad::OutOfMemory
/// (a std::bad_alloc naming the size) when the system has no memory left.
void* allocate(std::size_t bytes);
/// Returns a block from allocate(); `bytes` must be the size it was requested with.
void deallocate(void* p, std::size_t bytes) noexcept;

/// Counters of the cache, for tests and for users watching memory.
struct Stats {
  std::size_t in_use_bytes = 0;  ///< handed out and not yet returned (size classes)
  std::size_t cached_bytes = 0;  ///< returned and kept for reuse
  std::size_t peak_in_use_bytes = 0;
  std::uint64_t cache_hits = 0;    ///< allocations served from the cache
  std::uint64_t cache_misses = 0;  ///< cacheable allocations that went to the system
};
/// The current counters.
Stats stats();
/// Frees every cached block (as torch.cuda.empty_cache does for its cache).
void empty_cache();
/// Most bytes the cache may hold (default 1 GiB); blocks returned beyond it are freed.
/// Lowering the limit frees cached blocks until the cache fits.
void set_cache_limit(std::size_t bytes);
std::size_t cache_limit();

}  // namespace memory

/// std::allocator-compatible allocator over memory::allocate; stateless.
template <class T>
struct CachingAllocator {
  using value_type = T;
  CachingAllocator() noexcept = default;
  template <class U>
  CachingAllocator(const CachingAllocator<U>&) noexcept {}  // NOLINT: rebinding is implicit
  T* allocate(std::size_t n) {
    if (n > std::size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(memory::allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { memory::deallocate(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const CachingAllocator<U>&) const noexcept {
    return true;
  }
};

/// The container of tensor values: a row-major xtensor array whose buffer comes from
/// the cache. Any xtensor expression converts to it.
template <class T>
using Array = xt::xarray<T, xt::layout_type::row_major, CachingAllocator<T>>;

}  // namespace tapegrad
