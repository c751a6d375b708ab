#!/usr/bin/env bash
# Builds the Go example client offline from Debian's packages, in GOPATH mode (no module proxy):
#   apt-get install -y golang-go golang-google-grpc-dev golang-google-protobuf-dev \
#     golang-github-golang-protobuf-1-5-dev protoc-gen-go protoc-gen-go-grpc protobuf-compiler
# (golang-protobuf 1.5, not 1.3: grpc-go 1.33's codec cannot decode protoc-gen-go messages with 1.3)
# usage: examples/go/build.sh OUT_BINARY [WORK_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$1"
work="${2:-$(mktemp -d)}"
pkg="$work/src/github.com/secrets-gateway/secrets-gateway/gen/go"
mkdir -p "$pkg" "$work/src/example.com/client"
protoc -I "$root/proto" -I /usr/include \
  --go_out="$pkg" --go_opt=paths=source_relative \
  --go-grpc_out="$pkg" --go-grpc_opt=paths=source_relative \
  "$root/proto/secretsgateway/v1/secrets_gateway.proto"
cp "$root/examples/go/client/main.go" "$work/src/example.com/client/"
cd "$work"
GOPATH="$work:/usr/share/gocode" GO111MODULE=off GOCACHE="$work/.cache" GOPROXY=off \
  go build -o "$out" example.com/client
