#!/usr/bin/env bash
# A chaos soak of the docker-compose cluster:
#
#   scripts/chaos.sh --seed N --minutes M [--spec FILE] [--no-build]
#
# It prints its seed first, builds the image (scripts/docker-build.sh),
# starts the stack and keeps a sweep of SPEC (default examples/chaos.yaml)
# running for M minutes, submitting the next when one ends. Meanwhile it
# runs a random schedule, drawn up front from bash's RANDOM seeded with N,
# so that the same seed gives the same schedule: every few seconds one of
#   - kill -9 the raft leader, and start it again a few seconds later;
#   - kill -9 a worker, and start it again;
#   - freeze the leader (docker pause) for 5-20 s;
#   - stop a coordinator with SIGTERM, and start it again;
#   - scale the spare workers w3 and w4 up or down;
#   - restart the whole stack (down, keeping the raft volumes, then up).
# Then it waits for every sweep to end and checks each: every shard done,
# none failed, no result computed twice (the state machine's
# duplicate_results and recomputed_shards, from `clipformer list --json`),
# and its results equal to `clipformer run` of the spec on this machine, bit
# for bit. It prints one summary line and exits non-zero on any failure; the
# stack is torn down on exit. Without --seed it draws one and prints it.
# CHAOS_PROJECT names the compose project (default clipformer-chaos).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: scripts/chaos.sh --seed N --minutes M [--spec FILE] [--no-build]" >&2
  exit 2
}
seed='' minutes=5 spec=examples/chaos.yaml build=1
while [ $# -gt 0 ]; do
  case "$1" in
  --seed) [ $# -ge 2 ] || usage; seed=$2; shift 2 ;;
  --minutes) [ $# -ge 2 ] || usage; minutes=$2; shift 2 ;;
  --spec) [ $# -ge 2 ] || usage; spec=$2; shift 2 ;;
  --no-build) build=0; shift ;;
  *) usage ;;
  esac
done
[ -n "$seed" ] || seed=$((($(date +%s) + $$) % 100000))
[[ "$seed" =~ ^[0-9]+$ ]] || { echo "chaos: --seed $seed: want a whole number" >&2; exit 2; }
[[ "$minutes" =~ ^[0-9]+$ ]] && [ "$minutes" -gt 0 ] || { echo "chaos: --minutes $minutes: want a whole number above 0" >&2; exit 2; }
[ -f "$spec" ] || { echo "chaos: --spec $spec: no such file" >&2; exit 2; }
echo "chaos seed $seed (again: scripts/chaos.sh --seed $seed --minutes $minutes --spec $spec)"

project=${CHAOS_PROJECT:-clipformer-chaos}
work=$(mktemp -d)
tag=chaos
# The soak talks to the cluster only through the client service, inside
# the compose network: without the coordinators' host ports it runs beside
# another copy of the stack (scripts/e2e-compose.sh) on the same machine.
compose_file=$work/docker-compose.yml
sed '/^    ports: \[/d' docker-compose.yml >"$compose_file"
# shellcheck source=scripts/lib-compose.sh
. scripts/lib-compose.sh

cleanup() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    log "FAILED (seed $seed); last coordinator and worker logs:"
    compose logs --tail 30 2>&1 | tail -120 >&2 || true
  fi
  compose unpause >/dev/null 2>&1 || true
  compose down -v >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- The schedule, drawn before anything else touches RANDOM. ------------
RANDOM=$seed
span=$((minutes * 60))
plan=()
# between LO HI: a whole number drawn from [LO, HI].
between() { draw=$(($1 + RANDOM % ($2 - $1 + 1))); }
# The spare workers' scale as the schedule leaves it, so that a worker
# kill names a running worker.
w3=0 w4=0
t=20 # the first sweep's shards get going first
while [ "$t" -lt "$span" ]; do
  between 0 9
  case $draw in
  0 | 1) between 3 15; dur=$draw; plan+=("$t kill-leader $draw") ;;
  2 | 3)
    workers=(w1 w2)
    [ $w3 = 1 ] && workers+=(w3)
    [ $w4 = 1 ] && workers+=(w4)
    between 0 $((${#workers[@]} - 1)); w=${workers[$draw]}
    between 2 10; dur=$draw; plan+=("$t kill-worker $draw $w") ;;
  4 | 5) between 5 20; dur=$draw; plan+=("$t pause-leader $draw") ;;
  6 | 7) between 1 3; c=c$draw; between 2 10; dur=$((draw + 10)); plan+=("$t stop-coordinator $draw $c") ;;
  8) between 0 1; w3=$draw; between 0 1; w4=$draw; dur=5; plan+=("$t scale-workers 0 $w3 $w4") ;;
  9) dur=40; plan+=("$t restart-stack 0") ;;
  esac
  # The next event: after this one's expected duration, and 3-12 s more.
  between 3 12
  t=$((t + dur + draw))
