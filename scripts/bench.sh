#!/usr/bin/env bash
# Side-by-side performance comparison of clipformer and PyTorch on one machine,
# in one run, for docs/PERFORMANCE.md:
#
#   a. the DeiT-S forward (224 x 224, both cores): clipformer's ideal float32 model,
#      the crossbar at gamma 0, write noise + ClipFormer, and + read noise, each
#      crossbar case also with every product in float32 as before the exact
#      integer products, the read-noise cases also with the read-noise switches
#      (bfloat16 variance products, vector normals) (BenchmarkForwardDeiTSmall);
#   b. PyTorch's eval-mode forward of the same checkpoint (scripts/bench_torch.py,
#      2 threads, batch 8), with OpenBLAS's own kernel choice and with the kernels
#      forced to match the CPU (OpenBLAS 0.3.21 falls back to SSE3 kernels on CPUs it
#      does not know), plus an agreement check of the two forwards' logits;
#   c. the Go matrix-product kernel on DeiT-S shapes (BenchmarkMatMul);
#   d. OpenBLAS's float32 2048^3 matrix product with 2 threads, the machine's peak;
#   e. the resident memory of `clipformer eval` on 64 JPEG images, against a budget
#      of 2 x the checkpoint's float32 size + 200 MB;
#   f. the reference path's cost relative to the fast path (BenchmarkReferencePathTiny).
#
# Usage: scripts/bench.sh [--quick] [OUTDIR]
#        scripts/bench.sh --kernels [--quick] [OUTDIR]
#
# --kernels measures only the kernel levels, without PyTorch: the bundled
# Fashion-MNIST eval with write noise and ClipFormer on one core under the AVX2
# kernels (CLIPFORMER_KERNELS=avx2) and the CPU's best, alternated in one
# process (BenchmarkFashionMNISTKernels), and the matrix kernels side by side
# (BenchmarkMatMulKernels); it writes OUTDIR/kernels.txt.
#
# OUTDIR (default out/bench, which git ignores) receives the raw outputs and
# summary.txt. A full run takes about 5 to 10 minutes on 2 cores; run it on an
# otherwise idle machine. --quick runs every step with tiny counts to check that
# the script works; its numbers mean nothing.
#
# Needs Go and Debian's python3-torch (with OpenBLAS); installs the latter, and GNU
# time, with apt-get when missing.
set -euo pipefail

quick=0 kernels=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --kernels) kernels=1; shift ;;
    *) break ;;
  esac
