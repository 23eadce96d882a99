#!/usr/bin/env bash
# Benchmarks tapegrad against libtorch (docs/benchmarks.md explains what is measured).
# Builds the bench targets in Release, then runs:
#   1. bench_tapegrad_vs_torch with 1 and with 2 threads, both libraries in one process
#      (interleaved samples, one environment for both);
#   2. at 2 threads, each library alone in its own process (--only), merged into one
#      table: the fair one at 2 threads, because in one process libtorch's OpenBLAS
#      threads keep spinning after its GEMMs and take a core from the next tapegrad
#      sample (tapegrad itself keeps OpenBLAS single-threaded);
#   3. 200 autoencoder training steps under /usr/bin/time -v: tapegrad and libtorch
#      from the same binary, and tapegrad from a binary without libtorch linked.
# Each configuration of 1 and 2 runs in PROCESSES separate processes and the tables give
# the median over them: at 2 threads the per-process medians differ by 10-50%.
# The Markdown goes to stdout and to bench/results.md (written to a temporary file,
# then renamed, so an interrupted run never leaves a half-written file).
#
# Environment: BUILD_DIR (default build-bench), REPEATS (samples per library and case in
# one process, default 15), PROCESSES (runs of each configuration, default 3), BENCH_ARGS
# (extra arguments for bench_tapegrad_vs_torch, e.g. "--filter train"), WAIT_QUIET=N (wait up
# to N seconds for the 1-minute load average to fall below 0.5 before measuring),
# JOBS (build parallelism, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
REPEATS=${REPEATS:-15}
PROCESSES=${PROCESSES:-3}
BENCH_ARGS=${BENCH_ARGS:-}
WAIT_QUIET=${WAIT_QUIET:-0}
JOBS=${JOBS:-2}

log() { echo "run_bench: $*" >&2; }

log "building Release in $BUILD_DIR"
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >"$BUILD_DIR.configure.log" 2>&1 ||
  { cat "$BUILD_DIR.configure.log" >&2; exit 1; }
cmake --build "$BUILD_DIR" -j"$JOBS" \
  --target bench_tapegrad_vs_torch train_memory train_memory_tapegrad_only >/dev/null ||
  { log "build failed"; exit 1; }
BIN=$BUILD_DIR/bench
[[ -x $BIN/bench_tapegrad_vs_torch ]] ||
  { log "bench targets missing (is libtorch found? see $BUILD_DIR.configure.log)"; exit 1; }

load1() { cut -d' ' -f1 /proc/loadavg; }
if [[ $WAIT_QUIET -gt 0 ]]; then
  waited=0
  while awk -v l="$(load1)" 'BEGIN { exit !(l >= 0.5) }' && [[ $waited -lt $WAIT_QUIET ]]; do
    sleep 10
    waited=$((waited + 10))
  done
fi
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="$(load1)" 'BEGIN { exit !(l >= 0.5) }'; then
  log "warning: load average $LOAD_START (>= 0.5): other work shares the cores, timings are noisy"
fi

OUT=$(mktemp "$ROOT/bench/.results.md.XXXXXX")
trap 'rm -f "$OUT"' EXIT
emit() { tee -a "$OUT"; }

{
  echo "# tapegrad vs libtorch: measured results"
  echo
  echo "Produced by \`scripts/run_bench.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') at commit" \
    "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- core layers optim 2>/dev/null || echo ' (library sources modified)')."
  echo "Load average when measuring started: $LOAD_START (2 cores; below 0.5 means quiet)."
  echo "See docs/benchmarks.md for the method."
  echo
} | emit

BENCH=$BIN/bench_tapegrad_vs_torch
TSV=$(mktemp -d)
trap 'rm -f "$OUT"; rm -rf "$TSV"' EXIT

# run_config NAME THREADS ENV-ASSIGNMENTS... -- BENCH-ARGS...: PROCESSES runs of the
# benchmark (separate processes: the run-to-run spread at 2 threads is larger than the
# spread within a run), writing $TSV/NAME.<i>.tsv and .md.
run_config() {
  local name=$1 threads=$2
  shift 2
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  for i in $(seq 1 "$PROCESSES"); do
    log "$name: process $i/$PROCESSES"
    # shellcheck disable=SC2086
    env "${envs[@]}" "$BENCH" --threads "$threads" --repeats "$REPEATS" "$@" \
      --tsv "$TSV/$name.$i.tsv" $BENCH_ARGS >"$TSV/$name.$i.md"
  done
}
runs() { local f=() i; for i in $(seq 1 "$PROCESSES"); do f+=("$TSV/$1.$i.tsv"); done; (IFS=,; echo "${f[*]}"); }
header_of() { sed -n '/^| layer/q;p' "$TSV/$1.1.md"; }
phases_of() { sed -n '/^Where the training/,/^Load average at end/p' "$TSV/$1.1.md" | sed '$d'; }
wait_line() { grep -m1 '^- idle-thread waiting' "$TSV/$1.1.md" | sed 's/^- idle-thread waiting (the same for both libraries): //'; }
spread_note() {
  echo "Times are medians over $PROCESSES processes (each the median of its $REPEATS samples);" \
    "noise is the range of the per-process medians relative to their median."
}

