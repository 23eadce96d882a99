#!/usr/bin/env bash
# The test command: installs what is missing, then builds and runs the whole suite in
# two configurations and ends with ctest's summary of the second:
#   1. build-asan: clang with AddressSanitizer + UndefinedBehaviorSanitizer and
#      libFuzzer's coverage, static library compiled for this CPU (TAPEGRAD_NATIVE=ON):
#      the unit tests, the examples, the consumer project, and each fuzz target for
#      TAPEGRAD_FUZZ_SECONDS (default 30). The parity tests are GCC-only (libtorch
#      1.13's headers do not compile with clang 14).
#   2. build-test: GCC, Release, shared library, portable (TAPEGRAD_NATIVE=OFF: x86-64
#      baseline, AVX2/AVX-512 kernels picked at run time): everything, the parity tests
#      against libtorch included; it also packages the library as .deb files and builds
#      a consumer project against them.
# Fails if either run fails. JOBS sets the build parallelism (default: all cores).
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}

bash scripts/install_deps.sh || exit 1

# configure_and_test NAME CMAKE-ARGS...: configure, build and run ctest in NAME.
configure_and_test() {
  local dir=$1
  shift
  cmake -S . -B "$dir" "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j"$JOBS" || return 1
  (cd "$dir" && ctest --output-on-failure -j"$JOBS" --timeout 1200)
}

echo "=== clang, ASan + UBSan + fuzzing build and run (static, native) ==="
# libtorch is not instrumented; its one-definition and container-overflow reports are
# about its own objects, not ours, so those two checks are off. Allocations too large
# for the machine return null (so tapegrad's out-of-memory errors can be tested) instead
# of aborting. Everything else aborts.
(
  export ASAN_OPTIONS=detect_odr_violation=0:detect_container_overflow=0:abort_on_error=1:detect_leaks=1:allocator_may_return_null=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  configure_and_test build-asan -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTAPEGRAD_SANITIZE=ON -DTAPEGRAD_FUZZ=ON -DTAPEGRAD_FUZZ_SECONDS="${TAPEGRAD_FUZZ_SECONDS:-30}" \
    -DTAPEGRAD_NATIVE=ON -DTAPEGRAD_BUILD_BENCH=OFF
)
asan_status=$?

echo "=== GCC Release build and run (shared, portable) ==="
configure_and_test build-test -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
  -DTAPEGRAD_NATIVE=OFF -DTAPEGRAD_BUILD_BENCH=OFF
status=$?

if [[ $asan_status -ne 0 ]]; then
  echo "sanitizer run FAILED (status $asan_status); see its output above" >&2
  exit $asan_status
fi
exit $status
