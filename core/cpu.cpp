#include <algorithm>
#include <atomic>
#include <tapegrad/core/cpu.hpp>

namespace tapegrad {

namespace {

Isa detect() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
  return Isa::Generic;
}

std::atomic<int> g_cap{static_cast<int>(Isa::Avx512)};

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      return "avx512";
    case Isa::Avx2:
      return "avx2";
    case Isa::Generic:
      break;
  }
  return "generic";
}

Isa cpu_isa() {
  static const Isa detected = detect();
  return static_cast<Isa>(
      std::min(static_cast<int>(detected), g_cap.load(std::memory_order_relaxed)));
}

void set_max_isa(Isa isa) { g_cap.store(static_cast<int>(isa), std::memory_order_relaxed); }

}  // namespace tapegrad