done
if [ $# -gt 1 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  echo "usage: scripts/bench.sh [--kernels] [--quick] [OUTDIR]" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/out/bench}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$root"

if [ $kernels -eq 1 ]; then
  command -v go >/dev/null || { echo "bench: go is not on PATH" >&2; exit 1; }
  # Each iteration evaluates 500 images under each level; 5 iterations take
  # about 15 s here. The levels alternate, so both see the same machine load.
  iters=5 mm_time=1s
  [ $quick -eq 1 ] && iters=1 mm_time=10x
  f=$out/kernels.txt
  {
    echo "kernel levels, $(date -u '+%Y-%m-%d %H:%M UTC')$([ $quick -eq 1 ] && echo ' (--quick: numbers meaningless)')"
    echo "machine $(lscpu 2>/dev/null | awk -F: '/^Model name/ { sub(/^ +/, "", $2); print $2; exit }'), nproc $(nproc), load average at start $(cut -d' ' -f1 /proc/loadavg 2>/dev/null)"
    go test -run XXX -bench 'BenchmarkFashionMNISTKernels' -benchtime "${iters}x" ./sim/
    go test -run XXX -bench 'BenchmarkMatMulKernels' -benchtime "$mm_time" ./sim/linalg/
  } | tee "$f"
  ratio=$(awk '/^BenchmarkFashionMNISTKernels/ { for (i = 3; i <= NF; i++) if ($i == "avx2_vs_best") print $(i - 1) }' "$f")
  echo "AVX2 / best kernels, Fashion-MNIST eval rate per CPU second: ${ratio:-n/a} (target >= 0.6)" | tee -a "$f"
  [ -n "$ratio" ]
  exit
fi

# Counts: the full run, or tiny ones with --quick.
if [ $quick -eq 1 ]; then
  forward_n=1 torch_batch=2 torch_iters=1 torch_warmup=0 matmul_time=100ms ref_time=1x
  sgemm_iters=1 images=8
else
  forward_n=3 torch_batch=8 torch_iters=4 torch_warmup=1 matmul_time=1s ref_time=2s
  sgemm_iters=5 images=64
fi
threads=2

PY=/usr/bin/python3 # Debian's Python, which has python3-torch

# --- dependencies -------------------------------------------------------------
"$(dirname "$0")/install-deps.sh" --bench
command -v go >/dev/null || { echo "bench: go is not on PATH" >&2; exit 1; }

# --- helpers ------------------------------------------------------------------
failed=()
durations=()
# step NAME CMD...: run CMD, note its duration, and carry on if it fails.
step() {
  local name=$1 t0=$SECONDS
  shift
  echo "== $name" >&2
  if "$@"; then
    durations+=("$name $((SECONDS - t0))s")
  else
    durations+=("$name $((SECONDS - t0))s FAILED")
    failed+=("$name")
    echo "bench: step $name failed" >&2
  fi
}
# calc EXPR: a floating-point expression, or n/a when an operand is missing.
calc() {
  case " $* " in *" n/a "*) echo n/a; return ;; esac
  awk "BEGIN { v = $*; printf \"%.4g\", v }" 2>/dev/null || echo n/a
}
# bench_metric FILE NAME UNIT: the value before UNIT on benchmark NAME's line.
bench_metric() {
  local v=""
  [ -f "$1" ] && v=$(awk -v n="$2" -v u="$3" '{ name = $1; sub(/-[0-9]+$/, "", name) }
    name == n { for (i = 3; i <= NF; i++) if ($i == u) v = $(i - 1) } END { print v }' "$1")
  echo "${v:-n/a}"
}
# jget FILE KEY: a field of the JSON line in FILE.
jget() {
  local v=""
  [ -s "$1" ] && v=$("$PY" -c 'import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(d.get(sys.argv[2], ""))' "$1" "$2" 2>/dev/null)
  echo "${v:-n/a}"
}
# verdict_ge VALUE TARGET: ok when VALUE >= TARGET.
verdict_ge() {
  [ "$1" = n/a ] && { echo "n/a"; return; }
  awk -v v="$1" -v t="$2" 'BEGIN { print (v + 0 >= t + 0) ? "ok" : "MISSED" }'
}
# verdict VALUE TARGET: ok when VALUE <= TARGET.
verdict() {
  [ "$1" = n/a ] && { echo "n/a"; return; }
  awk -v v="$1" -v t="$2" 'BEGIN { print (v + 0 <= t + 0) ? "ok" : "MISSED" }'
}

start=$SECONDS
load_start=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo n/a)
model=$out/deit-s.safetensors

# --- build and checkpoint -----------------------------------------------------
step build go build -o clipformer ./cmd/clipformer
step synth bash -o pipefail -c './clipformer model synth --arch deit-small --out "$1" && ./clipformer model inspect "$1" >"$2"' \
  bash "$model" "$out/model_inspect.txt"

# --- a. DeiT-S forward in Go --------------------------------------------------
step go_forward bash -o pipefail -c 'go test -run XXX -bench BenchmarkForwardDeiTSmall -benchtime "$1" ./sim/ | tee "$2"' \
  bash "${forward_n}x" "$out/go_forward.txt"

# --- b. PyTorch on the same checkpoint, and the agreement of the logits --------
torch_run() { # torch_run OUTFILE ARGS...
  local f=$1
  shift
  "$PY" scripts/bench_torch.py "$@" >"$f" && tail -n1 "$f" >&2
}
step torch_forward torch_run "$out/torch_forward.json" --model "$model" --threads $threads \
  --batch $torch_batch --iters $torch_iters --warmup $torch_warmup
step torch_forward_tuned torch_run "$out/torch_forward_tuned.json" --model "$model" --threads $threads \
  --batch $torch_batch --iters $torch_iters --warmup $torch_warmup --openblas-core auto
