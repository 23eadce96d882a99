#pragma once
// Which vector instructions tapegrad's hand-written kernels use. The library is
// compiled for the baseline of its target (x86-64 unless TAPEGRAD_NATIVE is on); the
// few kernels that gain from AVX2 or AVX-512 carry versions compiled for them and pick
// one at run time from the CPU's features, so one binary runs fast everywhere.
// Capping the instruction set (as oneDNN's max_cpu_isa) is how tests exercise the
// other paths on a machine that has everything.
#include <string>

namespace tapegrad {

/// Instruction sets, in increasing order.
enum class Isa { Generic, Avx2, Avx512 };

/// "generic", "avx2" or "avx512".
const char* isa_name(Isa isa);

/// The best instruction set the CPU supports (AVX2 = AVX2 + FMA; AVX-512 = F, BW, VL
/// and DQ), capped by set_max_isa.
Isa cpu_isa();

/// Caps the instruction set the kernels use (default: no cap). Not thread-safe with
/// respect to running kernels; set it before computing.
void set_max_isa(Isa isa);

}  // namespace tapegrad

/// Marks a function compiled for AVX-512 (F, BW, VL, DQ), called only when cpu_isa()
/// says so.
#define TAPEGRAD_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
/// Marks a function compiled for AVX2 with FMA.
#define TAPEGRAD_TARGET_AVX2 __attribute__((target("avx2,fma")))