# 1. Both libraries in one process (interleaved samples), 1 and 2 threads.
run_config shared1 1 -- 
run_config shared2 2 -- 
for t in 1 2; do
  {
    header_of shared$t
    spread_note
    echo
    "$BENCH" --merge "$(runs shared$t)" "$(runs shared$t)" --threads "$t"
    echo
    echo "(Phases from the first process.)"
    phases_of shared$t
    echo "Load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
  } | emit
done

# 2. 2 threads, each library alone in its own process (default environment), merged.
run_config tg_alone 2 -- --only tapegrad
run_config torch_alone 2 -- --only torch
{
  echo "## tapegrad vs libtorch, 2 threads, each library in its own process"
  echo
  echo "Separate processes, each timing one library (\`--only\`), merged into one table:" \
    "how a user of each library runs it. In one process (the table above) libtorch's" \
    "OpenBLAS threads keep spinning for a while after its GEMMs (libtorch's" \
    "ConvTranspose2d and weight gradients) and take a core from the tapegrad sample that" \
    "follows; tapegrad keeps OpenBLAS single-threaded and does its parallel work on the" \
    "OpenMP team. This table is the one the issue's targets are judged on. $(spread_note)"
  echo
  echo "- tapegrad processes: $(wait_line tg_alone)"
  echo "- libtorch processes: $(wait_line torch_alone)"
  echo "- load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  "$BENCH" --merge "$(runs tg_alone)" "$(runs torch_alone)" --threads 2
  echo
} | emit

# ---- memory ----
log "memory runs"
peak_kb() { sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$1"; }
declare -A PEAK
declare -A NOTE
mem_run() {  # key, then the command
  local key=$1
  shift
  local tv
  tv=$(mktemp)
  /usr/bin/time -v "$@" >"$tv.out" 2>"$tv" || { cat "$tv.out" "$tv" >&2; rm -f "$tv" "$tv.out"; exit 1; }
  PEAK[$key]=$(peak_kb "$tv")
  NOTE[$key]=$(cat "$tv.out")
  rm -f "$tv" "$tv.out"
}
mem_run tg "$BIN/train_memory" --lib tapegrad --threads 2
mem_run torch "$BIN/train_memory" --lib torch --threads 2
mem_run tg_only "$BIN/train_memory_tapegrad_only" --lib tapegrad --threads 2

before_kb() { sed -n 's/^VmRSS before training: \([0-9]*\) kB.*/\1/p' <<<"${NOTE[$1]}"; }
msg() { sed -n 's/^steps: .*, \([0-9.]* ms\/step\).*/\1/p' <<<"${NOTE[$1]}"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
{
  echo "## Peak memory: 200 training steps of the autoencoder, batch 64, 2 threads"
  echo
  echo "Peak RSS is \`/usr/bin/time -v\`'s \"Maximum resident set size\"; \"before training\"" \
    "is the process's VmRSS after building the model and optimizer, just before the first" \
    "step; the difference is what training adds."
  echo
  echo "| program | peak RSS MiB | RSS before training MiB | added by training MiB | time/step |"
  echo "|---|--:|--:|--:|--:|"
  for key in tg torch tg_only; do
    case $key in
      tg) name="tapegrad (train_memory, libtorch also linked)" ;;
      torch) name="libtorch (train_memory)" ;;
      tg_only) name="tapegrad alone (train_memory_tapegrad_only)" ;;
    esac
    b=$(before_kb $key)
    echo "| $name | $(mib "${PEAK[$key]}") | $(mib "$b") | $(mib $((PEAK[$key] - b))) | $(msg $key) |"
  done
  echo
  echo "Ratios: tapegrad / libtorch peak RSS in the same binary = $(awk -v a="${PEAK[tg]}" -v b="${PEAK[torch]}" 'BEGIN { printf "%.2f", a / b }');" \
    "added by training = $(awk -v a="${PEAK[tg]}" -v c="$(before_kb tg)" -v b="${PEAK[torch]}" -v d="$(before_kb torch)" 'BEGIN { printf "%.2f", (a - c) / (b - d) }');" \
    "tapegrad alone / libtorch = $(awk -v a="${PEAK[tg_only]}" -v b="${PEAK[torch]}" 'BEGIN { printf "%.2f", a / b }')."
  echo
  echo "Program output:"
  echo
  echo '```'
  for key in tg torch tg_only; do
    echo "${NOTE[$key]}"
    echo
  done
  echo '```'
} | emit

mv "$OUT" "$ROOT/bench/results.md"
rm -rf "$TSV"
trap - EXIT
log "wrote bench/results.md"
