#!/usr/bin/env bash
# Builds the Debian packages of the library: libtapegrad (the shared library) and
# libtapegrad-dev (headers and CMake package), from a portable Release build (the
# packages run on any x86-64; AVX2/AVX-512 kernels are picked at run time).
# usage: scripts/package_deb.sh [OUTPUT_DIR]   (default: build-deb/packages)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-deb/packages}
bash scripts/install_deps.sh
cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DTAPEGRAD_NATIVE=OFF \
  -DTAPEGRAD_BUILD_TESTS=OFF -DTAPEGRAD_BUILD_EXAMPLES=OFF -DTAPEGRAD_BUILD_BENCH=OFF >/dev/null
cmake --build build-deb -j"$(nproc)" --target tapegrad
cpack -G DEB -B "$out" --config build-deb/CPackConfig.cmake
ls -1 "$out"/*.deb
