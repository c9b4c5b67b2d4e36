#!/usr/bin/env bash
# End-to-end test of the docker-compose cluster: build the image, start three
# coordinators and two workers, check that no container holds a key but its
# own and that the image holds none, submit examples/ci-mnist.yaml, then,
# while it runs, kill the raft leader and a worker, scale the workers from 2
# to 4, restart the killed coordinator, and restart the whole stack.
# Afterwards every shard must be done exactly once (no failures, no
# non-determinism alarm, and no result arrived twice for a shard, even with
# equal numbers: `clipformer list --json`'s duplicate_results and
# recomputed_shards are 0) and the results must equal `clipformer run` of the
# same spec on this machine, bit for bit. Then, on the same cluster, a race
# (examples/race-fashion-mnist-tiny.yaml, an adaptive sweep): once its
# first round is decided the raft leader is killed, the race must take its
# next round's decisions without it, and the killed coordinator is
# restarted; the race must end with the per-setting decisions of
# `clipformer run` of the same spec (the decision columns of `clipformer
# results --format csv`), on fewer shards than the full grid and with no
# result twice. Works with `docker compose` and with `docker-compose`.
set -euo pipefail
cd "$(dirname "$0")/.."
spec=examples/ci-mnist.yaml
race_spec=examples/race-fashion-mnist-tiny.yaml
project=${E2E_PROJECT:-clipformer-e2e}
work=$(mktemp -d)

tag=e2e
# shellcheck source=scripts/lib-compose.sh
. scripts/lib-compose.sh
cleanup() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    log "FAILED; last coordinator and worker logs:"
    compose logs --tail 30 2>&1 | tail -120 >&2 || true
  fi
  compose down -v >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

# check_secrets: the image holds no key or certificate, and each running
# container sees in /certs only the CA certificate and its own identity,
# mounted from its own file.
check_secrets() {
  local image=${CLIPFORMER_IMAGE:-clipformer:dev} cid svc files keys src n=0
  cid=$(docker create "$image")
  files=$(docker export "$cid" | tar -t)
  docker rm "$cid" >/dev/null
  if grep -E '\.(key|crt)$|^certs/' <<<"$files" >&2; then
    log "the image $image holds certificates or keys"
    return 1
  fi
  for cid in $(compose ps -q); do
    svc=$(docker inspect -f '{{ index .Config.Labels "com.docker.compose.service" }}' "$cid")
    files=$(docker cp "$cid:/certs" - | tar -t | sed 's|^certs/||; /^$/d' | sort | tr '\n' ' ')
    case "$svc" in
    c[0-9]) want="ca.crt coordinator.crt coordinator.key " ;;
    w[0-9]) want="ca.crt worker.crt worker.key " ;;
    client | admin) want="ca.crt $svc.crt $svc.key " ;; # a one-off command still running
    *) log "unexpected service $svc"; return 1 ;;
    esac
    if [ "$files" != "$want" ]; then
      log "$svc sees /certs: $files; want $want"
      return 1
    fi
    keys=$(docker inspect -f '{{ range .Mounts }}{{ .Source }} {{ .Destination }}{{ "\n" }}{{ end }}' "$cid" | awk '$2 ~ /\.key$/ { print $1 }')
    src=$(basename "$keys")
    if [ "$(wc -w <<<"$keys")" -ne 1 ] || [ "$src" != "$svc.key" ]; then
      log "$svc mounts the key(s) $keys; want only its own $svc.key"
      return 1
    fi
    n=$((n + 1))
  done
  log "secrets: no key in the image; each of $n containers sees only its own key and ca.crt"
}