step torch_check torch_run "$out/torch_check.json" --model "$model" --threads $threads --check --batch 2
step agreement bash -o pipefail -c 'BENCH_TORCH_CHECK="$1" BENCH_MODEL="$2" go test -count=1 -run TorchAgreement -v ./scripts/mkimages | tee "$3"' \
  bash "$out/torch_check.json" "$model" "$out/agreement.txt"

# --- c. the Go matrix-product kernel ------------------------------------------
step go_matmul bash -o pipefail -c 'go test -run XXX -bench MatMul -benchtime "$1" ./sim/linalg/ | tee "$2"' \
  bash "$matmul_time" "$out/go_matmul.txt"

# --- d. the machine's sgemm peak (OpenBLAS) -----------------------------------
step sgemm torch_run "$out/torch_sgemm.json" --sgemm 2048 --threads $threads --iters $sgemm_iters
step sgemm_tuned torch_run "$out/torch_sgemm_tuned.json" --sgemm 2048 --threads $threads \
  --iters $sgemm_iters --openblas-core auto

# --- e. resident memory of eval on an image folder ----------------------------
imgdir=$out/images
rm -rf "$imgdir"
step mkimages go run ./scripts/mkimages -out "$imgdir" -n $images -classes 2 -size 256x256 -seed 1 -format jpg
# eval refuses a data set whose class count differs from the model's: a DeiT-S with the
# folder's 2 classes. A folder without train/ calibrates on a class-stratified sample of itself.
step synth2 ./clipformer model synth --arch deit-small --classes 2 --out "$out/deit-s-2.safetensors"
step eval_rss bash -o pipefail -c '/usr/bin/time -v ./clipformer eval --model "$1" --data "folder:$2" --limit "$3" --gamma 4 --clip 2,0.25 >"$4" 2>"$5"; rc=$?; cat "$4"; exit $rc' \
  bash "$out/deit-s-2.safetensors" "$imgdir" "$images" "$out/eval.txt" "$out/eval_time.txt"

# --- f. the reference path against the fast path ------------------------------
step go_reference bash -o pipefail -c 'go test -run XXX -bench ReferencePathTiny -benchtime "$1" ./sim/ | tee "$2"' \
  bash "$ref_time" "$out/go_reference.txt"

# --- summary ------------------------------------------------------------------
fwd=$out/go_forward.txt
b=BenchmarkForwardDeiTSmall
go_ideal_ips=$(bench_metric "$fwd" $b/ideal images/s)
go_noisy_ips=$(bench_metric "$fwd" $b/writenoise_clipformer images/s)
go_read_ips=$(bench_metric "$fwd" $b/writenoise_clipformer_readnoise images/s)
go_ideal_gf=$(bench_metric "$fwd" $b/ideal GFLOP/s)
go_noisy_gf=$(bench_metric "$fwd" $b/writenoise_clipformer GFLOP/s)
go_read_gf=$(bench_metric "$fwd" $b/writenoise_clipformer_readnoise GFLOP/s)
ns_ideal=$(bench_metric "$fwd" $b/ideal ns/op)
ns_g0=$(bench_metric "$fwd" $b/gamma0_clipformer ns/op)
ns_g0_float=$(bench_metric "$fwd" $b/gamma0_clipformer_float ns/op)
cpu_g0=$(bench_metric "$fwd" $b/gamma0_clipformer cpu-ms/image)
cpu_g0_float=$(bench_metric "$fwd" $b/gamma0_clipformer_float cpu-ms/image)

t_ips=$(jget "$out/torch_forward.json" images_per_second)
t_gf=$(jget "$out/torch_forward.json" gflop_per_second)
t_blas=$(jget "$out/torch_forward.json" blas)
tt_ips=$(jget "$out/torch_forward_tuned.json" images_per_second)
tt_gf=$(jget "$out/torch_forward_tuned.json" gflop_per_second)
tt_blas=$(jget "$out/torch_forward_tuned.json" blas)
tt_core=$(jget "$out/torch_forward_tuned.json" openblas_coretype)
torch_version=$(jget "$out/torch_forward.json" torch)
core_of() { # the OpenBLAS kernel set named in a blas string
  case "$1" in *OpenBLAS*) echo "$1" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^MAX_THREADS/) print $(i - 1) }' ;; *) echo "?" ;; esac
}
t_core=$(core_of "$t_blas")
[ "$tt_core" = n/a ] || [ -z "$tt_core" ] && tt_core=$(core_of "$tt_blas")
# The fairer PyTorch figure is the faster of the two kernel choices.
best_ips=$t_ips best_label="OpenBLAS as detected, $t_core"
if [ "$tt_ips" != n/a ] && { [ "$t_ips" = n/a ] || awk -v a="$tt_ips" -v b="$t_ips" 'BEGIN { exit !(a > b) }'; }; then
  best_ips=$tt_ips best_label="OpenBLAS forced to $tt_core"
