#!/usr/bin/env bash
# Benchmarks tapegrad against libtorch (docs/benchmarks.md explains what is measured).
# Builds the bench targets in Release, then runs:
#   1. bench_tapegrad_vs_torch with 1 and with 2 threads (the main tables);
#   2. fwd+bwd and training-step rows at 2 threads twice more, with the idle-thread
#      waiting of libgomp and OpenBLAS set explicitly: (a) their stock spinning (how a
#      plain libtorch program runs), (b) passive waiting; skip with SPIN_RUN=0;
#   3. 200 autoencoder training steps under /usr/bin/time -v: tapegrad and libtorch
#      from the same binary, and tapegrad from a binary without libtorch linked.
# The Markdown goes to stdout and to bench/results.md (written to a temporary file,
# then renamed, so an interrupted run never leaves a half-written file).
#
# Environment: BUILD_DIR (default build-bench), REPEATS (default 15), BENCH_ARGS (extra
# arguments for bench_tapegrad_vs_torch, e.g. "--filter train"), WAIT_QUIET=N (wait up
# to N seconds for the 1-minute load average to fall below 0.5 before measuring),
# SPIN_RUN=0 (skip run 2), JOBS (build parallelism, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
REPEATS=${REPEATS:-15}
BENCH_ARGS=${BENCH_ARGS:-}
WAIT_QUIET=${WAIT_QUIET:-0}
SPIN_RUN=${SPIN_RUN:-1}
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

for t in 1 2; do
  log "timing with $t thread(s)"
  # shellcheck disable=SC2086
  "$BIN/bench_tapegrad_vs_torch" --threads "$t" --repeats "$REPEATS" $BENCH_ARGS | emit
done

if [[ $SPIN_RUN != 0 ]]; then
  {
    echo "## Sensitivity to how idle threads wait (2 threads, fwd+bwd and training step)"
    echo
    echo "Both libraries alternate OpenMP regions (libgomp) with OpenBLAS calls (its own" \
      "pthreads). Idle threads of each pool spin for a while before sleeping, stealing the" \
      "other pool's cores on a 2-core machine. The same program twice more, with the waiting" \
      "set explicitly in the environment for the whole process (so for both libraries):"
    echo "(a) stock spinning, the libraries' defaults and how a plain libtorch program runs:" \
      "\`GOMP_SPINCOUNT=300000 OPENBLAS_THREAD_TIMEOUT=28\`;"
    echo "(b) passive waiting: \`OMP_WAIT_POLICY=passive OPENBLAS_THREAD_TIMEOUT=4\`."
    echo
  } | emit
  for variant in a b; do
    if [[ $variant == a ]]; then
      envs=(GOMP_SPINCOUNT=300000 OPENBLAS_THREAD_TIMEOUT=28)
      title="(a) stock spinning"
    else
      envs=(OMP_WAIT_POLICY=passive OPENBLAS_THREAD_TIMEOUT=4)
      title="(b) passive waiting"
    fi
    log "timing with 2 threads, $title"
    # shellcheck disable=SC2086
    env "${envs[@]}" "$BIN/bench_tapegrad_vs_torch" --threads 2 --repeats "$REPEATS" \
      --filter fwdbwd,train --no-phases $BENCH_ARGS |
      sed "s/^## tapegrad vs libtorch, 2 threads/### $title, 2 threads/" | emit
  done
fi

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
trap - EXIT
log "wrote bench/results.md"
