#!/usr/bin/env bash
# Where tapegrad's autoencoder training step spends its time: samples
# train_memory_tapegrad_only (batch 64, random data, Adam) with `perf record` and prints
# two Markdown tables:
#   1. self time grouped by kind of work (GEMM, im2col, col2im, layout copies, bias
#      gradient, elementwise ops, Adam, memcpy/memset, allocation and page faults,
#      idle-thread spinning, ...), from a flat profile;
#   2. inclusive time per kernel / op (conv2d_forward, conv2d_backward_weight, relu, ...),
#      from a call-graph (DWARF) profile.
# Percentages are of all samples of the process (all threads), so at 2 threads the
# time idle pool threads burn spinning shows up as its own row.
#
#   bench/profile_train_step.sh [--threads N] [--steps N] [--build-dir DIR]
# Needs perf (Debian: linux-perf) and python3. Uses the binary that scripts/run_bench.sh
# builds (build-bench by default); build it first.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=1
STEPS=300
BUILD_DIR=build-bench
while [[ $# -gt 0 ]]; do
  case $1 in
    --threads) THREADS=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --build-dir) BUILD_DIR=$2; shift 2 ;;
    *) echo "usage: $0 [--threads N] [--steps N] [--build-dir DIR]" >&2; exit 2 ;;
  esac
done
BIN=$BUILD_DIR/bench/train_memory_tapegrad_only
[[ -x $BIN ]] || { echo "missing $BIN: run scripts/run_bench.sh (or build the target) first" >&2; exit 1; }
command -v perf >/dev/null || { echo "perf not found (apt-get install linux-perf)" >&2; exit 1; }

# The variables tapegrad's start-up code would add (it re-executes the program to do
# so, and perf's DWARF unwinding loses the stacks across that exec): pass them up front.
mapfile -t RUN_ENV < <("$BIN" --print-env)
export "${RUN_ENV[@]}"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "### Profile of the tapegrad training step: batch 64, $THREADS thread(s), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Environment: ${RUN_ENV[*]:-(none)}."
echo
"$BIN" --lib tapegrad --threads "$THREADS" --steps 30 | sed -n 's/^steps: .*, \([0-9.]* ms\/step\).*/Unprofiled: \1 (30 steps)./p'
echo

perf record -q -o "$TMP/flat.data" -F 4000 -e cpu-clock "$BIN" --lib tapegrad \
  --threads "$THREADS" --steps "$STEPS" >/dev/null 2>&1
perf report -i "$TMP/flat.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null \
  >"$TMP/flat.txt"
# Fewer steps with call graphs: DWARF unwinding is heavy.
perf record -q -o "$TMP/graph.data" -F 1000 -e cpu-clock --call-graph dwarf,16384 "$BIN" \
  --lib tapegrad --threads "$THREADS" --steps $((STEPS / 3 + 1)) >/dev/null 2>&1
perf report -i "$TMP/graph.data" --children --sort symbol --stdio -g none 2>/dev/null \
  >"$TMP/children.txt"

python3 - "$TMP/flat.txt" "$TMP/children.txt" <<'EOF'
import re, sys
flat, children = sys.argv[1], sys.argv[2]