fi

ratio_torch=$(calc "$best_ips / $go_ideal_ips")
ratio_torch_detected=$(calc "$t_ips / $go_ideal_ips")
# ratio_to_ideal CASE UNIT: CASE's ns/op (or cpu-ms/image) over the ideal's.
ratio_to_ideal() { calc "$(bench_metric "$fwd" "$b/$1" "$2") / $(bench_metric "$fwd" "$b/ideal" "$2")"; }
ratio_g0=$(calc "$ns_g0_float / $ns_g0")
ratio_g0_cpu=$(calc "$cpu_g0_float / $cpu_g0")
ref=$out/go_reference.txt
ns_fast=$(awk '$1 ~ /^BenchmarkReferencePathTiny\/fast_/ { for (i = 3; i <= NF; i++) if ($i == "ns/op") print $(i - 1) }' "$ref" 2>/dev/null | tail -1)
ns_ref=$(awk '$1 ~ /^BenchmarkReferencePathTiny\/reference_/ { for (i = 3; i <= NF; i++) if ($i == "ns/op") print $(i - 1) }' "$ref" 2>/dev/null | tail -1)
ratio_ref=$(calc "${ns_ref:-n/a} / ${ns_fast:-n/a}")

params=$(awk '/^parameters:/ { print $2 }' "$out/model_inspect.txt" 2>/dev/null)
gflop_img=$(awk '/^forward:/ { print $2 }' "$out/model_inspect.txt" 2>/dev/null)
rss_kb=$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$out/eval_time.txt" 2>/dev/null)
rss_mb=$(calc "${rss_kb:-n/a} * 1024 / 1e6")
budget_mb=$(calc "(2 * ${params:-n/a} * 4 + 200e6) / 1e6")
ratio_rss=$(calc "$rss_mb / $budget_mb")
eval_ips=$(awk '/^speed/ { print $2 }' "$out/eval.txt" 2>/dev/null)

sg=$(jget "$out/torch_sgemm.json" gflop_per_second)
sgt=$(jget "$out/torch_sgemm_tuned.json" gflop_per_second)
agree=$(grep -o 'go vs torch: .*' "$out/agreement.txt" 2>/dev/null || true)
agree_status=n/a
for st in PASS FAIL SKIP; do
  if grep -q "^--- $st" "$out/agreement.txt" 2>/dev/null; then agree_status=$st; break; fi
done

