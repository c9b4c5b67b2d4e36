# Helpers shared by scripts/e2e-compose.sh and scripts/chaos.sh; sourced,
# not run. Before sourcing, set:
#   project  the compose project name
#   work     a scratch folder of the caller's (removed by the caller)
#   tag      the prefix of log lines (e2e, chaos)
# and, optionally, compose_file: a compose file to use instead of
# docker-compose.yml (paths in it still resolve from the repository root).
# Works with `docker compose` and with `docker-compose`.

compose_flags=(-p "$project")
[ -z "${compose_file:-}" ] || compose_flags+=(-f "$compose_file" --project-directory .)
if docker compose version >/dev/null 2>&1; then
  compose() { docker compose "${compose_flags[@]}" "$@"; }
elif command -v docker-compose >/dev/null; then
  compose() { docker-compose "${compose_flags[@]}" "$@"; }
else
  echo "$tag: neither 'docker compose' nor 'docker-compose' is installed" >&2
  exit 1
fi

log() { echo "$tag [$(date -u +%H:%M:%S)] $*" >&2; }

# cli ARGS: run the clipformer client in a one-off container of the client
# service (the client identity), which names every coordinator so that any
# live one answers. Its standard error (compose's chatter, the client's
# messages) goes to $work/cli.err, for callers that want to show it.
cli() {
  compose run --rm -T client "$@" 2>"$work/cli.err"
}

# cli_error: the client's last error message (a line "clipformer: ..."),
# or else the last line on its standard error.
cli_error() {
  local e
  e=$(grep '^clipformer: ' "$work/cli.err" | tail -1)
  echo "${e:-$(tail -1 "$work/cli.err")}"
}

# progress ID: "done total failed alarms state", from the sweep list (the
# counters found by name: a list line may hold more, e.g. copied=).
progress() {
  cli list | awk -v id="$1" '$1 == id {
    split($3, a, "/")
    for (i = 4; i <= NF; i++) { if ($i ~ /^failed=/) f = substr($i, 8); if ($i ~ /^alarms=/) al = substr($i, 8) }
    print a[1], a[2], f, al, $2 }'
}

# sweep_ids: the id of every sweep the cluster knows, one a line.
sweep_ids() {
  cli list | awk '$1 ~ /^[0-9]+-[0-9]+-[0-9a-f]+$/ { print $1 }'
}

# wait_done_fraction ID FRACTION TIMEOUT_S: wait until that fraction of the
# sweep's shards is done.
wait_done_fraction() {
  local id=$1 frac=$2 limit=$3 t0=$SECONDS p
  while [ $((SECONDS - t0)) -lt "$limit" ]; do
    p=$(progress "$id" || true)
    if [ -n "$p" ] && awk -v p="$p" -v f="$frac" 'BEGIN { split(p, a, " "); exit !(a[1] >= f * a[2]) }'; then
      log "progress: $p"
      return 0
    fi
    sleep 1
  done
  log "timed out waiting for $frac of $id; last: ${p:-none}"
  return 1
}

# wait_healthy [TIMEOUT_S]: wait until a coordinator answers the status call.
wait_healthy() {
  local t0=$SECONDS limit=${1:-120}
  until cli status >/dev/null; do
    [ $((SECONDS - t0)) -lt "$limit" ] || { log "cluster not healthy after $limit s: $(cli_error)"; return 1; }
    sleep 1
  done
}

# leader: the raft leader's id (c1...), empty while there is none.
leader() {
  cli status | awk '/^leader/ { print $2 }'
}

# sweep_counters ID: "state attempts shards duplicate_results
# recomputed_shards" of the sweep (shards: those that need a lease, copies
# of trial 0 left out; they are never leased), from `clipformer list --json` (one
# protojson object per sweep and line, proto field names). It fails, saying
# why, when the client has no --json, when the sweep is missing, or when the
# attempt counters are absent: a check that cannot see them must not pass.
# protojson leaves out fields that are zero, so a missing duplicate_results
# is 0, but attempts is at least the shard count of any sweep.
sweep_counters() {
  local id=$1 out
  if ! out=$(cli list --json); then
    log "clipformer list --json failed: $(cli_error)"
    return 1
  fi
  python3 - "$id" "$out" <<'EOF'
import json, sys
want, out = sys.argv[1], sys.argv[2]
for n, line in enumerate(out.splitlines(), 1):
    line = line.strip()
    if not line:
        continue
    try:
        sw = json.loads(line)
    except ValueError as e:
        sys.exit(f"list --json, line {n}: not JSON ({e}): {line[:80]}")
    if not isinstance(sw, dict) or sw.get("id") != want:
        continue
    if "attempts" not in sw:
        sys.exit(f"list --json: sweep {want} has no attempts field; cannot check for work computed twice")
    copies = int((sw.get("progress") or {}).get("copies", 0))
    print(sw.get("state", "?"), int(sw["attempts"]), int(sw.get("shards", 0)) - copies,
          int(sw.get("duplicate_results", 0)), int(sw.get("recomputed_shards", 0)))
    sys.exit(0)
sys.exit(f"list --json: no sweep {want}")
EOF
}

