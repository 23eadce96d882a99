#!/usr/bin/env bash
# The main job: trains the convolutional autoencoder of examples/mnist_autoencoder on
# MNIST, from a fresh Debian 12 (run as root, or as a user with sudo):
#   1. installs the Debian packages (scripts/install_deps.sh; a no-op when present),
#   2. puts MNIST in data/mnist (scripts/fetch_mnist.sh; skipped when --data is given),
#   3. configures and builds the example in build/ (Release, only what it needs),
#   4. trains with the default settings (10 epochs, batch 64, Adam lr 1e-3, seed 0)
#      and says where the checkpoint, metrics and pictures are (out/mnist_autoencoder).
#
# usage: scripts/run_main.sh [EXAMPLE OPTIONS...]
# Every argument goes to the example, e.g.
#   bash scripts/run_main.sh --epochs 3 --data /usr/share/datasets/fashion-mnist --out out/fashion
#   bash scripts/run_main.sh --epochs 20 --resume out/mnist_autoencoder/checkpoint.npz
# (build/examples/mnist_autoencoder/mnist_autoencoder --help lists them all.)
# BUILD_DIR=... builds elsewhere than build/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$SECONDS
build_dir=${BUILD_DIR:-build}
step() { printf '\n=== %s ===\n' "$*"; }

data_given=0
for arg in "$@"; do
  case $arg in
    --data | --data=*) data_given=1 ;;
    -h | --help) data_given=1 ;;  # nothing to fetch just to print the help
  esac
done

step "packages"
bash scripts/install_deps.sh

if [[ $data_given -eq 0 ]]; then
  step "MNIST"
  bash scripts/fetch_mnist.sh data/mnist
fi

step "build (Release)"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >"$build_dir.configure.log" ||
  { cat "$build_dir.configure.log"; exit 1; }
cmake --build "$build_dir" -j"$(nproc)" --target mnist_autoencoder

step "train"
"$build_dir/examples/mnist_autoencoder/mnist_autoencoder" "$@"

printf '\nrun_main: finished in %d s; the outputs are where the lines above say\n' $((SECONDS - start))
printf '(the checkpoint also opens in NumPy: numpy.load(path)["model.encoder.0.weight"]).\n'
