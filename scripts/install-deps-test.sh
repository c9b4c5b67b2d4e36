#!/usr/bin/env bash
# Tests scripts/install-deps.sh against a fake apt-get and dpkg: while
# another process "holds" apt's lock, the script must wait and retry, pass
# DPkg::Lock::Timeout to every apt-get, and give up with a clear message once
# APT_LOCK_TIMEOUT has passed.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
# The fake apt-get refuses with apt's lock message while $work/held-N counts
# down, and logs its arguments.
cat >"$work/bin/apt-get" <<FAKE
#!/usr/bin/env bash
echo "\$*" >>"$work/calls"
n=\$(cat "$work/held" 2>/dev/null || echo 0)
if [ "\$n" -gt 0 ]; then
  echo \$((n - 1)) >"$work/held"
  echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2
  echo "E: Unable to lock directory /var/lib/apt/lists/" >&2
  exit 100
fi
FAKE
printf '#!/bin/sh\nexit 1\n' >"$work/bin/dpkg" # nothing is installed
chmod +x "$work/bin/apt-get" "$work/bin/dpkg"
run() { PATH="$work/bin:$PATH" APT_LOCK_POLL=0 "$@"; }
fail() { echo "install-deps-test: FAIL: $*" >&2; exit 1; }

# The lock is held for the first three attempts: the script waits them out.
echo 3 >"$work/held"
run scripts/install-deps.sh 2>"$work/err" || fail "did not wait for the lock: $(cat "$work/err")"
grep -q "waiting up to 600 s" "$work/err" || fail "no word about waiting: $(cat "$work/err")"
grep -q ' install .*dataset-fashion-mnist' "$work/calls" || fail "dataset-fashion-mnist not installed: $(cat "$work/calls")"
if grep -v -q 'DPkg::Lock::Timeout=600' "$work/calls"; then fail "an apt-get without DPkg::Lock::Timeout: $(cat "$work/calls")"; fi

# A lock held past the deadline fails, naming the cause.
: >"$work/calls"
echo 1000 >"$work/held"
if run env APT_LOCK_TIMEOUT=0 scripts/install-deps.sh 2>"$work/err"; then fail "succeeded although the lock was never released"; fi
grep -q "still held after 0 s" "$work/err" || fail "unclear refusal: $(cat "$work/err")"

# Any other apt failure is reported at once, not retried.
cat >"$work/bin/apt-get" <<FAKE
#!/usr/bin/env bash
echo "\$*" >>"$work/calls"
echo "E: Unable to locate package dataset-fashion-mnist" >&2
exit 100
FAKE
: >"$work/calls"
if run scripts/install-deps.sh 2>"$work/err"; then fail "an apt error was ignored"; fi
[ "$(wc -l <"$work/calls")" -eq 1 ] || fail "a non-lock error was retried: $(cat "$work/calls")"
grep -q "Unable to locate package" "$work/err" || fail "apt's error was not shown: $(cat "$work/err")"
# --monitoring installs Debian's prometheus (for promtool) when promtool is
# missing, and not the data set. PATH holds only the fakes and the few
# tools the script runs, so that a promtool installed here stays unseen.
mkdir "$work/sys"
for c in bash env id grep sleep cat; do ln -s "$(command -v "$c")" "$work/sys/$c"; done
cat >"$work/bin/apt-get" <<FAKE
#!/usr/bin/env bash
echo "\$*" >>"$work/calls"
FAKE
: >"$work/calls"
PATH="$work/bin:$work/sys" APT_LOCK_POLL=0 scripts/install-deps.sh --monitoring 2>"$work/err" || fail "--monitoring: $(cat "$work/err")"
grep -q ' install .*prometheus' "$work/calls" || fail "--monitoring did not install prometheus: $(cat "$work/calls")"
if grep -q 'dataset-fashion-mnist' "$work/calls"; then fail "--monitoring also installed the data set: $(cat "$work/calls")"; fi
echo "install-deps-test: PASS"
