#!/usr/bin/env bash
# The test command: installs what is missing, then builds and runs the whole suite in
# two configurations and ends with ctest's summary of the second:
#   1. build-asan: AddressSanitizer + UndefinedBehaviorSanitizer, static library
#      compiled for this CPU (TAPEGRAD_NATIVE=ON);
#   2. build-test: Release, shared library, portable (TAPEGRAD_NATIVE=OFF: x86-64
#      baseline, AVX2/AVX-512 kernels picked at run time), which also packages the
#      library as .deb files and builds a consumer project against them.
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

echo "=== ASan + UBSan build and run (static, native) ==="
# libtorch is not instrumented; its one-definition and container-overflow reports are
# about its own objects, not ours, so those two checks are off. Everything else aborts.
(
  export ASAN_OPTIONS=detect_odr_violation=0:detect_container_overflow=0:abort_on_error=1:detect_leaks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  configure_and_test build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAPEGRAD_SANITIZE=ON \
    -DTAPEGRAD_NATIVE=ON -DTAPEGRAD_BUILD_BENCH=OFF
)
asan_status=$?

echo "=== Release build and run (shared, portable) ==="
configure_and_test build-test -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
  -DTAPEGRAD_NATIVE=OFF -DTAPEGRAD_BUILD_BENCH=OFF
status=$?

if [[ $asan_status -ne 0 ]]; then
  echo "sanitizer run FAILED (status $asan_status); see its output above" >&2
  exit $asan_status
fi
exit $status
