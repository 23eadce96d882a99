#include <algorithm>
#include <bit>
#include <cstdlib>
#include <map>
#include <mutex>
#include <tapegrad/core/allocator.hpp>
#include <tapegrad/core/errors.hpp>
#include <vector>

namespace tapegrad::memory {
namespace {

// Rounds a cacheable size up to its class: the power of two at or below it, split in
// four steps (1, 1.25, 1.5, 1.75 times it), so a block wastes at most a quarter.
std::size_t size_class(std::size_t bytes) {
  const std::size_t top = std::bit_floor(bytes);
  const std::size_t step = std::max<std::size_t>(top / 4, kAlignment);
  return (bytes + step - 1) / step * step;
}

struct Cache {
  std::mutex mutex;
  std::map<std::size_t, std::vector<void*>> free;  // size class -> blocks
  Stats stats;
  std::size_t limit = std::size_t(1) << 30;

  void trim_to(std::size_t target) {
    // Largest classes first: they give back the most memory per call.
    for (auto it = free.rbegin(); it != free.rend() && stats.cached_bytes > target; ++it)
      while (!it->second.empty() && stats.cached_bytes > target) {
        std::free(it->second.back());
        it->second.pop_back();
        stats.cached_bytes -= it->first;
      }
  }
};

// Never destroyed: tensors held in static objects may be freed after every other
// static destructor has run.
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

void* system_allocate(std::size_t bytes) {
  void* p = std::aligned_alloc(kAlignment, (bytes + kAlignment - 1) / kAlignment * kAlignment);
  if (p == nullptr && bytes > 0) {
    // Memory may be held by our own cache: give it back and try once more.
    empty_cache();
    p = std::aligned_alloc(kAlignment, (bytes + kAlignment - 1) / kAlignment * kAlignment);
  }
  if (p == nullptr && bytes > 0) {
    const char* op = OpScope::current();
    throw OutOfMemory(op ? op : "allocate", bytes);
  }
  return p;
}

}  // namespace

void* allocate(std::size_t bytes) {
  if (bytes < kCachedMinBytes) return system_allocate(std::max<std::size_t>(bytes, 1));
  const std::size_t cls = size_class(bytes);
  Cache& c = cache();
  {
    std::lock_guard lock(c.mutex);
    auto it = c.free.find(cls);
    if (it != c.free.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.cached_bytes -= cls;
      c.stats.in_use_bytes += cls;
      c.stats.peak_in_use_bytes = std::max(c.stats.peak_in_use_bytes, c.stats.in_use_bytes);
      ++c.stats.cache_hits;
      return p;
    }
    ++c.stats.cache_misses;
  }
  void* p = system_allocate(cls);
  std::lock_guard lock(c.mutex);
  c.stats.in_use_bytes += cls;
  c.stats.peak_in_use_bytes = std::max(c.stats.peak_in_use_bytes, c.stats.in_use_bytes);
  return p;
}

void deallocate(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  if (bytes < kCachedMinBytes) {
    std::free(p);
    return;
  }
  const std::size_t cls = size_class(bytes);
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  c.stats.in_use_bytes -= cls;
  if (c.stats.cached_bytes + cls > c.limit) {
    std::free(p);
    return;
  }
  try {
    c.free[cls].push_back(p);
  } catch (...) {  // no memory for the list itself: just free the block
    std::free(p);
    return;
  }
  c.stats.cached_bytes += cls;
}

Stats stats() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  return c.stats;
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  c.trim_to(0);
}

void set_cache_limit(std::size_t bytes) {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  c.limit = bytes;
  c.trim_to(bytes);
}

std::size_t cache_limit() {
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  return c.limit;
}

}  // namespace tapegrad::memory