done
log "schedule of ${#plan[@]} events over $minutes min (seconds from the start, event, seconds down, target):"
for e in "${plan[@]}"; do echo "  $e" >&2; done

# --- The stack and the sweeps. ----------------------------------------------
export CLIPFORMER_IMAGE=${CLIPFORMER_IMAGE:-clipformer:dev}
if [ $build = 1 ] || ! docker image inspect "$CLIPFORMER_IMAGE" >/dev/null 2>&1; then
  log "building the image $CLIPFORMER_IMAGE"
  scripts/docker-build.sh "$CLIPFORMER_IMAGE" >&2
fi
# The reference: the same spec through `clipformer run` on this machine.
# Every sweep of the soak is this spec, so one run serves them all.
log "running $spec with clipformer run on this machine"
go build -o "$work/clipformer" ./cmd/clipformer
"$work/clipformer" run --out "$work/ref" "$spec" >/dev/null 2>"$work/ref.err" || { cat "$work/ref.err" >&2; exit 1; }

compose down -v >/dev/null 2>&1 || true
log "starting 3 coordinators and 2 workers"
compose up -d >&2
wait_healthy

# The spec travels into the one-off client container as a mount, so any
# spec whose model and data the image holds will do.
spec_abs=$(realpath "$spec")
ids=()
submit() {
  local id
  if id=$(compose run --rm -T -v "$spec_abs:/chaos-spec.yaml:ro" client submit /chaos-spec.yaml 2>"$work/cli.err" | tail -1) && [ -n "$id" ]; then
    ids+=("$id")
    log "submitted sweep $id"
  else
    # Submit is not repeated after an error that may have come after it
    # ran; such a sweep still shows in the list and is checked at the end.
    log "submit failed: $(cli_error)"
  fi
}
# feed: submit the next sweep when the last one has ended (or none is
# known yet). A failed list leaves it for the next call.
feed() {
  local p
  if [ ${#ids[@]} -eq 0 ]; then
    submit
    return
  fi
  p=$(progress "${ids[-1]}" 2>/dev/null) || return 0
  case "$p" in *" done" | *" cancelled") submit ;; esac
}

# --- The events. --------------------------------------------------------------
declare -A count=()
skipped=0
scale=(--scale w3=0 --scale w4=0)
# find_leader: sets leader, waiting up to 30 s for one.
find_leader() {
  local t0=$SECONDS
  leader=''
  while [ $((SECONDS - t0)) -lt 30 ]; do
    leader=$(leader 2>/dev/null || true)
    [ -n "$leader" ] && return 0
    sleep 1
  done
  return 1
}
# run_event KIND SECONDS [TARGET...]: one event of the schedule, with its
# recovery. A compose command that fails is logged and the soak goes on:
# what matters is what the cluster makes of it.
run_event() {
  local kind=$1 secs=$2 target=${3:-}
  case "$kind" in
  kill-leader | pause-leader)
    if ! find_leader; then
      log "$kind: no leader known within 30 s; skipped"
      skipped=$((skipped + 1))
      return 0
    fi
    target=$leader ;;
  esac
  if [ "$kind" = scale-workers ]; then
    log "event: $kind w3=$3 w4=$4"
  elif [ "$kind" = restart-stack ]; then
    log "event: $kind"
  else
    log "event: $kind $target for ${secs}s"
  fi
  case "$kind" in
  kill-leader | kill-worker)
    compose kill "$target" >/dev/null 2>&1 || log "kill $target failed"
    sleep "$secs"
    compose start "$target" >/dev/null 2>&1 || log "start $target failed" ;;
  pause-leader)
    compose pause "$target" >/dev/null 2>&1 || log "pause $target failed"
    sleep "$secs"
    compose unpause "$target" >/dev/null 2>&1 || log "unpause $target failed" ;;
  stop-coordinator)
    compose stop "$target" >/dev/null 2>&1 || log "stop $target failed"
    sleep "$secs"
    compose start "$target" >/dev/null 2>&1 || log "start $target failed" ;;
  scale-workers)
    scale=(--scale "w3=$3" --scale "w4=$4")
    # compose refuses while a coordinator just woken is not yet healthy
    # again (the workers depend on it): try again for a while.
    local try
    for try in 1 2 3 4 5 6; do
      compose up -d --no-recreate "${scale[@]}" >/dev/null 2>"$work/up.err" && break
      log "scaling, try $try: $(grep -i error "$work/up.err" | tail -1)"
      sleep 5
    done ;;
  restart-stack)
    compose down >/dev/null 2>&1 || log "down failed"
    compose up -d "${scale[@]}" >/dev/null 2>&1 || log "up failed"
    wait_healthy 180 || log "the stack did not come back healthy within 180 s" ;;
  esac
  count[$kind]=$((${count[$kind]:-0} + 1))
}

