#!/usr/bin/env bash
# Builds the benchmark's load generator offline from Debian's grpc-go, in GOPATH mode (no module
# proxy), as examples/go/build.sh does; it needs no generated code (the codec passes bytes through):
#   apt-get install -y golang-go golang-google-grpc-dev
# usage: bench/loadgen/build.sh OUT_BINARY WORK_DIR [GOCACHE_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$1"
work="$2"
cache="${3:-$work/.cache}"
mkdir -p "$work/src/example.com/loadgen"
cp "$here/main.go" "$work/src/example.com/loadgen/"
cd "$work"
GOPATH="$work:/usr/share/gocode" GO111MODULE=off GOCACHE="$cache" GOPROXY=off \
  go build -o "$out" example.com/loadgen
