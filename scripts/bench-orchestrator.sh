#!/usr/bin/env bash
# Measures the orchestrator alone, with real processes on this machine:
# three `clipformer coordinator` processes (raft over loopback TCP, logs in
# bolt files) and fake workers (`clipformer worker --fake 0`) that complete
# shards without simulating. A sweep of SHARDS one-image shards (default
# 100,000) is submitted, scheduled and finished; the script reports the
# completions per second and every coordinator's peak resident memory (VmHWM).
#
# Usage: scripts/bench-orchestrator.sh [SHARDS] [WORKERS] [SLOTS]
set -euo pipefail
cd "$(dirname "$0")/.."
shards=${1:-100000}
workers=${2:-4}
slots=${3:-64}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/clipformer" ./cmd/clipformer
cf="$work/clipformer"
base=$((20000 + RANDOM % 20000))
peers=()
for i in 1 2 3; do peers+=(--peer "c$i,127.0.0.1:$((base + 100 + i)),127.0.0.1:$((base + i))"); done
for i in 1 2 3; do
  "$cf" coordinator --insecure --id "c$i" --data "$work/c$i" --raft-bind "127.0.0.1:$((base + 100 + i))" \
    --listen "127.0.0.1:$((base + i))" --max-shards 10000000 --log-level warn "${peers[@]}" 2>"$work/c$i.log" &
  pids+=($!)
done
coords="127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2)),127.0.0.1:$((base + 3))"
until "$cf" status --insecure --coordinators "$coords" >/dev/null 2>&1; do sleep 0.2; done
for i in $(seq 1 "$workers"); do
  "$cf" worker --insecure --id "fake$i" --coordinators "$coords" --slots "$slots" --fake 0 --log-level error 2>>"$work/workers.log" &
  pids+=($!)
done
cat >"$work/spec.yaml" <<EOF
name: orchestrator benchmark
model: {path: models/vit-mnist.safetensors}
dataset: {kind: folder, path: unused, limit: $shards}
grid: {gamma: [0]}
images_per_shard: 1
EOF
sleep 1
t0=$(date +%s.%N)
id=$("$cf" submit --insecure --coordinators "$coords" "$work/spec.yaml" 2>"$work/submit.log") || { cat "$work/submit.log" >&2; exit 1; }
while :; do
  line=$("$cf" list --insecure --coordinators "$coords" | awk -v id="$id" '$1 == id')
  case "$line" in *" done "*) break ;; esac
  sleep 0.2
done
t1=$(date +%s.%N)
echo "$line"
awk -v a="$t0" -v b="$t1" -v n="$shards" 'BEGIN { printf "%d shards in %.2f s: %.0f shard completions per second (3 coordinators, '"$workers"' fake workers x '"$slots"' slots)\n", n, b - a, n / (b - a) }'
for i in 1 2 3; do
  hwm=$(awk '/VmHWM/ { print $2 }' "/proc/${pids[$((i - 1))]}/status")
  echo "coordinator c$i peak RSS (VmHWM): $((hwm / 1024)) MiB"
done