cpu=$(lscpu 2>/dev/null | awk -F: '/^Model name/ { sub(/^ +/, "", $2); print $2; exit }')
{
  echo "clipformer vs PyTorch performance, $(date -u '+%Y-%m-%d %H:%M UTC')$([ $quick -eq 1 ] && echo ' (--quick: counts too small, numbers meaningless)')"
  echo
  echo "machine    ${cpu:-unknown CPU}, nproc $(nproc), $(go version | sed 's/^go version //')"
  echo "           PyTorch $torch_version, $t_blas"
  echo "           load average at start $load_start$(awk -v l="$load_start" 'BEGIN { if (l + 0 > 0.3) print " (NOT IDLE: timings unreliable)" }')"
  echo "model      synthetic DeiT-S (deit-small, seed 1), ${params:-?} parameters, ${gflop_img:-?} GFLOP per 224x224 image"
  echo "           (the Go benchmark builds the same seeded model in memory; PyTorch reads the checkpoint)"
  echo
  printf '%-62s %8s %8s %8s\n' "DeiT-S forward, 224x224, $threads threads" images/s s/image GFLOP/s
  row() { printf '  %-60s %8s %8s %8s\n' "$1" "$(calc "$2 / 1")" "$(calc "1 / $2")" "$(calc "$3 / 1")"; }
  row "Go ideal float32" "$go_ideal_ips" "$go_ideal_gf"
  row "Go write noise + ClipFormer (gamma 4)" "$go_noisy_ips" "$go_noisy_gf"
  row "Go write noise + ClipFormer + read noise 0.05" "$go_read_ips" "$go_read_gf"
  row "PyTorch, batch $torch_batch, OpenBLAS as detected ($t_core)" "$t_ips" "$t_gf"
  row "PyTorch, batch $torch_batch, OpenBLAS forced ($tt_core)" "$tt_ips" "$tt_gf"
  echo
  printf '%-62s %8s %8s\n' ratios value target
  rrow() { printf '  %-60s %8s %8s  %s\n' "$1" "$2" "$3" "$4"; }
  rrow "Go ideal time / PyTorch time ($best_label)" "$ratio_torch" "<= 0.5" "$(verdict "$ratio_torch" 0.5)"
  rrow "Go ideal time / PyTorch time (as detected, $t_core)" "$ratio_torch_detected" "-" ""
  echo "  every crossbar case against the ideal time, wall (CPU): float products (integerProducts off, as evaluations"
  echo "  run today) and exact integer products; read noise as today and with the read-noise switches on"
  echo "  (bf16Variances: bfloat16 variance products; vectorNormals: vector normal draws and K/V cell writes)"
  for c in writenoise_clipformer_float writenoise_clipformer; do
    r=$(ratio_to_ideal $c ns/op) rc=$(ratio_to_ideal $c cpu-ms/image)
    rrow "$c" "$r ($rc)" "<= 1.15" "$(verdict "$r" 1.15) ($(verdict "$rc" 1.15))"
  done
  for c in writenoise_clipformer_readnoise_float writenoise_clipformer_readnoise \
    writenoise_clipformer_readnoise_float_bf16 writenoise_clipformer_readnoise_float_vec \
    writenoise_clipformer_readnoise_float_bf16_vec writenoise_clipformer_readnoise_bf16_vec; do
    r=$(ratio_to_ideal $c ns/op) rc=$(ratio_to_ideal $c cpu-ms/image)
    rrow "$c" "$r ($rc)" "<= 1.6" "$(verdict "$r" 1.6) ($(verdict "$rc" 1.6))"
  done
  rrow "gamma 0: float products time / exact integer products time" "$ratio_g0" ">= 1.6" "$(verdict_ge "$ratio_g0" 1.6)"
  rrow "gamma 0: the same in CPU time" "$ratio_g0_cpu" ">= 1.6" "$(verdict_ge "$ratio_g0_cpu" 1.6)"
  rrow "reference path time / fast path time (tiny model)" "$ratio_ref" "-" ""
  rrow "eval max RSS / (2 x float32 checkpoint + 200 MB)" "$ratio_rss" "<= 1" "$(verdict "$ratio_rss" 1)"
  echo "  (RSS ${rss_mb} MB against ${budget_mb} MB, MB = 1e6 bytes; eval of $images JPEGs at ${eval_ips:-?} images/s)"
  echo
  echo "kernels, GFLOP/s"
  awk '/^BenchmarkMatMul\// { name = $1; sub(/^BenchmarkMatMul\//, "", name); sub(/-[0-9]+$/, "", name)
    for (i = 3; i <= NF; i++) if ($i == "GFLOP/s") printf "  %-60s %8s\n", "Go MatMul " name, $(i - 1) }' "$out/go_matmul.txt" 2>/dev/null || true
  printf '  %-60s %8s\n' "OpenBLAS sgemm 2048^3, $threads threads, as detected ($t_core)" "$(calc "$sg / 1")"
  printf '  %-60s %8s\n' "OpenBLAS sgemm 2048^3, $threads threads, forced ($tt_core)" "$(calc "$sgt / 1")"
  echo
  echo "agreement  ${agree_status:-n/a}: ${agree:-no result} (PyTorch vs Go ideal, same checkpoint and input)"
  echo
  echo "steps      $(IFS=,; echo "${durations[*]}" | sed 's/,/, /g')"
  echo "total      $((SECONDS - start)) s"
  [ ${#failed[@]} -eq 0 ] || echo "FAILED     ${failed[*]}"
} | tee "$out/summary.txt"
[ ${#failed[@]} -eq 0 ]
