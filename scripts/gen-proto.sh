#!/usr/bin/env bash
# Regenerates the Go code of proto/*.proto into proto/cfpb. With --check it
# regenerates into a temporary folder and fails when the committed code is
# stale. Installs protoc (Debian's protobuf-compiler) and the pinned Go
# plugins when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PROTOC_GEN_GO=v1.36.12
PROTOC_GEN_GO_GRPC=v1.6.2

check=0
[ "${1:-}" = "--check" ] && check=1

# protoc through install-deps.sh, which waits for apt's locks.
command -v protoc >/dev/null || scripts/install-deps.sh --protoc
bin=$(go env GOPATH)/bin
want_version() { # want_version BINARY VERSION: is BINARY built from that module version?
  [ -x "$bin/$1" ] && go version -m "$bin/$1" 2>/dev/null | awk '$1 == "mod" { print $3 }' | grep -qx "$2"
}
want_version protoc-gen-go $PROTOC_GEN_GO || go install google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO
want_version protoc-gen-go-grpc $PROTOC_GEN_GO_GRPC || go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC

out=proto/cfpb
if [ $check -eq 1 ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"
PATH="$bin:$PATH" protoc -I proto \
  --go_out="$out" --go_opt=paths=source_relative \
  --go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
  proto/*.proto
if [ $check -eq 1 ]; then
  if ! diff -r -x doc.go "$out" proto/cfpb >/dev/null; then
    echo "gen-proto: proto/cfpb is stale; run scripts/gen-proto.sh and commit the result" >&2
    diff -r -x doc.go "$out" proto/cfpb | head -20 >&2
    exit 1
  fi
  echo "gen-proto: proto/cfpb is up to date"
fi
