#!/usr/bin/env bash
# Runs the packages whose tests wait on elections, leases and streams (the
# coordinator, the worker and the single-machine mode) under the race
# detector, ten times over, while a CPU hog of this script's own keeps
# every core busy: the tests must hold on a loaded machine, not only on an
# idle one. Usage:
#   scripts/stress-tests.sh                 # -count=10, one hog per core
#   COUNT=3 scripts/stress-tests.sh -run TestElection
# Extra arguments go to `go test`. The hogs are killed on exit, whatever
# the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-10}
cores=$(getconf _NPROCESSORS_ONLN)

pids=()
stop() {
  for p in "${pids[@]}"; do kill -- "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM
for ((i = 0; i < cores; i++)); do
  yes >/dev/null &
  pids+=($!)
done
echo "stress-tests: $cores CPU hogs running; go test -race -count=$count"

start=$(date +%s)
# In the background and in its own process group, so that a signal reaches
# the traps at once and ends the test binaries too, not only go test.
setsid go test -race -count="$count" -timeout 120m ./coordinator/... ./worker/... ./internal/local/... "$@" &
tests=$!
pids+=("-$tests")
rc=0
wait "$tests" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "stress-tests: FAILED (exit $rc) after $(($(date +%s) - start)) s" >&2
  exit "$rc"
fi
echo "stress-tests: passed in $(($(date +%s) - start)) s"
