#!/usr/bin/env bash
# The project's test command: formatting, vet, the race-enabled unit tests,
# then the long accuracy checks on the full bundled test sets (without the
# race detector, which would make them ten times slower).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/install-deps.sh --monitoring # promtool, for go test ./deploy
scripts/install-deps-test.sh
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi
scripts/gen-proto.sh --check
go vet ./...
go test -race -count=1 ./...
CLIPFORMER_LONG=1 go test -count=1 -run 'Long' -timeout 30m ./...
# The study, small: every committed study spec through `clipformer run`
# (the orchestrator's path) on 100 images and one trial.
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/clipformer" ./cmd/clipformer
for spec in examples/study-fashion-mnist.yaml examples/study-mnist.yaml; do
  out="$bin/$(basename "$spec" .yaml)"
  "$bin/clipformer" run --fresh --limit 100 --trials 1 --out "$out" "$spec" >/dev/null 2>"$out.log" || { cat "$out.log"; exit 1; }
  rows=$(($(wc -l <"$out/results.csv") - 1))
  [ "$rows" -eq 372 ] || { echo "study $spec: $rows result rows, want 372"; exit 1; }
  echo "study $spec (100 images, 1 trial): $rows points $(grep -o 'done in .*' "$out.log")"
  mkdir -p "$bin/results"
  cp "$out/results.csv" "$bin/results/$(basename "$spec" .yaml).csv"
done
# ... and through the report that makes docs/REPRODUCTION-TABLES.md and its figures.
"$bin/clipformer" report --figures "$bin/figures" --out "$bin/tables.md" "$bin/results"
grep -q "## The best ClipFormer setting per gamma" "$bin/tables.md" || { echo "report: no study table"; cat "$bin/tables.md"; exit 1; }
# 2 studies x 2 sigma_r values x 5 figures x (PNG, SVG)
figs=$(ls "$bin/figures" | grep -cE '^study-.*-(best|beta-accuracy|beta-snr|blocksnr|gain)\.(png|svg)$' || true)
[ "$figs" -eq 40 ] && [ -s "$bin/figures/study-mnist-sigma_r0.05-beta-snr.png" ] ||
  { echo "report: $figs study figures, want 40"; ls "$bin/figures"; exit 1; }
echo "report of the small study: $(grep -c '^| ' "$bin/tables.md") table rows, $figs figures"

# The dashboard in a real browser (clipformer run --ui, driven in headless
# chromium), whenever chromium is installed.
if command -v chromium >/dev/null; then
  CLIPFORMER_BROWSER=1 go test -count=1 -run 'Browser' -timeout 10m ./cmd/clipformer
else
  echo "##########################################################################"
  echo "## NO CHROMIUM: the dashboard's browser tests did NOT run"
  echo "##########################################################################"
fi

# The docker-compose end-to-end test, whenever a Docker engine answers.
if docker info >/dev/null 2>&1; then
  scripts/e2e-compose.sh
else
  echo "##########################################################################"
  echo "## NO DOCKER ENGINE ANSWERED: the docker-compose end-to-end test did NOT run"
  echo "##########################################################################"
fi