# check_once ID: no shard of the sweep was computed twice, even with equal
# numbers: the state machine counts every lease (attempts) and every result
# that arrived for a shard already done. Prints "attempts duplicates
# recomputed"; fails when either of the last two is not 0.
check_once() {
  local id=$1 c state attempts shards dup recomputed
  c=$(sweep_counters "$id") || return 1
  read -r state attempts shards dup recomputed <<<"$c"
  echo "$attempts $dup $recomputed"
  if [ "$attempts" -lt "$shards" ]; then
    log "sweep $id: $attempts attempts for $shards shards; some shard was never leased"
    return 1
  fi
  if [ "$dup" != 0 ] || [ "$recomputed" != 0 ]; then
    log "sweep $id: $dup duplicate results, $recomputed shards computed twice"
    return 1
  fi
}

# results_csv ID FILE: the sweep's results as CSV.
results_csv() {
  cli results --format csv "$1" >"$2" || { log "results of $1: $(cli_error)"; return 1; }
}

# compare_csv REF CLUSTER: prints "lost differing": the shards missing or
# failed in CLUSTER (from its shards_done/failed/total columns), and the
# grid points whose line differs from REF's. The sweep id column is left
# out of the comparison; everything else must be equal bit for bit (the
# numbers are written in Go's shortest exact form). Differing lines go to
# standard error.
compare_csv() {
  python3 - "$1" "$2" <<'EOF'
import csv, sys
def rows(path):
    with open(path, newline="") as f:
        r = list(csv.reader(f)) or [[]]
    head, body = r[0], r[1:]
    return head, [row[1:] for row in body], body
rh, ref, _ = rows(sys.argv[1])
ch, got, full = rows(sys.argv[2])
if rh != ch:
    print("header differs:", ch, file=sys.stderr)
    t = rh.index("shards_total") - 1
    print(sum(int(r[t]) for r in ref), max(len(ref), 1))
    sys.exit(0)
i = {k: n for n, k in enumerate(ch)}
done, total = i["shards_done"], i["shards_total"]
# Shards not done in the cluster's points, and whole points missing.
lost = sum(int(r[total]) - int(r[done]) for r in full)
lost += sum(int(r[total - 1]) for r in ref[len(got):])
differing = abs(len(ref) - len(got))
for a, b in zip(ref, got):
    if a != b:
        differing += 1
        print("want", ",".join(a), "\n got", ",".join(b), file=sys.stderr)
print(lost, differing)
EOF
}

# race_status ID: "state round dropped done total" of an adaptive sweep,
# from `clipformer list --json`: its state (running, done ...), the highest
# round any group has decided, the settings dropped so far, and its shards
# done out of the full grid's. Fails, saying why, when the sweep is missing
# or has no adaptive progress.
race_status() {
  local id=$1 out
  if ! out=$(cli list --json); then
    log "clipformer list --json failed: $(cli_error)"
    return 1
  fi
  python3 - "$id" "$out" <<'PY'
import json, sys
want, out = sys.argv[1], sys.argv[2]
for line in out.splitlines():
    line = line.strip()
    if not line:
        continue
    sw = json.loads(line)
    if sw.get("id") != want:
        continue
    ad = sw.get("adaptive")
    if not ad:
        sys.exit(f"list --json: sweep {want} has no adaptive progress; is it a race?")
    state = sw.get("state", "?").removeprefix("SWEEP_STATE_").lower()
    pr = sw.get("progress") or {}
    print(state, int(ad.get("round", 0)), int(ad.get("dropped", 0)),
          int(pr.get("done", 0)), int(pr.get("total", 0)))
    sys.exit(0)
sys.exit(f"list --json: no sweep {want}")
PY
}

# wait_race ID ROUND TIMEOUT_S: wait until the race has decided ROUND
# rounds or has ended; prints its last race_status.
wait_race() {
  local id=$1 round=$2 limit=$3 t0=$SECONDS s="" state r
  while [ $((SECONDS - t0)) -lt "$limit" ]; do
    if s=$(race_status "$id" 2>"$work/race.err"); then
      read -r state r _ <<<"$s"
      if [ "$r" -ge "$round" ] || [ "$state" != running ]; then
        echo "$s"
        return 0
      fi
    fi
    sleep 2
  done
  log "timed out after $limit s waiting for round $round of race $id; last status: ${s:-none} $(cat "$work/race.err")"
  return 1
}

# compare_decisions REF CLUSTER: the per-setting decision columns of two
# results CSVs of the same race (`clipformer results --format csv`) are
# equal, point by point; prints "settings dropped shards_done shards_total"
# of CLUSTER. Differences go to standard error and fail.
compare_decisions() {
  python3 - "$1" "$2" <<'PY'
import csv, sys
cols = ["point", "gamma", "clip", "decision", "decision_round", "paired_gain",
        "paired_gain_ci", "p_value", "evaluated_images", "baseline_gain",
        "baseline_gain_ci", "baseline_p_value"]
def rows(path):
    with open(path, newline="") as f:
        r = list(csv.DictReader(f))
    missing = [c for c in cols if r and c not in r[0]]
    if not r or missing:
        sys.exit(f"{path}: no rows, or no column {missing}")
    return r
ref, got = rows(sys.argv[1]), rows(sys.argv[2])
bad = abs(len(ref) - len(got))
for a, b in zip(ref, got):
    wa, wb = [a[c] for c in cols], [b[c] for c in cols]
    if wa != wb:
        bad += 1
        print("want", ",".join(wa), "\n got", ",".join(wb), file=sys.stderr)
if bad:
    sys.exit(f"{bad} settings' decisions differ ({len(ref)} in the reference, {len(got)} on the cluster)")
print(len(got), sum(r["decision"] == "dropped" for r in got),
      sum(int(r["shards_done"]) for r in got), sum(int(r["shards_total"]) for r in got))
PY
}