# --- 1. self time by kind of work ---
groups = [  # (label, regex on "dso symbol"); first match wins
    ("GEMM (OpenBLAS sgemm: kernel + packing)", r"sgemm|cblas_|gemm_|_COOPERLAKE|_SKYLAKEX|_HASWELL|_ZEN|_PRESCOTT"),
    ("im2col", r"im2col"),
    ("col2im", r"col2im"),
    ("layout copies [N,C,HW] <-> [C,N*HW] (gather/scatter_planes)", r"gather_planes|scatter_planes"),
    ("conv kernel bodies (chunk loops with the copies and bias add inlined)", r"for_each_chunk|apply_conv|conv_weight_grad"),
    ("depthwise direct kernels", r"depthwise_"),
    ("bias add (forward)", r"bias_planes|add_bias"),
    ("bias gradient (sum of dY over N, H, W)", r"bias_grad"),
    ("ReLU fwd+bwd", r"relu"),
    ("Sigmoid fwd+bwd", r"sigmoid"),
    ("MSE loss fwd+bwd", r"mse_loss"),
    ("Adam step", r"optim::"),
    ("other elementwise / gradient accumulation", r"accumulate_grad|unary|binary|sum_to_shape|xt::|xsimd"),
    ("memcpy / memmove", r"__mem(move|cpy)"),
    ("memset (zero-filling)", r"__memset"),
    ("malloc / free (user space)", r"malloc|_int_free|cfree|free@|_int_memalign|unlink_chunk|memalign|posix_memalign|tcache|\bfree\b"),
    ("idle pool threads spinning / yielding (libgomp, OpenBLAS)", r"libgomp|blas_thread_server|sched_yield|do_spin|gomp_"),
    ("kernel: page faults (fresh memory)", r"\[kernel\].*(page|fault|folio|pte|lru|memcg|mem_cgroup|clear_page|zap|unmap|mmap|munmap|vma|mas_)"),
    ("kernel: scheduling, syscalls, other", r"\[kernel\]"),
    ("benchmark's own input generation (Tensor::rand)", r"Tensor::rand|mersenne|generate_canonical"),
]
totals = {g[0]: 0.0 for g in groups}
other = 0.0
other_syms = {}
line_re = re.compile(r"^\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*?)\s*$")
for line in open(flat):
    m = line_re.match(line)
    if not m:
        continue
    pct, dso, kind = float(m.group(1)), m.group(2), m.group(3)
    sym = re.sub(r"(\s+-)+$", "", m.group(4)).strip()  # perf pads with empty columns
    key = ("[kernel] " if kind == "k" else dso + " ") + sym
    for label, rx in groups:
        if re.search(rx, key):
            totals[label] += pct
            break
    else:
        other += pct
        other_syms[sym[:60]] = other_syms.get(sym[:60], 0) + pct
print("Self time by kind of work (flat profile, all threads):")
print()
print("| kind of work | share of samples |")
print("|---|--:|")
for label, _ in groups:
    if totals[label] >= 0.05:
        print(f"| {label} | {totals[label]:.1f}% |")
top_other = ", ".join(f"`{s}` {p:.1f}%" for s, p in sorted(other_syms.items(), key=lambda x: -x[1])[:3])
print(f"| other (largest: {top_other}) | {other:.1f}% |")
print()

# --- 2. inclusive time per kernel / op ---
ops = [
    ("Sequential forward (whole forward pass)", r"tapegrad::Sequential::forward"),
    ("Tape backward (whole backward pass)", r"tapegrad::Tape::backward"),
    ("conv2d_forward", r"kernels::conv2d_forward<"),
    ("conv2d_backward_input", r"kernels::conv2d_backward_input<"),
    ("conv2d_backward_weight", r"kernels::conv2d_backward_weight<"),
    ("conv2d_backward_bias", r"kernels::conv2d_backward_bias<"),
    ("conv_transpose2d_forward", r"kernels::conv_transpose2d_forward<"),
    ("conv_transpose2d_backward_input", r"kernels::conv_transpose2d_backward_input<"),
    ("conv_transpose2d_backward_weight", r"kernels::conv_transpose2d_backward_weight<"),
    ("conv_transpose2d_backward_bias", r"kernels::conv_transpose2d_backward_bias<"),
    ("relu (forward op and its backward closure)", r"tapegrad::relu\(|unary<tapegrad::relu"),
    ("sigmoid (forward op and its backward closure)", r"tapegrad::sigmoid\(|unary<tapegrad::sigmoid"),
    ("mse_loss (forward op and its backward closure)", r"tapegrad::mse_loss"),
    ("Adam step (Optimizer::step)", r"tapegrad::optim::Optimizer::step"),
    ("all OpenBLAS GEMM calls (cblas_sgemm)", r"^cblas_sgemm$"),
    ("Tape::clear (freeing the step's graph)", r"tapegrad::Tape::clear"),
]
child_re = re.compile(r"^\s*([\d.]+)%\s+([\d.]+)%\s+\[.\]\s+(.*?)\s*$")
rows = {label: 0.0 for label, _ in ops}
for line in open(children):
    m = child_re.match(line)
    if not m:
        continue
    incl, sym = float(m.group(1)), re.sub(r"(\s+-)+$", "", m.group(3)).strip()
    for label, rx in ops:
        if re.search(rx, sym):
            # A symbol can appear more than once (clones, lambdas of one op): the
            # largest inclusive figure is the op's total (the others are nested in it).
            rows[label] = max(rows[label], incl)
print("Inclusive time per op (call-graph profile; nested, so rows overlap):")
print()
print("| op / kernel | inclusive share |")
print("|---|--:|")
for label, _ in ops:
    print(f"| {label} | {rows[label]:.1f}% |")
print()
EOF
