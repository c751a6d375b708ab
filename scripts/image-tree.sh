#!/usr/bin/env bash
# The production image without a container engine: runs the Dockerfile's build, prod-deps and
# production stage commands in a scratch directory, then checks the runtime tree it produced
# (scripts/check-runtime-tree.mjs): no emulator code, no node-forge, no dev dependency, no test
# files, no demo secrets, and `dev` refuses with a pointer to the dev image.
#   scripts/image-tree.sh [OUT_DIR]     (OUT_DIR: where the runtime tree is left; default a temp dir, removed)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
out=${1:-}
trap 'rm -rf "$work"; [ -z "${1:-}" ] && rm -rf "${runtime:-}"' EXIT

# --- FROM … AS build
build="$work/build"
mkdir -p "$build/packages/kms-emulator"
cp package.json package-lock.json "$build/"
cp packages/kms-emulator/package.json "$build/packages/kms-emulator/package.json"
(cd "$build" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
cp tsconfig.json tsconfig.build.json "$build/"
cp -r src proto "$build/"
(cd "$build" && npm run --silent build)

# --- FROM build AS prod-deps
(cd "$build" && npm prune --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)

# --- FROM node AS production
runtime=${out:-$work/runtime}
rm -rf "$runtime" && mkdir -p "$runtime"
cp -r "$build/node_modules" "$build/dist" "$runtime/"
cp package.json "$runtime/"
cp -r bin proto "$runtime/"

node "$root/scripts/check-runtime-tree.mjs" "$runtime"
