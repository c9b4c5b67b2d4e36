#!/usr/bin/env bash
# Calibrates sigma_w once per noise granularity: runs examples/calibration.yaml
# (the unclipped Fashion-MNIST model at gamma 4 over a sigma_w grid, both
# granularities, full test set, 2 trials) through `clipformer run`, then finds
# by linear interpolation the sigma_w at which the model keeps
# 54.82 / 79.76 of its software accuracy, as DeiT-S does in the paper at
# gamma 4. Usage: scripts/calibrate.sh [OUTDIR]   (default out/calibration)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/calibration}
scripts/install-deps.sh
go build -o clipformer ./cmd/clipformer
./clipformer run --out "$out" examples/calibration.yaml
software=$(./clipformer eval --ideal --json 2>/dev/null | awk -F'[:,]' '/"mean"/ { gsub(/ /, "", $2); print $2; exit }')
awk -F, -v sw="$software" '
  BEGIN { target_frac = 54.82 / 79.76; target = target_frac * sw
          printf "software accuracy %.2f %%; target at gamma 4: %.4f x %.2f = %.2f %%\n", sw, target_frac, sw, target }
  NR > 1 { g = $9; sub(/^granularity=/, "", g); n[g]++; s[g, n[g]] = $8; a[g, n[g]] = $12 }
  END {
    for (g in n) {
      found = 0
      for (i = 1; i < n[g]; i++) {
        if (a[g, i] >= target && a[g, i + 1] < target) {
          x = s[g, i] + (s[g, i + 1] - s[g, i]) * (a[g, i] - target) / (a[g, i] - a[g, i + 1])
          printf "granularity %s: accuracy %.2f %% at sigma_w %s, %.2f %% at %s -> sigma_w = %.3f\n", g, a[g, i], s[g, i], a[g, i + 1], s[g, i + 1], x
          found = 1
        }
      }
      if (!found) printf "granularity %s: the target is outside the grid\n", g
    }
  }' "$out/results.csv"