start=$SECONDS
feed
for e in "${plan[@]}"; do
  read -r at kind secs target target2 <<<"$e"
  while [ $((SECONDS - start)) -lt "$at" ]; do
    feed
    sleep 2
  done
  if [ "$kind" = scale-workers ]; then
    run_event "$kind" "$secs" "$target" "$target2"
  else
    run_event "$kind" "$secs" "$target"
  fi
done
while [ $((SECONDS - start)) -lt "$span" ]; do
  feed
  sleep 2
done
events=0
for k in "${!count[@]}"; do events=$((events + count[$k])); done
log "the schedule is over: $events events run, $skipped skipped, $((SECONDS - start)) s"

# --- The checks. -------------------------------------------------------------
# Whatever the schedule left down comes back, then every sweep must end.
compose unpause >/dev/null 2>&1 || true
compose up -d --no-recreate "${scale[@]}" >/dev/null 2>&1 || true
wait_healthy 180
deadline=$((SECONDS + ${CHAOS_DRAIN_S:-900}))
mapfile -t all < <(sweep_ids)
for id in "${ids[@]}"; do
  printf '%s\n' "${all[@]}" | grep -qx "$id" || { log "sweep $id was submitted but the cluster does not know it"; all+=("$id"); }
done
log "waiting for ${#all[@]} sweeps to end"
for id in "${all[@]}"; do
  while :; do
    p=$(progress "$id" || true)
    case "$p" in *" done" | *" cancelled") break ;; esac
    [ $SECONDS -lt $deadline ] || { log "sweep $id has not ended by the deadline: ${p:-no answer}"; break; }
    sleep 3
  done
done

lost=0 duplicated=0 differing=0 failed=0 attempts=0 shards=0
for id in "${all[@]}"; do
  p=$(progress "$id" || true)
  read -r d tot f alarms state <<<"${p:-0 0 0 0 unknown}"
  if [ "$state" != done ] || [ "$d" != "$tot" ] || [ "$f" != 0 ] || [ "$alarms" != 0 ]; then
    log "sweep $id: $d/$tot shards done, failed $f, alarms $alarms, state $state"
    failed=$((failed + 1))
  fi
  if c=$(sweep_counters "$id"); then
    read -r _ a s dup rec <<<"$c"
    attempts=$((attempts + a)) shards=$((shards + s)) duplicated=$((duplicated + dup))
    [ "$dup" = 0 ] && [ "$rec" = 0 ] || log "sweep $id: $dup duplicate results, $rec shards computed twice"
  else
    failed=$((failed + 1))
  fi
  if results_csv "$id" "$work/$id.csv" && r=$(compare_csv "$work/ref/results.csv" "$work/$id.csv"); then
    read -r l dif <<<"$r"
    lost=$((lost + l)) differing=$((differing + dif))
    [ "$dif" = 0 ] || log "sweep $id: $dif grid points differ from clipformer run"
  else
    log "sweep $id: no results to compare"
    failed=$((failed + 1))
  fi
done

kinds=''
for k in kill-leader kill-worker pause-leader stop-coordinator scale-workers restart-stack; do
  kinds+="${kinds:+, }${count[$k]:-0} $k"
done
echo "chaos seed $seed: $events events survived ($kinds; $skipped skipped), ${#all[@]} sweeps, $shards shards, $attempts attempts, results lost $lost, duplicated $duplicated, differing $differing, sweeps failing other checks $failed"
[ ${#all[@]} -gt 0 ] && [ $lost = 0 ] && [ $duplicated = 0 ] && [ $differing = 0 ] && [ $failed = 0 ]
