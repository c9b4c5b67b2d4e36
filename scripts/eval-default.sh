#!/usr/bin/env bash
# The main job on the bundled default: the Fashion-MNIST ViT on its full test
# set at write-noise factor gamma = 4, without and with ClipFormer
# (alpha 2, beta 0.25). Extra flags go to both runs, e.g. --limit 1000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
go build -o clipformer ./cmd/clipformer
./clipformer eval --gamma 4 --clip off "$@"
echo
./clipformer eval --gamma 4 --clip 2,0.25 "$@"