# race_through_leader_kill: on the running cluster, submit the race
# $race_spec, kill the raft leader hard once a round is decided, restart
# it, and check that the race ends as `clipformer run` of the same spec on
# this machine decides it, setting by setting, on fewer shards than the full
# grid, with no shard computed twice. Needs $work/clipformer.
race_through_leader_kill() {
  local id s n state round dropped done total leader attempts dup recomputed t0=$SECONDS
  id=$(cli submit "/$race_spec" | tail -1) || true
  [ -n "$id" ] || { log "submitting $race_spec failed: $(cli_error)"; return 1; }
  log "submitted the race $id ($race_spec)"
  s=$(wait_race "$id" 1 300) || return 1
  read -r state round dropped done total <<<"$s"
  if [ "$state" != running ]; then
    log "the race ended ($s) before the leader kill; the spec is too small to test it"
    return 1
  fi
  until leader=$(leader) && [ -n "$leader" ]; do
    [ $((SECONDS - t0)) -lt 400 ] || { log "no raft leader to kill: $(cli_error)"; return 1; }
    sleep 1
  done
  log "race at round $round, $dropped dropped, $done/$total shards: killing the raft leader $leader"
  compose kill "$leader" >&2
  # The new leader must take the next decision on its own.
  s=$(wait_race "$id" $((round + 1)) 300) || return 1
  read -r state round dropped done total <<<"$s"
  log "without $leader: $state at round $round, $dropped dropped, $done/$total shards; restarting $leader"
  compose start "$leader" >&2
  s=$(wait_race "$id" 1000 300) || return 1
  read -r state round dropped done total <<<"$s"
  [ "$state" = done ] || { log "race $id ended in state $state"; return 1; }
  # A race leases only the shards its rounds need, so check_once's rule
  # (attempts >= shards) does not hold; work done twice is still counted.
  s=$(sweep_counters "$id") || return 1
  read -r _ attempts _ dup recomputed <<<"$s"
  if [ "$attempts" -lt "$done" ] || [ "$dup" != 0 ] || [ "$recomputed" != 0 ]; then
    log "race $id: $attempts attempts for $done shards done, $dup duplicate results, $recomputed shards computed twice"
    return 1
  fi
  results_csv "$id" "$work/race-cluster.csv" || return 1
  log "the race is done on the cluster after $((SECONDS - t0)) s; running it with clipformer run on this machine"
  "$work/clipformer" run --out "$work/race-ref" "$race_spec" >/dev/null 2>"$work/race-ref.log" ||
    { cat "$work/race-ref.log" >&2; return 1; }
  s=$(compare_decisions "$work/race-ref/results.csv" "$work/race-cluster.csv") ||
    { log "the race's decisions on the cluster differ from clipformer run"; return 1; }
  read -r n dropped done total <<<"$s"
  if [ "$done" -ge "$total" ]; then
    log "the race ran $done of the full grid's $total shards; it saved nothing"
    return 1
  fi
  log "race: $n settings decided as clipformer run decides them ($dropped dropped) through a leader kill, on $done of $total shards ($attempts leases, no result twice), in $((SECONDS - t0)) s"
}

log "building the image"
scripts/docker-build.sh >&2
compose down -v >/dev/null 2>&1 || true
log "starting 3 coordinators and 2 workers"
compose up -d >&2
wait_healthy
check_secrets

id=$(cli submit "/$spec" | tail -1)
log "submitted sweep $id"
wait_done_fraction "$id" 0.1 300

leader=$(cli status | awk '/^leader/ { print $2 }')
log "killing the raft leader $leader and one worker"
compose kill "$leader" >&2
compose kill w1 >&2
wait_done_fraction "$id" 0.25 300

log "scaling workers to 4 and restarting $leader"
compose up -d --no-recreate --scale w3=1 --scale w4=1 >&2
compose start "$leader" >&2
wait_done_fraction "$id" 0.45 300
p=$(progress "$id")
if awk -v p="$p" 'BEGIN { split(p, a, " "); exit !(a[1] >= a[2]) }'; then
  log "the sweep finished before the full restart; the spec is too small to test it"
  exit 1
fi

log "restarting the whole stack"
compose stop >&2
compose start >&2
wait_healthy
wait_done_fraction "$id" 1 600

p=$(progress "$id")
read -r done total failed alarms state <<<"$p"
log "final: $done/$total shards, failed $failed, non-determinism alarms $alarms, state $state"
[ "$done" = "$total" ] && [ "$failed" = 0 ] || { log "not every shard is done"; exit 1; }
[ "$alarms" = 0 ] || { log "duplicate results differed"; exit 1; }
[ "$state" = done ] || { log "sweep state $state"; exit 1; }
# Equal duplicates raise no alarm: the state machine's counters tell work
# done twice, whatever its numbers.
counts=$(check_once "$id") || exit 1
read -r attempts dup recomputed <<<"$counts"
log "attempts $attempts for $total shards (a lease lost with its worker counts), duplicate results $dup, shards computed twice $recomputed"
cli results --format jsonl "$id" >"$work/cluster.jsonl"
# Each grid point: every shard done once, none failed.
awk '{ if ($0 !~ /"shards_failed":0/) bad++; match($0, /"shards_done":[0-9]+/); d = substr($0, RSTART + 14, RLENGTH - 14)
       match($0, /"shards_total":[0-9]+/); t = substr($0, RSTART + 15, RLENGTH - 15); if (d != t) bad++ }
     END { exit bad > 0 }' "$work/cluster.jsonl" || { log "a point has failed or missing shards"; exit 1; }

log "running the same spec with clipformer run on this machine"
go build -o "$work/clipformer" ./cmd/clipformer
"$work/clipformer" run --out "$work/ref" "$spec" >/dev/null
strip() { sed -E 's/"sweep":"[^"]*",//' "$1"; }
if ! diff <(strip "$work/ref/results.jsonl") <(strip "$work/cluster.jsonl") >&2; then
  log "the cluster's results differ from clipformer run"
  exit 1
fi
log "PASS: $total shards done exactly once through leader and worker kills, scaling and a full restart; results equal clipformer run bit for bit"

race_through_leader_kill
log "PASS: the race survived a leader kill with clipformer run's decisions"
