#!/usr/bin/env bash
# The main job on the bundled default: a sweep of the bundled Fashion-MNIST
# ViT over write-noise factors gamma 0..5, without and with ClipFormer
# (examples/quick.yaml), run on this machine by an in-process coordinator and
# one worker per core. Prints the results table and writes results.csv,
# results.jsonl and plots to out/quick. Extra arguments go to `clipformer
# run`, e.g. --workers 4 or another spec in place of the default.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
go build -o clipformer ./cmd/clipformer
spec=examples/quick.yaml
for a in "$@"; do
  case "$a" in *.yaml | *.yml) spec="" ;; esac
done
./clipformer run "$@" $spec
